//! Boot scenarios: a TOML file declares the server (a Kea config and a TFTP root, in-process),
//! the clients (firmware, MAC, disks, how many), the faults, and what must happen. Running
//! one boots every client at once on one segment and checks the expectations; the same file
//! always gives the same transcript (seeded transaction ids and faults, virtual time).

mod check;
mod decl;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netbootd::time::Instant;
use netbootd::wire::MacAddr;

pub use decl::{AddrRange, ClientDecl, Ending, Expect, ScenarioFile, ServerDecl};

use crate::chain::{ChainClient, Client};
use crate::firmware::ipxe::keyboard::Keyboard;
use crate::firmware::MACHINE_UUID;
use crate::net::embedded::{build, ServerSpec, SIMULATION_EPOCH};
use crate::net::lan::{FaultCounts, Lan, Station};
use crate::net::link::Links;
use crate::transcript::Transcript;

/// A scenario file, loaded.
#[derive(Debug)]
pub struct Scenario {
    /// What the file says.
    pub file: ScenarioFile,
    /// Where the file is (relative paths in it are relative to its directory).
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: {message}")]
    Bad { path: String, message: String },
}

/// One check and how it went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ScenarioRun {
    pub name: String,
    pub file: String,
    pub transcripts: Vec<Transcript>,
    pub checks: Vec<Check>,
    pub faults: FaultCounts,
    #[serde(skip)]
    pub frames: Vec<crate::net::lan::Frame>,
}

impl ScenarioRun {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// The whole run as text: every client's transcript, the faults, the checks.
    pub fn render(&self, console: bool) -> String {
        let mut out = format!("scenario: {}\n", self.name);
        for t in &self.transcripts {
            out.push('\n');
            out.push_str(&t.render(console));
        }
        let f = &self.faults;
        if f.lost + f.duplicated + f.reordered > 0 {
            let _ = writeln!(
                out,
                "\nfaults: {} lost, {} duplicated, {} reordered",
                f.lost, f.duplicated, f.reordered
            );
        }
        out.push('\n');
        for c in &self.checks {
            let _ = writeln!(
                out,
                "{} {}{}",
                if c.ok { "ok  " } else { "FAIL" },
                c.what,
                if c.ok {
                    String::new()
                } else {
                    format!(": {}", c.detail)
                }
            );
        }
        out
    }
}

/// The TFTP root `decl` serves (paths relative to `dir`): its `tftp_root` as it is, or, with
/// `files`, a root built in `scratch`: the files over a copy of `tftp_root` when there is
/// one too (a repository's scripts plus stand-ins for the binaries it does not keep).
pub(crate) fn tftp_root(
    decl: &ServerDecl,
    dir: &Path,
    scratch: &Path,
) -> Result<Option<PathBuf>, String> {
    let given = decl.tftp_root.as_ref().map(|r| dir.join(r));
    if decl.files.is_empty() {
        return Ok(given);
    }
    std::fs::create_dir_all(scratch).map_err(|e| e.to_string())?;
    if let Some(given) = &given {
        copy_tree(given, scratch).map_err(|e| format!("tftp_root {}: {e}", given.display()))?;
    }
    for (name, spec) in &decl.files {
        let bytes =
            crate::recipe::content(spec, dir).map_err(|m| format!("server file {name}: {m}"))?;
        std::fs::write(scratch.join(name), bytes).map_err(|e| e.to_string())?;
    }
    Ok(Some(scratch.to_path_buf()))
}

