//! What a boot did, read from the outside: the frames on the segment (DHCP rounds, TFTP
//! transfers reassembled block by block) and the serial console (EDK2's `PXE-Exx`, iPXE's
//! errors, rEFInd's menu and `Starting ...`, the loader's marker). The same reading applies to
//! a real VM's frames and to a simulated run's, so the two can be compared step by step, and
//! it yields the steps `bootsim boot` prints.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use netbootd::tftp::packet::Packet;
use netbootd::time::Instant;
use netbootd::wire::dhcp::Message;
use netbootd::wire::MacAddr;

use crate::content::Content;
use crate::disk::Disk;
use crate::identify::{Image, Program};
use crate::net::lan::{Frame, ServerNote};
use crate::transcript::{Classes, DhcpClient, Download, Outcome, Stage, StepKind, Transcript};

use super::image::MARKER;

/// One DHCP message on the wire.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DhcpMessage {
    #[serde(serialize_with = "crate::transcript::seconds")]
    pub at: Instant,
    pub from_client: bool,
    pub kind: Option<u8>,
    pub secs: u16,
    pub flags: u16,
    /// Option codes in wire order.
    pub options: Vec<u8>,
    /// Option values, by code (first instance).
    #[serde(skip)]
    pub values: BTreeMap<u8, Vec<u8>>,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub file: Option<String>,
}

/// One client transaction (one xid): DISCOVER to ACK, or a ProxyDHCP request.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DhcpRound {
    pub xid: u32,
    /// "iPXE" when the client sent user-class iPXE (option 77), "PXE" otherwise.
    pub client: String,
    pub messages: Vec<DhcpMessage>,
    /// Classes the server put the client in (from its notes, when it is netbootd).
    pub classes: Vec<String>,
}

impl DhcpRound {
    pub fn start(&self) -> Instant {
        self.messages.first().map(|m| m.at).unwrap_or_default()
    }

    pub fn ack(&self) -> Option<&DhcpMessage> {
        self.messages
            .iter()
            .find(|m| !m.from_client && m.kind == Some(5))
    }

    /// The boot file the ACK names: option 67, else `file`.
    pub fn boot_file(&self) -> Option<String> {
        let ack = self.ack()?;
        ack.values
            .get(&67)
            .map(|v| {
                String::from_utf8_lossy(v)
                    .trim_end_matches('\0')
                    .to_string()
            })
            .or_else(|| ack.file.clone())
    }
}

/// One TFTP read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Transfer {
    pub file: String,
    pub server: Ipv4Addr,
    pub client: SocketAddrV4,
    /// Options the client asked for, in order.
    pub options: Vec<(String, String)>,
    #[serde(serialize_with = "crate::transcript::seconds")]
    pub start: Instant,
    #[serde(serialize_with = "crate::transcript::seconds")]
    pub end: Instant,
    /// All blocks up to a short one arrived.
    pub complete: bool,
    /// The client stopped it after the OACK (EDK2's size probe) or with an error.
    pub aborted: bool,
    /// An ERROR from the server: (code, message).
    pub error: Option<(u16, String)>,
    #[serde(skip)]
    pub bytes: Vec<u8>,
    #[serde(skip)]
    blocks: BTreeMap<u16, Vec<u8>>,
    #[serde(skip)]
    blksize: usize,
    #[serde(skip)]
    server_port: Option<u16>,
}

/// The frames of one client, read.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Wire {
    pub rounds: Vec<DhcpRound>,
    pub transfers: Vec<Transfer>,
}

impl Wire {
    pub fn read(frames: &[Frame], mac: MacAddr, notes: &[ServerNote]) -> Wire {
        let mut w = Wire::default();
        for f in frames {
            let d = &f.datagram;
            if d.dst.port() == 67 || d.src.port() == 67 || d.dst.port() == 4011 {
                w.dhcp(f, mac);
            } else {
                w.tftp(f);
            }
        }
        for r in &mut w.rounds {
            r.classes = notes
                .iter()
                .filter_map(|n| match n {
                    ServerNote::Dhcp {
                        xid,
                        classes,
                        reply_type: Some(_),
                        ..
                    } if *xid == r.xid => Some(classes.clone()),
                    _ => None,
                })
                .next_back()
                .unwrap_or_default();
        }
        for t in &mut w.transfers {
            t.bytes = t.blocks.values().flatten().copied().collect();
        }
        w
    }

