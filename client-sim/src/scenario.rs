//! Boot scenarios: a TOML file declares the server (a Kea config and a TFTP root, in-process),
//! the clients (firmware, MAC, disks, how many), the faults, and what must happen. Running
//! one boots every client at once on one segment and checks the expectations; the same file
//! always gives the same transcript (seeded transaction ids and faults, virtual time).

use crate::net::embedded::SIMULATION_EPOCH;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::chain::{ChainClient, Client, Firmware};
use crate::firmware::ipxe::keyboard::{Input, Keyboard};
use crate::net::embedded::{build, ServerSpec};
use crate::net::lan::{FaultCounts, Faults, Lan, Station};
use crate::transcript::{Outcome, Transcript};
use netbootd::kea::KeaVersion;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub server: ServerDecl,
    /// Other DHCP servers on the segment (racing, or a rogue one).
    #[serde(default)]
    pub extra_server: Vec<ServerDecl>,
    pub client: Vec<ClientDecl>,
    #[serde(default)]
    pub faults: Faults,
    /// The clients sit behind a DHCP relay agent with this address (giaddr).
    #[serde(default)]
    pub relay: Option<std::net::Ipv4Addr>,
    pub expect: Expect,
    /// Where the file is (relative paths in it are relative to its directory).
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerDecl {
    pub config: PathBuf,
    #[serde(default)]
    pub kea_version: Option<String>,
    #[serde(default)]
    pub address: Option<std::net::Ipv4Addr>,
    /// A TFTP root directory...
    #[serde(default)]
    pub tftp_root: Option<PathBuf>,
    /// ...or the files of one, each a content spec (see recipe.rs).
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientDecl {
    pub firmware: String,
    /// The first client's MAC; the others count up from it.
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(default = "one")]
    pub count: usize,
    /// Disk recipes (.toml) or GPT images.
    #[serde(default)]
    pub disks: Vec<PathBuf>,
    /// What someone at each machine's console types when iPXE asks, in order:
    /// `item:LABEL` for a `choose`, `key:KEY` for a `prompt` key or a `read` line.
    #[serde(default)]
    pub input: Vec<String>,
}

fn one() -> usize {
    1
}

/// What must happen. `outcome` applies to every client; `booted` counts them instead; the
/// failure fields apply to the clients that failed, `steps` and `loader` to those that booted.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// "booted" or "failed", for every client.
    #[serde(default)]
    pub outcome: Option<String>,
    /// How many clients boot (the rest fail).
    #[serde(default)]
    pub booted: Option<usize>,
    #[serde(default)]
    pub steps: Option<usize>,
    #[serde(default)]
    pub loader: Option<String>,
    /// The stage a failure happens at.
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub reason_contains: Option<String>,
    #[serde(default)]
    pub change_contains: Option<String>,
    /// Leased addresses fall in this range ("a.b.c.d - e.f.g.h").
    #[serde(default)]
    pub leased_range: Option<String>,
    /// At least this many frames lost to faults.
    #[serde(default)]
    pub min_lost: Option<u64>,
    /// Every client sent at least this many frames again.
    #[serde(default)]
    pub min_retransmissions: Option<u32>,
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

