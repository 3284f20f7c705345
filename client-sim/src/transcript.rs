//! What a boot did, for people (text) and machines (JSON): numbered steps with their
//! virtual times, the console of each stage, the outcome, and when it failed, why and what
//! to change.
//!
//! A step is typed ([`StepKind`]: a DHCP lease, a TFTP download, a chain, a rEFInd scan, a
//! boot) and rendered to its one line of text in one place ([`StepKind`]'s `Display`), which
//! the text transcript and the JSON `detail` field both use; code that needs a lease or a
//! file reads the fields, never the text.

use std::fmt::{self, Write as _};
use std::net::Ipv4Addr;
use std::time::Duration;

use netbootd::time::Instant;
use netbootd::wire::MacAddr;

use serde::{Serialize, Serializer};

/// The stage of the boot chain a step belongs to or a failure happened at, named as the
/// transcript prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Nothing ran yet.
    Start,
    /// The firmware's PXE, outside any one exchange.
    Pxe,
    /// The firmware's DHCP exchange (EDK2 PxeBcDhcp4, a BIOS PXE ROM).
    PxeDhcp,
    /// The firmware's TFTP download of the network boot program.
    TftpNbp,
    /// The firmware starting the downloaded program.
    StartNbp,
    /// iPXE's DHCP exchange.
    IpxeDhcp,
    /// The first file iPXE fetches: its script.
    TftpScript,
    /// A later file an iPXE script fetches.
    IpxeFetch,
    /// What the scripted keyboard typed at an iPXE prompt or menu.
    IpxeInput,
    /// iPXE, outside any one exchange (its script, its commands).
    Ipxe,
    /// A TFTP transfer seen on the wire (observed runs only).
    Tftp,
    /// iPXE handing over to another EFI image.
    Chain,
    /// rEFInd scanning the disks for loaders.
    RefindScan,
    /// rEFInd's menu.
    RefindMenu,
    /// The loader on the disk starting.
    Boot,
}

impl Stage {
    /// Every stage, in chain order.
    pub const ALL: [Stage; 15] = [
        Stage::Start,
        Stage::Pxe,
        Stage::PxeDhcp,
        Stage::TftpNbp,
        Stage::StartNbp,
        Stage::IpxeDhcp,
        Stage::TftpScript,
        Stage::IpxeFetch,
        Stage::IpxeInput,
        Stage::Ipxe,
        Stage::Tftp,
        Stage::Chain,
        Stage::RefindScan,
        Stage::RefindMenu,
        Stage::Boot,
    ];

    /// The stage's name in transcripts and scenario files ("PXE DHCP", "rEFInd scan").
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Start => "start",
            Stage::Pxe => "PXE",
            Stage::PxeDhcp => "PXE DHCP",
            Stage::TftpNbp => "TFTP NBP",
            Stage::StartNbp => "start NBP",
            Stage::IpxeDhcp => "iPXE DHCP",
            Stage::TftpScript => "TFTP script",
            Stage::IpxeFetch => "iPXE fetch",
            Stage::IpxeInput => "iPXE input",
            Stage::Ipxe => "iPXE",
            Stage::Tftp => "TFTP",
            Stage::Chain => "chain",
            Stage::RefindScan => "rEFInd scan",
            Stage::RefindMenu => "rEFInd menu",
            Stage::Boot => "boot",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for Stage {
    type Err = String;

    fn from_str(s: &str) -> Result<Stage, String> {
        Stage::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown stage '{s}': expected one of {}", names.join(", "))
            })
    }
}

impl Serialize for Stage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Stage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Stage, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Which client ran a DHCP exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpClient {
    /// The machine's firmware (UEFI or BIOS PXE).
    Firmware,
    /// iPXE.
    Ipxe,
}

/// The classes the server put a DHCP query in, as far as the run can tell.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Classes {
    /// The run had no view of the server's config (a real server on an interface).
    #[default]
    Unknown,
    /// The server is a real one seen from outside (a QEMU run): its classes are its own.
    NotVisible,
    /// The operator's own classes (Kea's built-in `ALL`, `KNOWN`, `UNKNOWN` and
    /// `VENDOR_CLASS_*` left out), in Kea's order.
    Matched(Vec<String>),
}

impl Classes {
    /// The operator's classes among everything Kea reports a query was put in.
    pub fn own(all: &[String]) -> Classes {
        Classes::Matched(
            all.iter()
                .filter(|c| {
                    !matches!(c.as_str(), "ALL" | "KNOWN" | "UNKNOWN")
                        && !c.starts_with("VENDOR_CLASS_")
                })
                .cloned()
                .collect(),
        )
    }