    fn dhcp(&mut self, f: &Frame, mac: MacAddr) {
        let Ok(m) = Message::decode(&f.datagram.payload) else {
            return;
        };
        if m.hwaddr() != mac.as_bytes() {
            return;
        }
        let values = m
            .options
            .codes()
            .into_iter()
            .filter_map(|c| m.option(c).map(|v| (c, v)))
            .collect();
        let msg = DhcpMessage {
            at: f.at,
            from_client: f.from_client,
            kind: m.message_type(),
            secs: m.secs,
            flags: m.flags,
            options: m.options.codes(),
            values,
            yiaddr: m.yiaddr,
            siaddr: m.siaddr,
            file: m.file_name(),
        };
        if let Some(r) = self.rounds.iter_mut().rev().find(|r| r.xid == m.xid) {
            r.messages.push(msg);
            return;
        }
        if !f.from_client {
            return;
        }
        let ipxe = m
            .option(77)
            .is_some_and(|v| v.windows(4).any(|w| w == b"iPXE"));
        self.rounds.push(DhcpRound {
            xid: m.xid,
            client: if ipxe { "iPXE" } else { "PXE" }.into(),
            messages: vec![msg],
            classes: Vec::new(),
        });
    }

    fn tftp(&mut self, f: &Frame) {
        let d = &f.datagram;
        let Ok(p) = Packet::decode(&d.payload) else {
            return;
        };
        if let Packet::Rrq {
            filename, options, ..
        } = &p
        {
            if f.from_client && d.dst.port() == 69 {
                let blksize = options
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("blksize"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(512);
                self.transfers.push(Transfer {
                    file: String::from_utf8_lossy(filename).into_owned(),
                    server: *d.dst.ip(),
                    client: d.src,
                    options: options.clone(),
                    start: f.at,
                    end: f.at,
                    complete: false,
                    aborted: false,
                    error: None,
                    bytes: Vec::new(),
                    blocks: BTreeMap::new(),
                    blksize,
                    server_port: None,
                });
            }
            return;
        }
        let client = if f.from_client { d.src } else { d.dst };
        let Some(t) = self
            .transfers
            .iter_mut()
            .rev()
            .find(|t| t.client == client && !t.complete && !t.aborted && t.error.is_none())
        else {
            return;
        };
        t.end = f.at;
        match p {
            Packet::Oack { options } if !f.from_client => {
                t.server_port = Some(d.src.port());
                if let Some(b) = options
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("blksize"))
                    .and_then(|(_, v)| v.parse().ok())
                {
                    t.blksize = b;
                }
                // Without blksize in the OACK the transfer uses 512 (RFC 2348).
                if !options
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("blksize"))
                {
                    t.blksize = 512;
                }
            }
            Packet::Data { block, data } if !f.from_client => {
                if t.server_port.is_none() {
                    t.server_port = Some(d.src.port());
                    t.blksize = 512;
                }
                let short = data.len() < t.blksize;
                t.blocks.entry(block).or_insert(data);
                if short {
                    t.complete = true;
                }
            }
            Packet::Error { code, message } => {
                if f.from_client {
                    t.aborted = true;
                } else {
                    t.error = Some((code, message));
                }
            }
            _ => {}
        }
    }

    /// Downloads that completed, in order (size probes and failures left out).
    pub fn downloads(&self) -> impl Iterator<Item = &Transfer> {
        self.transfers.iter().filter(|t| t.complete)
    }
}

/// Console lines with their time and source.
pub type Console = [(Instant, String, String)];

fn find(console: &Console, pred: impl Fn(&str) -> bool) -> Option<&(Instant, String, String)> {
    console.iter().find(|(_, _, l)| pred(l))
}