/// Copies the files under `from` into `to` (directories recursively).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn mac_plus(mac: MacAddr, n: usize) -> MacAddr {
    let mut v = 0u64;
    for b in mac.octets() {
        v = (v << 8) | u64::from(b);
    }
    v = v.wrapping_add(n as u64);
    let b = v.to_be_bytes();
    MacAddr([b[2], b[3], b[4], b[5], b[6], b[7]])
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Bad {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let file: ScenarioFile = toml::from_str(&text).map_err(|e| ScenarioError::Bad {
            path: shown.clone(),
            // toml's message names the line and column and shows the line.
            message: e.to_string(),
        })?;
        Ok(Scenario {
            file,
            path: path.to_path_buf(),
        })
    }

    fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    fn bad(&self, message: String) -> ScenarioError {
        ScenarioError::Bad {
            path: self.path.display().to_string(),
            message,
        }
    }

    fn server(
        &self,
        decl: &ServerDecl,
        scratch: &Path,
        index: usize,
    ) -> Result<crate::net::lan::Server, ScenarioError> {
        let root = tftp_root(decl, self.dir(), &scratch.join(format!("tftp{index}")))
            .map_err(|m| self.bad(m))?;
        let mut server = build(&ServerSpec {
            config: self.dir().join(&decl.config),
            kea_version: decl.kea_version.unwrap_or_default(),
            tftp_root: root,
            server_addr: decl.address,
            epoch: SIMULATION_EPOCH,
        })
        .map_err(|e| self.bad(e.to_string()))?;
        // Each server its own hardware address.
        server.link.mac.0[5] = server.link.mac.0[5].wrapping_add(index as u8);
        Ok(server)
    }

    /// Every machine, with what its console's keyboard will type.
    fn clients(&self) -> Result<Vec<(Client, Keyboard)>, ScenarioError> {
        let mut out = Vec::new();
        let mut next_mac = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        for decl in &self.file.client {
            let first = decl.mac.unwrap_or(next_mac);
            let mut disks = Vec::new();
            for d in &decl.disks {
                let path = self.dir().join(d);
                let disk = if path.extension().is_some_and(|e| e == "toml") {
                    crate::recipe::load(&path).map_err(|e| self.bad(e.to_string()))?
                } else {
                    crate::disk::Disk::from_image(&path, true)
                        .map_err(|e| self.bad(e.to_string()))?
                };
                disks.push(disk);
            }
            let keyboard = Keyboard::new(decl.input.iter().cloned());
            for i in 0..decl.count {
                let mac = mac_plus(first, i);
                // The UUID's node field (its last six octets) is the MAC.
                let mut uuid = MACHINE_UUID;
                uuid[10..16].copy_from_slice(mac.as_bytes());
                out.push((
                    Client {
                        firmware: decl.firmware,
                        mac,
                        uuid,
                        disks: disks.clone(),
                        seed: 0x1d2c_3b4a
                            ^ u32::from_be_bytes([mac.0[2], mac.0[3], mac.0[4], mac.0[5]]),
                    },
                    keyboard.clone(),
                ));
            }
            next_mac = mac_plus(first, decl.count);
        }
        Ok(out)
    }

    /// Boots every client and checks the expectations.
    pub fn run(&self) -> Result<ScenarioRun, ScenarioError> {
        let scratch = tempfile::tempdir().map_err(|e| self.bad(e.to_string()))?;
        let primary = self.server(&self.file.server, scratch.path(), 0)?;
        let mut lan = Lan::with_faults(primary, self.file.faults.clone());
        lan.relay = self.file.relay;
        lan.links = self.file.link.as_ref().map(|l| Links::new(l.model()));
        for (i, decl) in self.file.extra_server.iter().enumerate() {
            let s = self.server(decl, scratch.path(), i + 1)?;
            lan.add_server(s);
        }
        let clients = self.clients()?;
        let mut stations: Vec<ChainClient> = clients
            .iter()
            .map(|(c, k)| ChainClient::with_keyboard(c.clone(), Instant::ZERO, k.clone()))
            .collect();
        {
            let mut refs: Vec<&mut dyn Station> =
                stations.iter_mut().map(|s| s as &mut dyn Station).collect();
            lan.run_all(&mut refs, Duration::from_secs(3600));
        }
        let transcripts: Vec<Transcript> = stations.into_iter().map(|s| s.finish(&lan)).collect();
        let checks = check::check(&self.file.expect, &transcripts, &lan.fault_counts);
        Ok(ScenarioRun {
            name: self.file.name.clone(),
            file: self.path.display().to_string(),
            transcripts,
            checks,
            faults: lan.fault_counts.clone(),
            frames: std::mem::take(&mut lan.frames),
        })
    }
}
