//! What the TFTP server is told by its operator: the root, the address, tftpd-hpa's flags
//! (--secure, --blocksize, --port-range, --map-file, --create) and the limits on what
//! clients may ask for. Read by the engine; built by the CLI from flags or from tftpd-hpa's
//! /etc/default file ([`super::defaults`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::remap::RemapRules;

/// Where uploads go, when writes are enabled at all.
#[derive(Clone, Debug)]
pub struct Upload {
    /// Canonical directory; uploaded names resolve inside it.
    pub dir: PathBuf,
    /// Largest upload accepted, in bytes.
    pub max_bytes: u64,
}

#[derive(Clone, Debug)]
pub struct TftpConfig {
    /// The served directory, canonical.
    pub root: PathBuf,
    pub listen: SocketAddr,
    pub secure: bool,
    pub limits: Limits,
    /// Ports for transfer sockets (tftpd-hpa's --port-range); None: any ephemeral port.
    pub port_range: Option<(u16, u16)>,
    /// Concurrent transfers allowed per client address.
    pub per_client: usize,
    /// Concurrent transfers allowed in all: a flood of requests that never acknowledge
    /// cannot take every socket and every buffer.
    pub max_transfers: usize,
    /// tftpd-hpa's --map-file rules, applied to every requested name first.
    pub remap: Option<Arc<RemapRules>>,
    /// None: read-only (the default).
    pub upload: Option<Upload>,
}

/// The default for [`TftpConfig::max_transfers`].
pub const MAX_TRANSFERS: usize = 4096;

/// Limits the server applies to what clients ask for.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest blksize granted (tftpd-hpa's --blocksize); RFC 2348 allows 8..65464.
    pub max_blksize: u16,
    pub max_windowsize: u16,
    /// Retransmission timeout when the client does not ask for one (tftpd-hpa: 1 s).
    pub timeout: Duration,
    /// Retransmissions before giving up.
    pub retries: u32,
    /// Options never granted, lowercase (tftpd-hpa's --refuse): a client asking for them
    /// gets no OACK entry and the RFC 1350 default.
    pub refused: Vec<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_blksize: 65464,
            max_windowsize: 64,
            timeout: Duration::from_secs(1),
            retries: 6,
            refused: Vec::new(),
        }
    }
}
