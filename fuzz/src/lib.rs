//! Fuzz targets for every parser of untrusted input, each a function from bytes that must
//! not panic, hang or allocate without bound, whatever the bytes. `fuzz-afl` runs one under
//! AFL++ (`ci/fuzz.sh TARGET SECONDS`); `tests/replay.rs` runs every seed and every saved
//! crash through all of them under plain `cargo test`, so a crash AFL once found stays a
//! regression test without AFL.

pub mod seeds;
mod targets;

pub use targets::*;

/// A fuzz target: its name (the directory of its seeds and regressions) and its function.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every target, in the order `ci/fuzz.sh all` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "dhcp_engine",
        run: dhcp_engine,
    },
    Target {
        name: "tftp_engine",
        run: tftp_engine,
    },
    Target {
        name: "kea_config",
        run: kea_config,
    },
    Target {
        name: "kea_expr",
        run: kea_expr,
    },
    Target {
        name: "tftpd_defaults",
        run: tftpd_defaults,
    },
    Target {
        name: "tftp_remap",
        run: tftp_remap,
    },
    Target {
        name: "ipxe_script",
        run: ipxe_script,
    },
    Target {
        name: "refind_conf",
        run: refind_conf,
    },
    Target {
        name: "capture",
        run: capture,
    },
    Target {
        name: "lease_csv",
        run: lease_csv,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Separates the datagrams of one input for the stateful targets (DHCP, TFTP, iPXE's
/// network): a sequence lets AFL reach a REQUEST after its DISCOVER, a DATA after its WRQ.
pub const SEPARATOR: &[u8] = b"\n--next--\n";

/// The records of `data`, split on [`SEPARATOR`] (at most `max`, so that no input makes an
/// execution long).
pub fn records(data: &[u8], max: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while out.len() < max {
        match find(rest, SEPARATOR) {
            Some(at) => {
                out.push(&rest[..at]);
                rest = &rest[at + SEPARATOR.len()..];
            }
            None => {
                out.push(rest);
                break;
            }
        }
    }
    out
}

/// Joins records with [`SEPARATOR`] (how the seeds are written).
pub fn join(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(SEPARATOR);
        }
        out.extend_from_slice(r);
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