/// The steps of a boot, from the wire and the console, in `bootsim boot`'s vocabulary.
pub fn transcript(
    firmware: &str,
    mac: MacAddr,
    wire: &Wire,
    console: &Console,
    disks: &[Disk],
    elapsed: Duration,
    server_visible: bool,
) -> Transcript {
    let mut t = Transcript::new(firmware, mac);
    t.console = console.to_vec();
    t.elapsed = elapsed;
    let classes = |r: &DhcpRound| {
        if server_visible {
            Classes::own(&r.classes)
        } else {
            Classes::NotVisible
        }
    };
    // Downloads after each acknowledged round, until the next round.
    let acked: Vec<&DhcpRound> = wire.rounds.iter().filter(|r| r.ack().is_some()).collect();
    let mut last_image: Option<(String, Content)> = None;
    let mut names: Vec<(String, String)> = Vec::new();
    for (i, r) in acked.iter().enumerate() {
        let until = acked
            .get(i + 1)
            .map(|n| n.start())
            .unwrap_or(Instant::from_duration(Duration::MAX));
        let leased = r.ack().map(|a| a.yiaddr).unwrap_or(Ipv4Addr::UNSPECIFIED);
        let ipxe = r.client == "iPXE";
        t.push(
            r.start(),
            StepKind::Dhcp {
                client: if ipxe {
                    DhcpClient::Ipxe
                } else {
                    DhcpClient::Firmware
                },
                lease: Some(leased),
                // Option 54, the server identifier (RFC 2132 9.7).
                server: r
                    .ack()
                    .and_then(|a| a.values.get(&54))
                    .and_then(|v| <[u8; 4]>::try_from(v.as_slice()).ok())
                    .map(Ipv4Addr::from),
                classes: classes(r),
                file: r.boot_file(),
            },
        );
        let downloads: Vec<&Transfer> = wire
            .downloads()
            .filter(|d| d.start >= r.start() && d.start < until)
            .collect();
        for (n, d) in downloads.iter().enumerate() {
            let content = Content::from(d.bytes.clone());
            let base = d.file.rsplit('/').next().unwrap_or(&d.file).to_string();
            let name = names
                .iter()
                .find(|(b, _)| *b == base)
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| base.clone());
            let path = d.file.trim_start_matches('/');
            let fetched = |name: &str| Download {
                source: format!("tftp://{}/{path}", d.server),
                name: name.to_string(),
                size: d.bytes.len(),
                content: content.describe(),
            };
            let kind = match (ipxe, n) {
                (false, _) => StepKind::Nbp(Download {
                    source: d.file.clone(),
                    name: d.server.to_string(),
                    size: d.bytes.len(),
                    content: content.describe(),
                }),
                (true, 0) => {
                    names = image_names(&d.bytes);
                    StepKind::Script(fetched(&name))
                }
                (true, _) => StepKind::Fetch(fetched(&name)),
            };
            t.push(d.end, kind);
            last_image = Some((name, content));
        }
    }
    // rEFInd, from its console.
    let refind_start = find(console, |l| l.contains("rEFInd - Initializing"));
    if let (Some((at, _, _)), Some((name, content))) = (refind_start, &last_image) {
        if matches!(
            content.image(),
            Image::Efi {
                program: Program::Refind,
                ..
            }
        ) {
            t.push(
                *at,
                StepKind::Chain {
                    image: name.clone(),
                    content: content.describe(),
                },
            );
        }
    }
    let menu: Vec<&(Instant, String, String)> = console
        .iter()
        .filter(|(_, _, l)| l.trim_start().starts_with("Boot ") && l.contains(" from "))
        .collect();
    let mut entries: Vec<String> = Vec::new();
    for (_, _, l) in &menu {
        let e = l.trim().to_string();
        if !entries.contains(&e) {
            entries.push(e);
        }
    }
    if let Some((at, _, _)) = find(console, |l| l.contains("rEFInd - Main Menu")) {
        t.push(
            *at,
            StepKind::RefindScan {
                loaders: entries.len(),
                disks: disks.len(),
                conf_missing: false,
            },
        );
    }
    let starting = find(console, |l| l.trim_start().starts_with("Starting "));
    let marker = find(console, |l| l.contains(MARKER));
    if let (Some((_, _, start_line)), Some((at, _, _))) = (starting, marker) {
        let base = start_line
            .trim()
            .trim_start_matches("Starting ")
            .trim()
            .to_string();
        // The menu entry whose path ends with the started file: "Boot <path> from <volume>".
        let entry = entries.iter().find_map(|e| {
            let rest = e.strip_prefix("Boot ")?;
            let (path, volume) = rest.rsplit_once(" from ")?;
            path.rsplit('\\')
                .next()
                .is_some_and(|f| f.eq_ignore_ascii_case(&base))
                .then(|| (path.to_string(), volume.trim().to_string()))
        });
        let (path, volume) = entry.unwrap_or((base.clone(), "?".into()));
        let (disk, disk_name) = disks
            .iter()
            .enumerate()
            .find(|(_, d)| d.volumes.iter().any(|v| v.get(&path).is_some()))
            .map(|(i, d)| (i, d.name.clone()))
            .unwrap_or((0, "?".into()));
        t.push(
            *at,
            StepKind::Boot {
                loader: path.clone(),
                disk,
                disk_name: disk_name.clone(),
                volume: volume.clone(),
            },
        );
        t.outcome = Outcome::Booted {
            loader: path,
            disk,
            disk_name,
            volume,
        };
        return t;
    }
    t.outcome = failure(&t, wire, console, marker.is_some());
    t
}

