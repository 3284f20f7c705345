//! `bootsim validate`: a third-party Kea config against the firmware matrix. For each kind of
//! firmware (UEFI x64, IA32 and AArch64 PXE, BIOS PXE, iPXE EFI and BIOS, UEFI HTTP boot) it
//! shows what the server offers (classes, file, next-server), and, given a TFTP root,
//! whether the whole chain completes; then the problems, each naming the class or key and
//! its line: chainload loops, missing files, wrong-architecture binaries, classes no
//! firmware matches, option 60 traps, boot files without a next-server, pools too small for
//! a boot storm.

mod bootfile;
mod explain;
mod release;
mod report;

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use explain::Explainer;
pub use explain::{ClassReport, ClassVerdict};
pub use release::Release;
pub use report::{Problem, Report, Row, Severity};

use crate::chain::{ChainClient, Client, Firmware};
use crate::firmware::ipxe::packets::{Build, Identity as IpxeId};
use crate::firmware::uefi_pxe::packets::{Arch, Identity as PxeId, Undi};
use crate::net::embedded::{build, ServerSpec, SetupError};
use crate::net::lan::{Lan, Station};
use crate::transcript::Outcome;
use netbootd::dhcp::engine::Silence;
use netbootd::dhcp::link::FrameAnswer;
use netbootd::kea::KeaVersion;
use netbootd::wire::dhcp::Message;
use netbootd::wire::frame::{Datagram, BROADCAST_MAC};

/// One column of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    UefiX64,
    UefiIa32,
    UefiArm64,
    Bios,
    IpxeEfi,
    IpxeBios,
    /// UEFI HTTP boot (EDK2 HttpBootDxe): vendor class `HTTPClient:Arch:00016`, arch 0x0010.
    UefiHttp,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::UefiX64,
        Kind::UefiIa32,
        Kind::UefiArm64,
        Kind::Bios,
        Kind::IpxeEfi,
        Kind::IpxeBios,
        Kind::UefiHttp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::UefiX64 => "uefi-x64",
            Kind::UefiIa32 => "uefi-ia32",
            Kind::UefiArm64 => "uefi-arm64",
            Kind::Bios => "bios",
            Kind::IpxeEfi => "ipxe-efi",
            Kind::IpxeBios => "ipxe-bios",
            Kind::UefiHttp => "uefi-http",
        }
    }

    fn firmware(self) -> Option<Firmware> {
        Some(match self {
            Kind::UefiX64 => Firmware::UefiX64,
            Kind::UefiIa32 => Firmware::UefiIa32,
            Kind::UefiArm64 => Firmware::UefiArm64,
            Kind::Bios => Firmware::Bios,
            Kind::IpxeEfi => Firmware::IpxeEfi,
            Kind::IpxeBios => Firmware::IpxeBios,
            Kind::UefiHttp => return None,
        })
    }

    /// The DISCOVER this firmware sends (the models' own bytes).
    fn discover(self, mac: [u8; 6]) -> Message {
        let uuid = [
            0x4c, 0x4c, 0x45, 0x44, 0, 0x42, 0x35, 0x10, 0x80, 0x52, 0xb4, 0xc0, 0x4f, 0x38, 0x4d,
            0x32,
        ];
        let pxe = |arch, undi| {
            PxeId {
                mac,
                arch,
                undi,
                uuid,
            }
            .discover(1, 0)
        };
        let bios_undi = Undi {
            kind: 1,
            major: 2,
            minor: 1,
        };
        match self {
            Kind::UefiX64 => pxe(Arch::X64, Undi::default()),
            Kind::UefiIa32 => pxe(Arch::Ia32, Undi::default()),
            Kind::UefiArm64 => pxe(Arch::Aarch64, Undi::default()),
            Kind::Bios => pxe(Arch::Bios, bios_undi),
            Kind::IpxeEfi => IpxeId {
                mac,
                build: Build::EfiX64,
                uuid: Some(uuid),
            }
            .discover(1, 4),
            Kind::IpxeBios => IpxeId {
                mac,
                build: Build::BiosUndi,
                uuid: Some(uuid),
            }
            .discover(1, 4),
            Kind::UefiHttp => {
                // HttpBootDhcp4.c: 60 "HTTPClient:Arch:00016:UNDI:003000", 93 = 0x0010.
                let mut m = Message {
                    op: 1,
                    htype: 1,
                    hlen: 6,
                    xid: 1,
                    flags: 0x8000,
                    ..Message::default()
                };
                m.chaddr[..6].copy_from_slice(&mac);
                m.options.push(53, &[1]);
                m.options.push(57, &1472u16.to_be_bytes());
                m.options
                    .push(55, &[1, 3, 6, 12, 13, 15, 17, 28, 43, 60, 66, 67]);
                m.options.push(93, &[0x00, 0x10]);
                m.options.push(94, &[1, 3, 0]);
                m.options.push(60, b"HTTPClient:Arch:00016:UNDI:003000");
                m.options.end();
                m
            }
        }
    }
}