    /// The classes as a diagnosis names them: `"a", "b"` or `no class`.
    pub fn quoted(&self) -> String {
        match self {
            Classes::Matched(c) if !c.is_empty() => c
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", "),
            Classes::NotVisible => "classes not visible".into(),
            _ => "no class".into(),
        }
    }
}

/// A file downloaded by TFTP or by an iPXE script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    /// Where it came from: the file name the firmware asked for, or the URI an iPXE script
    /// fetched.
    pub source: String,
    /// The TFTP server (firmware downloads), or the image's name in iPXE.
    pub name: String,
    /// Its size in bytes.
    pub size: usize,
    /// What it is, identified by content ("x86_64 EFI, iPXE").
    pub content: String,
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    /// A DHCP exchange that ended with a lease (or, on a download failure, at least an
    /// offer).
    Dhcp {
        client: DhcpClient,
        /// The address leased (`None`: not known, the exchange ended with a failure).
        lease: Option<Ipv4Addr>,
        /// The server that gave it, where known.
        server: Option<Ipv4Addr>,
        classes: Classes,
        /// The boot file the answer named (shown for iPXE, whose script it is).
        file: Option<String>,
    },
    /// The firmware's TFTP download of the network boot program: `name` is the server.
    Nbp(Download),
    /// iPXE's first fetch, its script.
    Script(Download),
    /// A later fetch of an iPXE script.
    Fetch(Download),
    /// What the scripted keyboard gave an iPXE command.
    Input { what: String },
    /// iPXE started another EFI image (`image`: its name or command line).
    Chain { image: String, content: String },
    /// rEFInd's disk scan.
    RefindScan {
        loaders: usize,
        disks: usize,
        conf_missing: bool,
    },
    /// A loader on a disk started.
    Boot {
        loader: String,
        disk: usize,
        disk_name: String,
        volume: String,
    },
}

/// `850528 bytes`, `1.2 MiB`: a size as transcripts print it.
pub fn size_text(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1 << 20) as f64)
    } else {
        format!("{n} bytes")
    }
}

impl StepKind {
    /// The stage this step is part of.
    pub fn stage(&self) -> Stage {
        match self {
            StepKind::Dhcp {
                client: DhcpClient::Firmware,
                ..
            } => Stage::PxeDhcp,
            StepKind::Dhcp { .. } => Stage::IpxeDhcp,
            StepKind::Nbp(_) => Stage::TftpNbp,
            StepKind::Script(_) => Stage::TftpScript,
            StepKind::Fetch(_) => Stage::IpxeFetch,
            StepKind::Input { .. } => Stage::IpxeInput,
            StepKind::Chain { .. } => Stage::Chain,
            StepKind::RefindScan { .. } => Stage::RefindScan,
            StepKind::Boot { .. } => Stage::Boot,
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepKind::Dhcp {
                client,
                lease,
                classes,
                file,
                ..
            } => {
                match lease {
                    Some(a) => write!(f, "{a} leased")?,
                    None => write!(f, "? leased")?,
                }
                if *classes != Classes::Unknown {
                    write!(f, ", {}", classes.quoted())?;
                }
                if *client == DhcpClient::Ipxe {
                    write!(f, ", file {}", file.as_deref().unwrap_or("(none)"))?;
                }
                Ok(())
            }
            StepKind::Nbp(d) => write!(
                f,
                "{} from {}: {} ({})",
                d.source,
                d.name,
                size_text(d.size),
                d.content
            ),
            StepKind::Script(d) | StepKind::Fetch(d) => write!(
                f,
                "{} as {}: {} ({})",
                d.source,
                d.name,
                size_text(d.size),
                d.content
            ),
            StepKind::Input { what } => f.write_str(what),
            StepKind::Chain { image, content } => write!(f, "{image} ({content})"),
            StepKind::RefindScan {
                loaders,
                disks,
                conf_missing,
            } => write!(
                f,
                "{loaders} loader(s) on {disks} disk(s){}",
                if *conf_missing {
                    ", refind.conf missing"
                } else {
                    ""
                }
            ),
            StepKind::Boot {
                loader,
                disk,
                disk_name,
                volume,
            } => write!(f, "{loader} on disk {disk} ({disk_name}, volume {volume})"),
        }
    }
}

/// One numbered step of a transcript.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based, in the order the steps happened.
    pub number: usize,
    /// Virtual time since power-on (or the run's clock for observed boots).
    pub at: Instant,
    pub kind: StepKind,
}

impl Step {
    /// The stage the step belongs to.
    pub fn stage(&self) -> Stage {
        self.kind.stage()
    }