/// The names an iPXE script gives the images it fetches (`--name`/`-n`, else the URI's last
/// path component, as iPXE's `imgdownload` names them): (file name in the URI, image name).
fn image_names(script: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in String::from_utf8_lossy(script).lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((cmd, args)) = words.split_first() else {
            continue;
        };
        if !matches!(
            *cmd,
            "imgfetch"
                | "module"
                | "initrd"
                | "kernel"
                | "chain"
                | "imgexec"
                | "imgload"
                | "imgselect"
        ) {
            continue;
        }
        let (mut name, mut uri) = (None, None);
        let mut i = 0;
        while i < args.len() {
            match args[i] {
                "--name" | "-n" => {
                    name = args.get(i + 1).map(|s| s.to_string());
                    i += 1;
                }
                a if a.starts_with("--name=") => name = Some(a["--name=".len()..].to_string()),
                a if a.starts_with('-') => {}
                a if uri.is_none() => uri = Some(a.to_string()),
                _ => {}
            }
            i += 1;
        }
        if let (Some(name), Some(uri)) = (name, uri) {
            let base = uri.rsplit('/').next().unwrap_or(&uri).to_string();
            out.push((base, name));
        }
    }
    out
}

/// Why the chain stopped, from the firmware's own words.
fn failure(t: &Transcript, wire: &Wire, console: &Console, marker: bool) -> Outcome {
    let step = t.steps.len() + 1;
    let fail = |stage: Stage, reason: String| Outcome::Failed {
        step,
        stage,
        reason,
        change: None,
    };
    // EDK2 PxeBcLoadBootFile: "PXE-Exx: ..." (firmware.md A.10).
    if let Some((_, _, l)) = find(console, |l| l.trim_start().starts_with("PXE-E")) {
        let l = l.trim();
        let stage =
            if l.starts_with("PXE-E23") || t.steps.iter().any(|s| s.stage() == Stage::PxeDhcp) {
                Stage::TftpNbp
            } else {
                Stage::PxeDhcp
            };
        return fail(stage, l.to_string());
    }
    // iPXE autoboot.c / ifmgmt.c / imgmgmt.c messages (firmware.md B.5).
    for (pattern, stage) in [
        ("No configuration methods succeeded", Stage::IpxeDhcp),
        ("Nothing to boot", Stage::Ipxe),
        ("Could not boot", Stage::Ipxe),
    ] {
        if let Some((_, _, l)) = find(console, |l| l.contains(pattern)) {
            return fail(stage, format!("iPXE: {}", l.trim()));
        }
    }
    // rEFInd StartEFIImage: "Error: <status> while loading <file>".
    if let Some((_, _, l)) = find(console, |l| l.contains("while loading")) {
        return fail(Stage::Boot, format!("rEFInd: {}", l.trim()));
    }
    if let Some(e) = wire.transfers.iter().find_map(|t| t.error.clone()) {
        return fail(Stage::Tftp, format!("TFTP error {}: {}", e.0, e.1));
    }
    if marker {
        return fail(
            Stage::Boot,
            "a loader started without rEFInd: the firmware fell back to the disk".into(),
        );
    }
    let stage = t.steps.last().map_or(Stage::PxeDhcp, |s| s.stage());
    fail(stage, "no further progress before the run ended".into())
}

/// A console line that ends the network boot (a failure, or the loader), so a run can stop
/// there instead of waiting for its deadline.
pub fn ends_boot(line: &str) -> bool {
    let l = line.trim_start();
    l.contains(MARKER)
        || l.starts_with("PXE-E")
        || l.contains("No more network devices")
        || l.contains("No bootable device")
        || l.contains("while loading")
}