/// Why the engine stayed silent, in an operator's words (Dhcpv4Srv's drop reasons).
fn silence_words(why: &Silence) -> String {
    match why {
        Silence::NoSubnet => "no subnet fits it (Kea's selectSubnet: every subnet is bound to \
                              another interface or relay, or restricted to a client class it \
                              lacks, or there are no subnets)"
            .into(),
        Silence::NoAddress => "no free address in the pools it may use (pools restricted to \
                               client classes it lacks, or all leased)"
            .into(),
        other => format!("{other:?}"),
    }
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// What to validate.
#[derive(Debug, Clone)]
pub struct Request {
    pub config: PathBuf,
    /// The release to validate against; `None`: the newest release whose grammar accepts
    /// the file.
    pub kea_version: Option<KeaVersion>,
    pub tftp_root: Option<PathBuf>,
    /// Warn when the pools hold fewer addresses than this many machines.
    pub storm: u64,
}

pub fn validate(req: &Request) -> Result<Report, SetupError> {
    let releases = release::releases(&req.config).unwrap_or_default();
    let kea_version = req
        .kea_version
        .unwrap_or_else(|| release::newest_accepting(&releases));
    let spec = ServerSpec {
        config: req.config.clone(),
        kea_version,
        tftp_root: req.tftp_root.clone(),
        server_addr: None,
        epoch: 1_700_000_000,
    };
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut matched: Vec<String> = Vec::new();
    let mut offered: Vec<(Kind, Option<String>)> = Vec::new();
    let server = build(&spec)?;
    let config = server.engine.config();
    let mut explainer = Explainer::new(config);
    for (i, kind) in Kind::ALL.iter().enumerate() {
        // The DHCP offer, straight from the engine.
        let mut server = build(&spec)?;
        let mac = [0x52, 0x54, 0x00, 0xaa, 0x00, i as u8 + 1];
        let query = kind.discover(mac);
        let frame = Datagram::new(
            mac,
            BROADCAST_MAC,
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
            SocketAddrV4::new(Ipv4Addr::BROADCAST, 67),
            query.encode(),
        )
        .to_frame();
        let answer = server
            .link
            .answer(&mut server.engine, 1_700_000_000, &frame);
        let (classes, reply, silence) = match answer {
            Ok(FrameAnswer::Reply { reply, classes, .. }) => (classes, Some(*reply), None),
            Ok(FrameAnswer::Silent { why, .. }) => (Vec::new(), None, Some(silence_words(&why))),
            Ok(other) => (Vec::new(), None, Some(format!("{other:?}"))),
            Err(e) => (Vec::new(), None, Some(e.to_string())),
        };
        explainer.firmware(kind.name(), &query, classes.iter().any(|c| c == "KNOWN"));
        let own: Vec<String> = classes
            .iter()
            .filter(|c| {
                !matches!(c.as_str(), "ALL" | "KNOWN" | "UNKNOWN")
                    && !c.starts_with("VENDOR_CLASS_")
                    && !c.starts_with("SPAWN_")
            })
            .cloned()
            .collect();
        matched.extend(own.iter().cloned());
        let file = reply.as_ref().and_then(|r| {
            let f = c_string(&r.file);
            if f.is_empty() {
                r.option(67).map(|v| c_string(&v)).filter(|s| !s.is_empty())
            } else {
                Some(f)
            }
        });
        let next_server = reply
            .as_ref()
            .map(|r| r.siaddr)
            .filter(|a| !a.is_unspecified());
        let name = kind.name().to_string();
        if reply.is_none() {
            problems.push(Problem {
                severity: Severity::Warning,
                firmware: Some(name.clone()),
                message: format!(
                    "the server does not answer this firmware's DISCOVER: {}",
                    silence.unwrap_or_default()
                ),
            });
        }
        if let Some(r) = &reply {
            let echoes = r.option(60).is_some_and(|v| v.starts_with(b"PXEClient"));
            if echoes && r.option(43).is_none() && !matches!(kind, Kind::IpxeEfi | Kind::IpxeBios) {
                problems.push(Problem {
                    severity: Severity::Error,
                    firmware: Some(name.clone()),
                    message: "the offer carries option 60 \"PXEClient\" without option 43: EDK2 then asks for its boot file on UDP 4011 and fails (PXE-E16); do not send option 60 to PXE clients".into(),
                });
            }
            if file.is_some()
                && next_server.is_none()
                && !file.as_deref().unwrap_or("").contains("://")
            {
                let sev = if matches!(kind, Kind::IpxeEfi | Kind::IpxeBios) {
                    Severity::Error
                } else {
                    Severity::Warning
                };
                problems.push(Problem {
                    severity: sev,
                    firmware: Some(name.clone()),
                    message: format!(
                        "boot file {} with no next-server (siaddr 0): iPXE then has nothing to boot and EDK2 falls back to the server identifier; set next-server in the class or subnet",
                        file.as_deref().unwrap_or("")
                    ),
                });
            }
            if file.is_none() && !matches!(kind, Kind::UefiHttp) {
                problems.push(Problem {
                    severity: Severity::Warning,
                    firmware: Some(name.clone()),
                    message: format!(
                        "no boot file for this firmware (classes: {})",
                        if own.is_empty() {
                            "none".into()
                        } else {
                            own.join(", ")
                        }
                    ),
                });
            }
        }
        if let (None, Some(f)) = (&req.tftp_root, &file) {
            if let Some(why) = bootfile::mismatch(*kind, f) {
                problems.push(Problem {
                    severity: Severity::Error,
                    firmware: Some(name.clone()),
                    message: format!(
                        "offered {f} by {}: {why}",
                        bootfile::source(config, &classes, f)
                    ),
                });
            }
        }
        offered.push((*kind, file.clone()));
        // The whole chain, when there is a TFTP root to boot from.
        let (chain, chain_ok) = match (&req.tftp_root, kind.firmware()) {
            (Some(_), Some(fw)) => {
                let mut lan = Lan::new(build(&spec)?);
                let client = Client {
                    firmware: fw,
                    mac,
                    uuid: [
                        0x4c, 0x4c, 0x45, 0x44, 0, 0x42, 0x35, 0x10, 0x80, 0x52, 0xb4, 0xc0, 0x4f,
                        0x38, 0x4d, i as u8,
                    ],
                    disks: vec![debian_disk()],
                    seed: 0x7a11_0000 + i as u32,
                };
                let mut station = ChainClient::new(client, Duration::ZERO);
                lan.run(&mut station as &mut dyn Station, Duration::from_secs(3600));
                let t = station.finish(&lan);
                match &t.outcome {
                    Outcome::Booted { loader, .. } => (
                        format!("booted {loader} in {} steps", t.steps.len()),
                        Some(true),
                    ),
                    Outcome::Failed {
                        step,
                        stage,
                        reason,
                        change,
                    } => {
                        let serious = reason.contains("chainload loop")
                            || stage == "start NBP"
                            || stage == "TFTP NBP"
                            || reason.contains("No such file")
                            || reason.contains("ended with status");
                        let mut message = format!("fails at step {step} ({stage}): {reason}");
                        if let Some(c) = change {
                            let _ = write!(message, "; {c}");
                        }
                        // A firmware the config gives nothing to is a warning above; a chain
                        // that starts and breaks is an error.
                        if serious {
                            problems.push(Problem {
                                severity: Severity::Error,
                                firmware: Some(name.clone()),
                                message,
                            });
                        } else if t
                            .console
                            .iter()
                            .any(|(_, _, l)| l.contains("Operation not supported"))
                        {
                            problems.push(Problem {
                                severity: Severity::Warning,
                                firmware: Some(name.clone()),
                                message: "the chain continues over HTTP, which bootsim does not emulate: not followed further".into(),
                            });
                        }
                        (format!("failed at {stage}"), Some(false))
                    }
                }
            }
            (Some(_), None) => ("not emulated".into(), None),
            (None, _) => ("not run (no --tftp-root)".into(), None),
        };
        rows.push(Row {
            firmware: name,
            classes: own,
            file,
            next_server,
            chain,
            chain_ok,
        });
    }
    // Without a TFTP root, loops show in the offers: iPXE offered what the firmware got.
    if req.tftp_root.is_none() {
        let uefi = offered
            .iter()
            .find(|(k, _)| *k == Kind::UefiX64)
            .and_then(|(_, f)| f.clone());
        let ipxe = offered
            .iter()
            .find(|(k, _)| *k == Kind::IpxeEfi)
            .and_then(|(_, f)| f.clone());
        if uefi.is_some() && uefi == ipxe {
            problems.push(Problem {
                severity: Severity::Error,
                firmware: Some("ipxe-efi".into()),
                message: format!(
                    "iPXE is offered the same file as UEFI x64 firmware ({}): if that file is iPXE, this is a chainload loop; make the iPXE class (user-class \"iPXE\") come first or exclude iPXE from the firmware's class",
                    uefi.unwrap_or_default()
                ),
            });
        }
    }
    for class in &config.classes {
        let gives = class.boot_file_name.is_some()
            || class.next_server.is_some()
            || !class.options.is_empty();
        let at = explainer
            .reports
            .iter()
            .find(|r| r.class == class.name)
            .map_or(String::new(), |r| r.at.clone());
        match explainer.never_true(&class.name) {
            Some((reason, true)) => {
                problems.push(Problem {
                    severity: Severity::Error,
                    firmware: None,
                    message: format!(
                        "class '{}' at {at}: its test is never true: {reason}",
                        class.name
                    ),
                });
                continue;
            }
            Some((reason, false)) => problems.push(Problem {
                severity: Severity::Warning,
                firmware: None,
                message: format!(
                    "class '{}' at {at}: part of its test is never true: {reason}",
                    class.name
                ),
            }),
            None => {}
        }
        if gives && !matched.contains(&class.name) {
            let file = class
                .span
                .file
                .rsplit('/')
                .next()
                .unwrap_or(&class.span.file)
                .to_string();
            problems.push(Problem {
                severity: Severity::Warning,
                firmware: None,
                message: format!(
                    "class '{}' at {file}:{} matches none of the firmware matrix{}",
                    class.name,
                    class.span.start.line,
                    explainer
                        .why_unmatched(&class.name)
                        .map_or(String::new(), |w| format!(": {w}"))
                ),
            });
        }
    }
    let pool_size: u64 = config
        .subnets
        .iter()
        .flat_map(|s| s.pools.iter())
        .map(|p| u64::from(u32::from(p.last)) - u64::from(u32::from(p.first)) + 1)
        .sum();
    if pool_size < req.storm {
        problems.push(Problem {
            severity: Severity::Warning,
            firmware: None,
            message: format!(
                "the pools hold {pool_size} addresses: a boot storm of {} machines gets DHCPNAKs and timeouts",
                req.storm
            ),
        });
    }
    Ok(Report {
        config: req.config.display().to_string(),
        kea_version: kea_version.to_string(),
        releases: releases.into_iter().map(|(_, r)| r).collect(),
        rows,
        classes: explainer.reports,
        problems,
    })
}

/// A disk with Debian's loaders, for the chains validate runs.
fn debian_disk() -> crate::disk::Disk {
    use crate::identify::synthetic::loader;
    crate::disk::Disk {
        name: "sda".into(),
        internal: true,
        volumes: vec![crate::disk::Volume::new("ESP")
            .with_file("EFI/debian/grubx64.efi", loader(0x8664, "grub"))
            .with_file("EFI/debian/grubia32.efi", loader(0x014c, "grub"))
            .with_file("EFI/debian/grubaa64.efi", loader(0xaa64, "grub"))],
    }
}
