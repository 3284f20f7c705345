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

/// A moment: the time elapsed since the clock's origin. Its arithmetic is marked
/// `#[inline]`: a storm does it a few times per frame from another crate (bootsim), where
/// without link-time optimisation it would be a call each time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(Duration);

impl Instant {
    /// The origin.
    pub const ZERO: Instant = Instant(Duration::ZERO);

    pub const fn from_duration(since_origin: Duration) -> Instant {
        Instant(since_origin)
    }

    pub const fn from_secs(secs: u64) -> Instant {
        Instant(Duration::from_secs(secs))
    }

    pub const fn from_millis(millis: u64) -> Instant {
        Instant(Duration::from_millis(millis))
    }

    /// Time since the origin.
    #[inline]
    pub const fn since_origin(self) -> Duration {
        self.0
    }

    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        self.0.as_secs_f64()
    }

    pub fn as_millis(self) -> u128 {
        self.0.as_millis()
    }

    /// Time from `earlier` to `self`, zero when `earlier` is later.
    #[inline]
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    pub fn checked_sub(self, d: Duration) -> Option<Instant> {
        self.0.checked_sub(d).map(Instant)
    }
}

impl From<Duration> for Instant {
    fn from(since_origin: Duration) -> Instant {
        Instant(since_origin)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    #[inline]
    fn add(self, d: Duration) -> Instant {
        Instant(self.0 + d)
    }
}

impl AddAssign<Duration> for Instant {
    #[inline]
    fn add_assign(&mut self, d: Duration) {
        self.0 += d;
    }
}

/// Earlier by `d`, stopping at the origin.
impl Sub<Duration> for Instant {
    type Output = Instant;
    #[inline]
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(d))
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
        self.0.serialize(s)
    }
}

/// Seconds with two decimals, as transcripts print them.
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}s", self.0.as_secs_f64())
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
        (self.0 + at.0).as_secs()
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
            origin: now.checked_sub(at.0).unwrap_or(now),
        }
    }

    pub fn now(&self) -> Instant {
        Instant(self.origin.elapsed())
    }

    /// The moment of an OS instant taken elsewhere (a line stamped by a reader thread); the
    /// origin for one taken before it.
    pub fn instant_of(&self, at: std::time::Instant) -> Instant {
        Instant(at.saturating_duration_since(self.origin))
    }

    /// The OS instant of `at`, for timers (`tokio::time::sleep_until`).
    pub fn to_std(&self, at: Instant) -> std::time::Instant {
        self.origin + at.0
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
