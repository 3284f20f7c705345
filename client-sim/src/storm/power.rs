//! When each machine of a storm powers on, and the machine as a station that is dark until
//! then: it sends nothing and hears nothing before its firmware has finished POST.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::chain::{ChainClient, Client};
use crate::net::lan::Station;
use crate::net::link::{parse_duration, LinkError};
use netbootd::time::Instant;
use netbootd::wire::frame::Datagram;
use netbootd::wire::MacAddr;

/// How the machines' power comes back.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PowerOn {
    /// Every machine at the same instant (a breaker closing on a rack).
    AllAtOnce,
    /// Spread evenly at random over this window (staggered PDUs, people pressing buttons).
    Uniform(Duration),
}

impl std::str::FromStr for PowerOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "all-at-once" {
            return Ok(PowerOn::AllAtOnce);
        }
        match s.strip_prefix("uniform:").map(parse_duration) {
            Some(Ok(d)) => Ok(PowerOn::Uniform(d)),
            Some(Err(e)) => Err(e.to_string()),
            None => Err(format!(
                "{s:?}: not a power-on pattern (all-at-once, uniform:30s)"
            )),
        }
    }
}

/// POST: how long firmware takes from power to its first DHCPDISCOVER, drawn uniformly
/// between two bounds. A parameter: OVMF under QEMU takes about 3.5 s (OBSERVED,
/// /work/shared/research/qemu.md); physical servers take tens of seconds to minutes
/// (memory training, option ROMs), depending on the vendor.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Post {
    pub min: Duration,
    pub max: Duration,
}

impl Default for Post {
    fn default() -> Self {
        let d = Duration::from_millis(3500);
        Post { min: d, max: d }
    }
}

impl std::str::FromStr for Post {
    type Err = LinkError;
    /// `3.5s` or `20s..60s`.
    fn from_str(s: &str) -> Result<Self, LinkError> {
        let (a, b) = s.split_once("..").unwrap_or((s, s));
        let (min, max) = (parse_duration(a)?, parse_duration(b)?);
        if max < min {
            return Err(LinkError::Duration(s.into()));
        }
        Ok(Post { min, max })
    }
}

/// When each of `n` machines powers on and when its firmware starts the network, seeded, on a
/// clock whose origin is the power cut.
pub fn schedule(n: usize, power_on: PowerOn, post: Post, seed: u64) -> Vec<(Instant, Instant)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut draw = |lo: Duration, hi: Duration| {
        if hi > lo {
            lo + Duration::from_nanos(rng.gen_range(0..(hi - lo).as_nanos() as u64))
        } else {
            lo
        }
    };
    (0..n)
        .map(|_| {
            let on = match power_on {
                PowerOn::AllAtOnce => Duration::ZERO,
                PowerOn::Uniform(window) => draw(Duration::ZERO, window),
            };
            let on = Instant::ZERO + on;
            (on, on + draw(post.min, post.max))
        })
        .collect()
}

/// Starts `client`'s chain at `now` with its own Dhcp4Dxe tick phase, drawn from its seed
/// (each machine's driver started its 1-second tick at its own moment, so machines powered
/// on together do not retransmit in lock-step: [`crate::chain::TICK_PHASE`]).
fn power_on(client: Client, now: Instant) -> ChainClient {
    let phase = tick_phase(client.seed);
    ChainClient::with_tick_phase(client, now, phase)
}

/// The Dhcp4Dxe tick phase (under 1 s) of the machine with this seed.
pub fn tick_phase(seed: u32) -> Duration {
    // SplitMix64's finaliser: neighbouring seeds give unrelated phases.
    let mut z = u64::from(seed).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    Duration::from_micros(z % 1_000_000)
}

/// A machine that starts its chain at `start` (power-on plus POST). A running chain is held
/// inline, not boxed: a storm's machines then lie in one vector, and an event for one of
/// ten thousand costs one trip to memory fewer.
#[allow(clippy::large_enum_variant)]
pub enum Machine {
    Dark {
        start: Instant,
        client: Option<Box<Client>>,
    },
    On(ChainClient),
}

impl Machine {
    pub fn new(client: Client, start: Instant) -> Machine {
        if start == Instant::ZERO {
            return Machine::On(power_on(client, start));
        }
        Machine::Dark {
            start,
            client: Some(Box::new(client)),
        }
    }

    /// The running chain; a machine still dark at the end starts (and has done nothing).
    pub fn into_chain(self) -> ChainClient {
        match self {
            Machine::On(c) => c,
            Machine::Dark { start, client } => {
                power_on(*client.expect("a dark machine has its client"), start)
            }
        }
    }
}

impl Station for Machine {
    fn poll_transmit(&mut self) -> Option<Datagram> {
        match self {
            Machine::On(c) => c.poll_transmit(),
            Machine::Dark { .. } => None,
        }
    }
    fn handle(&mut self, now: Instant, datagram: &Datagram) {
        if let Machine::On(c) = self {
            c.handle(now, datagram);
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Machine::On(c) => c.handle_timeout(now),
            Machine::Dark { start, client } if now >= *start => {
                if let Some(client) = client.take() {
                    *self = Machine::On(power_on(*client, now));
                }
            }
            Machine::Dark { .. } => {}
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Machine::On(c) => c.poll_timeout(),
            Machine::Dark { start, .. } => Some(*start),
        }
    }
    fn finished(&self) -> bool {
        match self {
            Machine::On(c) => c.finished(),
            Machine::Dark { .. } => false,
        }
    }
    fn mac(&self) -> Option<MacAddr> {
        match self {
            Machine::On(c) => c.mac(),
            Machine::Dark { client, .. } => client.as_ref().map(|c| c.mac),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_and_the_schedule_is_seeded_and_in_the_window() {
        assert_eq!("all-at-once".parse(), Ok(PowerOn::AllAtOnce));
        assert_eq!(
            "uniform:30s".parse(),
            Ok(PowerOn::Uniform(Duration::from_secs(30)))
        );
        assert!("sometimes".parse::<PowerOn>().is_err());
        let post: Post = "20s..60s".parse().unwrap();
        let a = schedule(100, PowerOn::Uniform(Duration::from_secs(30)), post, 7);
        assert_eq!(
            a,
            schedule(100, PowerOn::Uniform(Duration::from_secs(30)), post, 7)
        );
        assert!(a.iter().all(|(on, start)| *on < Instant::from_secs(30)
            && *start >= *on + post.min
            && *start < *on + post.max));
    }
}
