//! netbootd built for an in-process segment from the operator's own files: a Kea config
//! checked exactly as `netbootd check` checks it (a broken one is bad input, exit 2) and a
//! TFTP root served with tftpd-hpa's rules.
//!
//! The simulated Node 0 has every interface the config names (the real machine's interfaces
//! do not matter here); its address is the first host of the first subnet unless given.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use netbootd::dhcp::engine::Engine;
use netbootd::dhcp::lease::LeaseTable;
use netbootd::dhcp::link::Link;
use netbootd::kea::check::check_file;
use netbootd::kea::system::System;
use netbootd::kea::KeaVersion;
use netbootd::tftp::config::{Limits, TftpConfig, MAX_TRANSFERS};
use netbootd::tftp::engine::TftpEngine;
use netbootd::tftp::files::Cached;
use netbootd::time::Epoch;
use netbootd::wire::MacAddr;

use super::lan::Server;

/// The Unix time simulations start at (14 November 2023), so lease files and transcripts
/// are the same from run to run.
pub const SIMULATION_EPOCH: Epoch = Epoch::from_unix_secs(1_700_000_000);

/// The MAC of the simulated server's NIC (locally administered).
pub const SERVER_MAC: MacAddr = MacAddr([0x02, 0x00, 0x5e, 0x00, 0x00, 0x01]);

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Unreadable(String),
    /// The config as Kea would reject it, with Kea's own lines.
    #[error("{path}: Kea would refuse this configuration:\n{lines}")]
    Invalid { path: String, lines: String },
    #[error("{0}: no subnet4 to put the server on; give --server-addr")]
    NoSubnet(String),
    #[error("TFTP root {path}: {message}")]
    TftpRoot { path: String, message: String },
}

/// A machine that has whatever interfaces and hook libraries the config names: the hooks are
/// never loaded here, and the machine running the simulation is not the one Kea runs on, so
/// a library missing from it says nothing about the config.
struct SimulatedNode;

impl System for SimulatedNode {
    fn interface_exists(&self, name: &str) -> bool {
        !name.is_empty()
    }
    fn file_exists(&self, _path: &Path) -> bool {
        true
    }
}

/// What the server is built from.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    pub config: PathBuf,
    pub kea_version: KeaVersion,
    pub tftp_root: Option<PathBuf>,
    pub server_addr: Option<Ipv4Addr>,
    /// The Unix time at virtual time zero (leases are stamped with it).
    pub epoch: Epoch,
}

pub fn build(spec: &ServerSpec) -> Result<Server, SetupError> {
    let shown = spec.config.display().to_string();
    let outcome = check_file(&spec.config, spec.kea_version, &SimulatedNode)
        .map_err(|e| SetupError::Unreadable(e.to_string()))?;
    let Some(config) = outcome.config.filter(|_| outcome.error.is_none()) else {
        let lines = outcome
            .error
            .iter()
            .map(netbootd::kea::diag::kea_line)
            .collect::<Vec<_>>()
            .join("\n");
        return Err(SetupError::Invalid { path: shown, lines });
    };
    let addr = match spec.server_addr {
        Some(a) => a,
        None => {
            let subnet = config
                .subnets
                .first()
                .ok_or_else(|| SetupError::NoSubnet(shown.clone()))?;
            let network = u32::from(subnet.prefix.network());
            Ipv4Addr::from(network + 1)
        }
    };
    let iface = config
        .interfaces
        .names
        .first()
        .map(|n| n.split('/').next().unwrap_or(n).to_string())
        .unwrap_or_else(|| "eth0".into());
    let engine = Engine::new(std::sync::Arc::new(config), LeaseTable::new(), spec.epoch)
        .map_err(|e| SetupError::Unreadable(e.to_string()))?;
    let tftp = match &spec.tftp_root {
        Some(root) => {
            let canonical = root.canonicalize().map_err(|e| SetupError::TftpRoot {
                path: root.display().to_string(),
                message: e.to_string(),
            })?;
            let config = TftpConfig {
                root: canonical,
                listen: SocketAddr::new(addr.into(), 69),
                secure: true,
                limits: Limits::default(),
                port_range: None,
                per_client: 64,
                max_transfers: MAX_TRANSFERS,
                remap: None,
                upload: None,
            };
            Some(TftpEngine::new(config, Box::new(Cached::default())))
        }
        None => None,
    };
    Ok(Server {
        link: Link {
            iface: iface.into(),
            addr,
            mac: SERVER_MAC,
            port: 67,
        },
        engine,
        tftp,
    })
}
