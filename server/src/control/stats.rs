//! Statistics under Kea's names, kept as Kea's StatsMgr keeps them (src/lib/stats): each
//! observation a list of samples, newest first, at most `statistic-default-sample-count`
//! (20) of them, each a value and the time it was taken; `statistic-get` answers
//! `{"name": [[value, "YYYY-MM-DD HH:MM:SS.ffffff"], ...]}`. Timestamps are UTC (Kea writes
//! the server's local time; on servers that is usually UTC too).

use std::collections::{HashMap, VecDeque};
use std::time::SystemTime;

use serde_json::{json, Map, Value};

/// Kea's statistic-default-sample-count.
pub const SAMPLES: usize = 20;

#[derive(Debug, Clone)]
struct Observation {
    /// Newest first.
    samples: VecDeque<(i64, SystemTime)>,
}

impl Observation {
    fn latest(&self) -> i64 {
        self.samples.front().map_or(0, |s| s.0)
    }

    fn push(&mut self, value: i64, at: SystemTime) {
        if self.samples.len() == SAMPLES {
            self.samples.pop_back();
        }
        self.samples.push_front((value, at));
    }

    fn to_json(&self) -> Value {
        Value::Array(
            self.samples
                .iter()
                .map(|(v, t)| json!([v, timestamp(*t)]))
                .collect(),
        )
    }
}

/// Looked up by name several times per DHCP query, so hashed (foldhash: the names are the
/// server's own and the configuration's, never a client's) rather than a tree of string
/// compares; listings sort by name, as Kea's are.
#[derive(Debug, Default, Clone)]
pub struct Statistics {
    observations: HashMap<Box<str>, Observation, foldhash::fast::RandomState>,
    /// The time every sample taken inside [`Statistics::at_once`] carries.
    now: Option<SystemTime>,
}

impl Statistics {
    /// Runs `update` with one reading of the clock for all its samples: the updates one
    /// query makes (received, its type, the leases it changed) happen at one moment, and
    /// the clock read per sample was a visible share of a query's cost.
    pub fn at_once<R>(&mut self, update: impl FnOnce(&mut Self) -> R) -> R {
        self.now = Some(SystemTime::now());
        let r = update(self);
        self.now = None;
        r
    }

    fn now(&self) -> SystemTime {
        self.now.unwrap_or_else(SystemTime::now)
    }

    /// Sets a statistic (StatsMgr::setValue): a new sample, the observation created if new.
    pub fn set(&mut self, name: &str, value: i64) {
        let at = self.now();
        match self.observations.get_mut(name) {
            Some(o) => o.push(value, at),
            None => {
                let mut o = Observation {
                    samples: VecDeque::new(),
                };
                o.push(value, at);
                self.observations.insert(name.into(), o);
            }
        }
    }

    /// Adds to a statistic (StatsMgr::addValue): a new sample of the sum.
    pub fn add(&mut self, name: &str, delta: i64) {
        // One lookup for a statistic that exists: this runs several times per query.
        let at = self.now();
        match self.observations.get_mut(name) {
            Some(o) => o.push(o.latest() + delta, at),
            None => self.set(name, delta),
        }
    }

    pub fn value(&self, name: &str) -> Option<i64> {
        self.observations.get(name).map(Observation::latest)
    }

    /// `{"name": samples}`, or `{}` for a statistic that does not exist (as Kea answers).
    pub fn get(&self, name: &str) -> Value {
        let mut map = Map::new();
        if let Some(o) = self.observations.get(name) {
            map.insert(name.to_string(), o.to_json());
        }
        Value::Object(map)
    }

    pub fn get_all(&self) -> Value {
        Value::Object(
            self.by_name()
                .map(|(name, o)| (name.to_string(), o.to_json()))
                .collect(),
        )
    }

    /// Every observation in name order.
    fn by_name(&self) -> impl Iterator<Item = (&str, &Observation)> {
        let mut all: Vec<(&str, &Observation)> =
            self.observations.iter().map(|(n, o)| (&**n, o)).collect();
        all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        all.into_iter()
    }

    /// Back to the neutral value, history dropped (Observation::reset). False when unknown.
    pub fn reset(&mut self, name: &str) -> bool {
        let Some(o) = self.observations.get_mut(name) else {
            return false;
        };
        o.samples.clear();
        o.push(0, SystemTime::now());
        true
    }

    pub fn reset_all(&mut self) {
        let at = SystemTime::now();
        for o in self.observations.values_mut() {
            o.samples.clear();
            o.push(0, at);
        }
    }

    pub fn remove(&mut self, name: &str) -> bool {
        self.observations.remove(name).is_some()
    }

    /// Keeps the statistics whose name passes `keep`.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.observations.retain(|name, _| keep(name));
    }

    pub fn remove_all(&mut self) {
        self.observations.clear();
    }

    /// Every statistic's latest value, for the Prometheus endpoint.
    pub fn latest(&self) -> impl Iterator<Item = (&str, i64)> {
        self.by_name().map(|(name, o)| (name, o.latest()))
    }
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` in UTC (boost's to_simple_string layout, as Kea prints).
pub fn timestamp(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, us) = crate::log::pattern::broken_down(t, false);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps_are_written_as_kea_writes_them() {
        let t = UNIX_EPOCH + Duration::from_micros(1_796_017_321_208_352);
        assert_eq!(timestamp(t), "2026-11-30 05:42:01.208352");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01 00:00:00.000000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&timestamp(leap)[..10], "2000-02-29");
    }

    #[test]
    fn samples_are_kept_newest_first_up_to_twenty() {
        let mut s = Statistics::default();
        for _ in 0..25 {
            s.add("pkt4-received", 1);
        }
        let v = s.get("pkt4-received");
        let samples = v["pkt4-received"].as_array().expect("samples");
        assert_eq!(samples.len(), SAMPLES);
        assert_eq!(samples[0][0], 25);
        assert_eq!(samples[19][0], 6);
        assert!(s.reset("pkt4-received"));
        assert_eq!(s.get("pkt4-received")["pkt4-received"][0][0], 0);
        assert_eq!(s.get("nope"), json!({}));
    }
}