    /// The step's line of text, as the transcript prints it after the stage.
    pub fn detail(&self) -> String {
        self.kind.to_string()
    }
}

/// JSON keeps the shape the text has: number, stage, time, detail line.
impl Serialize for Step {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Step", 4)?;
        st.serialize_field("number", &self.number)?;
        st.serialize_field("stage", &self.stage())?;
        st.serialize_field("at", &Seconds(self.at))?;
        st.serialize_field("detail", &self.detail())?;
        st.end()
    }
}

/// Seconds with millisecond precision, as JSON transcripts give times.
struct Seconds(Instant);

impl Serialize for Seconds {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        seconds(&self.0, s)
    }
}

/// A moment or an interval in seconds: both are time since a clock's origin in JSON.
pub(crate) trait InSeconds {
    fn in_seconds(&self) -> f64;
}

impl InSeconds for Duration {
    fn in_seconds(&self) -> f64 {
        self.as_secs_f64()
    }
}

impl InSeconds for Instant {
    fn in_seconds(&self) -> f64 {
        self.as_secs_f64()
    }
}

/// Seconds with millisecond precision (`serialize_with`).
pub(crate) fn seconds<T: InSeconds, S: Serializer>(t: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((t.in_seconds() * 1000.0).round() / 1000.0)
}

/// How the boot ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// A loader on a disk started.
    Booted {
        loader: String,
        disk: usize,
        disk_name: String,
        volume: String,
    },
    /// The chain stopped: at which step and stage, why, and what to change in the server's
    /// files when the run could tell.
    Failed {
        step: usize,
        stage: Stage,
        reason: String,
        change: Option<String>,
    },
}

/// Everything one machine's boot did.
#[derive(Debug, Clone, Serialize)]
pub struct Transcript {
    /// The firmware's name (`uefi-x64`, ...).
    pub firmware: String,
    /// The machine's MAC, `52:54:00:12:34:56`.
    pub mac: String,
    pub steps: Vec<Step>,
    pub outcome: Outcome,
    /// (time, source, line).
    #[serde(skip)]
    pub console: Vec<(Instant, String, String)>,
    /// Things the boot path reads differently from what was probably meant.
    pub lints: Vec<String>,
    /// Frames the client sent again (a lost answer, a timer that fired).
    pub retransmissions: u32,
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

impl Transcript {
    /// An empty transcript: no step yet, "not run".
    pub fn new(firmware: &str, mac: MacAddr) -> Transcript {
        Transcript {
            firmware: firmware.into(),
            mac: mac.to_string(),
            steps: Vec::new(),
            outcome: Outcome::Failed {
                step: 1,
                stage: Stage::Start,
                reason: "not run".into(),
                change: None,
            },
            console: Vec::new(),
            lints: Vec::new(),
            retransmissions: 0,
            elapsed: Duration::ZERO,
        }
    }

    /// Adds a step numbered after the last one.
    pub fn push(&mut self, at: Instant, kind: StepKind) {
        self.steps.push(Step {
            number: self.steps.len() + 1,
            at,
            kind,
        });
    }

    /// Whether a loader started.
    pub fn booted(&self) -> bool {
        matches!(self.outcome, Outcome::Booted { .. })
    }

    /// The text transcript; with `console`, every console line of every stage too.
    pub fn render(&self, console: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{} {}", self.firmware, self.mac);
        for s in &self.steps {
            let _ = writeln!(
                out,
                "{:>2}. {:>7.2}s  {:<12} {}",
                s.number,
                s.at.as_secs_f64(),
                s.stage(),
                s.kind
            );
        }
        match &self.outcome {
            Outcome::Booted {
                loader,
                disk,
                disk_name,
                volume,
            } => {
                let _ = writeln!(
                    out,
                    "booted {loader} on disk {disk} ({disk_name}, volume {volume}) in {} steps, {:.2}s",
                    self.steps.len(),
                    self.elapsed.as_secs_f64()
                );
            }
            Outcome::Failed {
                step,
                stage,
                reason,
                change,
            } => {
                let _ = writeln!(out, "FAILED at step {step} ({stage}): {reason}");
                if let Some(c) = change {
                    let _ = writeln!(out, "what to change: {c}");
                }
            }
        }
        if self.retransmissions > 0 {
            let _ = writeln!(out, "retransmissions: {}", self.retransmissions);
        }
        for l in &self.lints {
            let _ = writeln!(out, "lint: {l}");
        }
        if console {
            let _ = writeln!(out, "console:");
            for (at, source, line) in &self.console {
                let _ = writeln!(out, "  {:>7.2}s {source:<8} {line}", at.as_secs_f64());
            }
        }
        out
    }
}
