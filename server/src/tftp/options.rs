//! Option negotiation (RFC 2347) for both directions: which of the client's options the
//! server grants, in the client's order, and the values the transfer then uses. Unknown
//! options and out-of-range values are left out of the OACK, as RFC 2347 allows.

use std::time::Duration;

use super::config::Limits;

/// What the transfer runs with, and the options to acknowledge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub blksize: usize,
    pub windowsize: u64,
    pub timeout: Duration,
    /// RFC 2349 tsize: on a write, the size the client announced.
    pub announced: Option<u64>,
    pub granted: Vec<(String, String)>,
}

/// How tsize is answered: a read gives the file's size (when known), a write echoes the
/// client's.
#[derive(Debug, Clone, Copy)]
pub enum Tsize {
    Read(Option<u64>),
    Write,
}

pub fn negotiate(options: &[(String, String)], limits: &Limits, tsize: Tsize) -> Negotiated {
    let mut n = Negotiated {
        blksize: 512,
        windowsize: 1,
        timeout: limits.timeout,
        announced: None,
        granted: Vec::new(),
    };
    for (name, value) in options {
        if limits.refused.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            continue;
        }
        let grant = match name.to_ascii_lowercase().as_str() {
            // RFC 2348: 8..65464, capped by the server's --blocksize.
            "blksize" => value.parse::<u32>().ok().filter(|v| *v >= 8).map(|v| {
                let v = v.min(u32::from(limits.max_blksize)).min(65464);
                n.blksize = v as usize;
                v.to_string()
            }),
            // RFC 2349: 1..255 seconds.
            "timeout" => value
                .parse::<u64>()
                .ok()
                .filter(|v| (1..=255).contains(v))
                .map(|v| {
                    n.timeout = Duration::from_secs(v);
                    v.to_string()
                }),
            "tsize" => match tsize {
                Tsize::Read(size) => size.map(|s| s.to_string()),
                Tsize::Write => value.parse::<u64>().ok().map(|v| {
                    n.announced = Some(v);
                    v.to_string()
                }),
            },
            // RFC 7440: 1..65535, capped by the server's maximum.
            "windowsize" => value.parse::<u32>().ok().filter(|v| *v >= 1).map(|v| {
                let v = v.min(u32::from(limits.max_windowsize)).min(65535);
                n.windowsize = u64::from(v);
                v.to_string()
            }),
            _ => None,
        };
        if let Some(v) = grant {
            n.granted.push((name.clone(), v));
        }
    }
    n
}
