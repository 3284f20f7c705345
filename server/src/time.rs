//! netbootd's one notion of time: an [`Instant`] is a monotonic duration since an origin, as
//! smoltcp's `time::Instant` is. Every engine (DHCP, TFTP) and every firmware model takes it,
//! so the same code runs on a simulation's virtual clock (the origin is the simulation's start
//! and time jumps to the next event) and on the OS clock ([`Clock`], for sockets, QEMU and
//! real interfaces).
//!
//! Wall-clock time appears in one place only: Kea's lease file records seconds since the Unix
//! epoch (`cltt`, `expire`), so the DHCP engine holds an [`Epoch`], the Unix time at the
//! origin, to write them.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A moment: the time elapsed since the clock's origin, in nanoseconds (a `u64` holds 584
/// years). One integer, not a `Duration` (seconds and nanoseconds, which every addition
/// carries from one to the other and every comparison compares twice): a storm adds and
/// compares instants several times per frame, twelve million frames a run. Arithmetic
/// saturates instead of overflowing. Marked `#[inline]`: bootsim calls it from another crate.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

/// `d` in nanoseconds, or `u64::MAX` (584 years) when it is longer.
#[inline]
const fn nanos(d: Duration) -> u64 {
    match d.as_secs().checked_mul(1_000_000_000) {
        Some(n) => n.saturating_add(d.subsec_nanos() as u64),
        None => u64::MAX,
    }
}

impl Instant {
    /// The origin.
    pub const ZERO: Instant = Instant(0);

    /// `since_origin` after the origin (at most 584 years: longer saturates).
    #[inline]
    pub const fn from_duration(since_origin: Duration) -> Instant {
        Instant(nanos(since_origin))
    }

    pub const fn from_secs(secs: u64) -> Instant {
        Instant::from_duration(Duration::from_secs(secs))
    }

    pub const fn from_millis(millis: u64) -> Instant {
        Instant::from_duration(Duration::from_millis(millis))
    }

    /// `ns` nanoseconds after the origin.
    #[inline]
    pub const fn from_nanos(ns: u64) -> Instant {
        Instant(ns)
    }

    /// Nanoseconds since the origin.
    #[inline]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time since the origin.
    #[inline]
    pub const fn since_origin(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        self.since_origin().as_secs_f64()
    }

    pub fn as_millis(self) -> u128 {
        u128::from(self.0 / 1_000_000)
    }

    /// Time from `earlier` to `self`, zero when `earlier` is later.
    #[inline]
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    pub fn checked_sub(self, d: Duration) -> Option<Instant> {
        self.0.checked_sub(nanos(d)).map(Instant)
    }
}

/// As a `Duration` since the origin prints, so transcripts and debug output read as before.
impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Instant")
            .field(&self.since_origin())
            .finish()
    }
}

impl From<Duration> for Instant {
    fn from(since_origin: Duration) -> Instant {
        Instant::from_duration(since_origin)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    #[inline]
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(nanos(d)))
    }
}

impl AddAssign<Duration> for Instant {
    #[inline]
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

/// Earlier by `d`, stopping at the origin.
impl Sub<Duration> for Instant {
    type Output = Instant;
    #[inline]
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(nanos(d)))
    }
}

/// The time between two moments, zero when the right one is later.
impl Sub<Instant> for Instant {
    type Output = Duration;
    #[inline]
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

/// Serialised as the `Duration` since the origin (`{"secs", "nanos"}`), the form the
/// models' records had when they held a `Duration`.
impl serde::Serialize for Instant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.since_origin().serialize(s)
    }
}

/// Seconds with two decimals, as transcripts print them.
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}s", self.as_secs_f64())
    }
}

/// The Unix time at a clock's origin: turns an [`Instant`] into the seconds since 1970 that
/// Kea's lease file records (src/lib/dhcpsrv/csv_lease_file4.cc writes `cltt + valid_lft`
/// as `expire`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Epoch(Duration);

impl Epoch {
    /// Unix time 0 at the origin: lease times are the instants themselves (tests).
    pub const UNIX: Epoch = Epoch(Duration::ZERO);

    pub const fn from_unix_secs(secs: u64) -> Epoch {
        Epoch(Duration::from_secs(secs))
    }

    /// Whole seconds since the Unix epoch at `at`.
    pub fn unix_secs(self, at: Instant) -> u64 {
        (self.0 + at.since_origin()).as_secs()
    }
}

/// The OS's monotonic clock as a source of [`Instant`]s, for shells that run in real time.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: std::time::Instant,
}

impl Clock {
    /// A clock whose origin is now.
    pub fn start() -> Clock {
        Clock {
            origin: std::time::Instant::now(),
        }
    }

    /// A clock that reads `at` now: a real-time driver taking over a virtual clock where it
    /// stands (a segment that ran in virtual time before a VM joined it).
    pub fn resume_at(at: Instant) -> Clock {
        let now = std::time::Instant::now();
        Clock {
            origin: now.checked_sub(at.since_origin()).unwrap_or(now),
        }
    }

    pub fn now(&self) -> Instant {
        Instant::from_duration(self.origin.elapsed())
    }

    /// The moment of an OS instant taken elsewhere (a line stamped by a reader thread); the
    /// origin for one taken before it.
    pub fn instant_of(&self, at: std::time::Instant) -> Instant {
        Instant::from_duration(at.saturating_duration_since(self.origin))
    }

    /// The OS instant of `at`, for timers (`tokio::time::sleep_until`).
    pub fn to_std(&self, at: Instant) -> std::time::Instant {
        self.origin + at.since_origin()
    }

    /// The Unix time at this clock's origin, read from the wall clock now. Shells read it
    /// again from time to time so that a corrected wall clock (NTP) reaches the lease file.
    pub fn epoch(&self) -> Epoch {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Epoch(wall.saturating_sub(self.origin.elapsed()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_at_the_origin_instead_of_panicking() {
        let t = Instant::from_secs(3);
        assert_eq!(t + Duration::from_secs(2), Instant::from_secs(5));
        assert_eq!(t - Duration::from_secs(5), Instant::ZERO);
        assert_eq!(Instant::from_secs(1) - t, Duration::ZERO);
        assert_eq!(t - Instant::from_secs(1), Duration::from_secs(2));
        assert_eq!(t.to_string(), "3.00s");
        assert_eq!(format!("{t:?}"), "Instant(3s)");
        // A deadline of "never" (584 years and more) saturates instead of wrapping.
        let never = Instant::from_duration(Duration::MAX);
        assert_eq!(never, t + Duration::MAX);
        assert!(never > t + Duration::from_secs(1 << 33));
        assert_eq!(never.checked_sub(Duration::MAX), Some(Instant::ZERO));
        assert_eq!(t.checked_sub(Duration::from_nanos(3_000_000_001)), None);
        assert_eq!(
            Instant::from_nanos(1_500).since_origin(),
            Duration::from_nanos(1_500)
        );
    }

    #[test]
    fn epoch_turns_instants_into_lease_file_seconds() {
        let epoch = Epoch::from_unix_secs(1_700_000_000);
        assert_eq!(epoch.unix_secs(Instant::from_millis(2_500)), 1_700_000_002);
        assert_eq!(Epoch::UNIX.unix_secs(Instant::from_secs(1000)), 1000);
    }

    #[test]
    fn the_os_clock_epoch_is_close_to_the_wall_clock() {
        let clock = Clock::start();
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let at = clock.epoch().unix_secs(clock.now());
        assert!(at.abs_diff(wall) <= 1, "{at} vs {wall}");
    }
}