fn mac_plus(mac: [u8; 6], n: usize) -> [u8; 6] {
    let mut v = 0u64;
    for b in mac {
        v = (v << 8) | u64::from(b);
    }
    v = v.wrapping_add(n as u64);
    let b = v.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

fn range(text: &str) -> Option<(std::net::Ipv4Addr, std::net::Ipv4Addr)> {
    let (a, b) = text.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Bad {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let mut s: Scenario = toml::from_str(&text).map_err(|e| ScenarioError::Bad {
            path: shown.clone(),
            // toml's message names the line and column and shows the line.
            message: e.to_string(),
        })?;
        s.path = path.to_path_buf();
        Ok(s)
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
        let root = match &decl.tftp_root {
            Some(r) => Some(self.dir().join(r)),
            None if !decl.files.is_empty() => {
                let root = scratch.join(format!("tftp{index}"));
                std::fs::create_dir_all(&root).map_err(|e| self.bad(e.to_string()))?;
                for (name, spec) in &decl.files {
                    let bytes = crate::recipe::content(spec, self.dir())
                        .map_err(|m| self.bad(format!("server file {name}: {m}")))?;
                    std::fs::write(root.join(name), bytes).map_err(|e| self.bad(e.to_string()))?;
                }
                Some(root)
            }
            None => None,
        };
        let kea_version = match &decl.kea_version {
            Some(v) => v
                .parse::<KeaVersion>()
                .map_err(|_| self.bad(format!("kea_version {v}: expected 2.2, 2.4, 2.6 or 3.0")))?,
            None => KeaVersion::default(),
        };
        let mut server = build(&ServerSpec {
            config: self.dir().join(&decl.config),
            kea_version,
            tftp_root: root,
            server_addr: decl.address,
            epoch: SIMULATION_EPOCH,
        })
        .map_err(|e| self.bad(e.to_string()))?;
        // Each server its own hardware address.
        server.link.mac[5] = server.link.mac[5].wrapping_add(index as u8);
        Ok(server)
    }

    /// Every machine, with what its console's keyboard will type.
    fn clients(&self) -> Result<Vec<(Client, Keyboard)>, ScenarioError> {
        let mut out = Vec::new();
        let mut next_mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
        for (n, decl) in self.client.iter().enumerate() {
            let firmware = Firmware::parse(&decl.firmware).ok_or_else(|| {
                self.bad(format!(
                    "client {}: unknown firmware '{}'",
                    n + 1,
                    decl.firmware
                ))
            })?;
            let first = match &decl.mac {
                Some(m) => m
                    .parse::<netbootd::wire::MacAddr>()
                    .map_err(|e| self.bad(format!("client {}: {e}", n + 1)))?
                    .octets(),
                None => next_mac,
            };
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
            let keyboard = Keyboard::new(
                decl.input
                    .iter()
                    .map(|i| {
                        Input::parse(i).map_err(|m| self.bad(format!("client {}: {m}", n + 1)))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            );
            for i in 0..decl.count {
                let mac = mac_plus(first, i);
                let mut uuid = [
                    0x4c, 0x4c, 0x45, 0x44, 0, 0x42, 0x35, 0x10, 0x80, 0x52, 0, 0, 0, 0, 0, 0,
                ];
                uuid[10..16].copy_from_slice(&mac);
                out.push((
                    Client {
                        firmware,
                        mac,
                        uuid,
                        disks: disks.clone(),
                        seed: 0x1d2c_3b4a ^ u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]),
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
        let primary = self.server(&self.server, scratch.path(), 0)?;
        let mut lan = Lan::with_faults(primary, self.faults.clone());
        lan.relay = self.relay;
        for (i, decl) in self.extra_server.iter().enumerate() {
            let s = self.server(decl, scratch.path(), i + 1)?;
            lan.add_server(s);
        }
        let clients = self.clients()?;
        let mut stations: Vec<ChainClient> = clients
            .iter()
            .map(|(c, k)| ChainClient::with_keyboard(c.clone(), Duration::ZERO, k.clone()))
            .collect();
        {
            let mut refs: Vec<&mut dyn Station> =
                stations.iter_mut().map(|s| s as &mut dyn Station).collect();
            lan.run_all(&mut refs, Duration::from_secs(3600));
        }
        let transcripts: Vec<Transcript> = stations.into_iter().map(|s| s.finish(&lan)).collect();
        let checks = self.check(&transcripts, &lan.fault_counts);
        Ok(ScenarioRun {
            name: self.name.clone(),
            file: self.path.display().to_string(),
            transcripts,
            checks,
            faults: lan.fault_counts.clone(),
            frames: std::mem::take(&mut lan.frames),
        })
    }

    fn check(&self, transcripts: &[Transcript], faults: &FaultCounts) -> Vec<Check> {
        let e = &self.expect;
        let mut checks = Vec::new();
        let mut add =
            |what: String, ok: bool, detail: String| checks.push(Check { what, ok, detail });
        for t in transcripts {
            let who = format!("{} {}", t.firmware, t.mac);
            let (outcome, stage, reason, change) = match &t.outcome {
                Outcome::Booted { .. } => ("booted", "", "", ""),
                Outcome::Failed {
                    stage,
                    reason,
                    change,
                    ..
                } => (
                    "failed",
                    stage.as_str(),
                    reason.as_str(),
                    change.as_deref().unwrap_or(""),
                ),
            };
            if let Some(want) = &e.outcome {
                add(
                    format!("{who}: {want}"),
                    outcome == want,
                    format!("it {outcome}: {reason}"),
                );
            }
            if outcome == "booted" {
                if let Some(n) = e.steps {
                    add(
                        format!("{who}: {n} steps"),
                        t.steps.len() == n,
                        format!("{} steps", t.steps.len()),
                    );
                }
                if let Some(l) = &e.loader {
                    let got = match &t.outcome {
                        Outcome::Booted { loader, .. } => loader.as_str(),
                        _ => "",
                    };
                    add(
                        format!("{who}: loader {l}"),
                        got == l,
                        format!("loader '{got}'"),
                    );
                }
            } else {
                if let Some(s) = &e.stage {
                    add(
                        format!("{who}: fails at {s}"),
                        stage == s,
                        format!("stage '{stage}'"),
                    );
                }
                if let Some(r) = &e.reason_contains {
                    add(
                        format!("{who}: reason has '{r}'"),
                        reason.contains(r.as_str()),
                        format!("reason '{reason}'"),
                    );
                }
                if let Some(c) = &e.change_contains {
                    add(
                        format!("{who}: change has '{c}'"),
                        change.contains(c.as_str()),
                        format!("change '{change}'"),
                    );
                }
            }
            if let Some(n) = e.min_retransmissions {
                add(
                    format!("{who}: at least {n} retransmissions"),
                    t.retransmissions >= n,
                    format!("{} retransmissions", t.retransmissions),
                );
            }
            if let Some((lo, hi)) = e.leased_range.as_deref().and_then(range) {
                let leased: Vec<std::net::Ipv4Addr> = t
                    .steps
                    .iter()
                    .filter_map(|s| s.detail.split(' ').next()?.parse().ok())
                    .collect();
                let ok = leased.iter().all(|a| *a >= lo && *a <= hi);
                add(
                    format!("{who}: leased in {lo} - {hi}"),
                    ok,
                    format!("leased {leased:?}"),
                );
            }
        }
        if let Some(n) = e.booted {
            let got = transcripts.iter().filter(|t| t.booted()).count();
            add(
                format!("{n} of {} booted", transcripts.len()),
                got == n,
                format!("{got} booted"),
            );
        }
        if let Some(n) = e.min_lost {
            add(
                format!("at least {n} frames lost"),
                faults.lost >= n,
                format!("{} lost", faults.lost),
            );
        }
        checks
    }
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML as CI systems read it: one testcase per scenario, failures with the transcript.
pub fn junit(runs: &[ScenarioRun]) -> String {
    let failures = runs.iter().filter(|r| !r.passed()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites tests=\"{}\" failures=\"{failures}\">\n<testsuite name=\"bootsim\" tests=\"{}\" failures=\"{failures}\">",
        runs.len(),
        runs.len()
    );
    for r in runs {
        let time: f64 = r
            .transcripts
            .iter()
            .map(|t| t.elapsed.as_secs_f64())
            .fold(0.0, f64::max);
        let _ = write!(
            out,
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{time:.3}\"",
            xml(&r.file),
            xml(&r.name)
        );
        if r.passed() {
            out.push_str("/>\n");
        } else {
            let first = r
                .checks
                .iter()
                .find(|c| !c.ok)
                .map(|c| format!("{}: {}", c.what, c.detail))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>",
                xml(&first),
                xml(&r.render(false))
            );
        }
    }
    out.push_str("</testsuite>\n</testsuites>\n");
    out
}
