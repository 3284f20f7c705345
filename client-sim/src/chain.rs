//! The chain driver: one client, stage after stage, as a real machine boots. Firmware PXE
//! downloads an NBP; what it is decides the next stage (identified by content, never by
//! name): iPXE runs its DHCP and its script, `chain` hands over to an EFI image, rEFInd scans
//! the disks and starts a loader. Every stage adds numbered steps to the transcript; a
//! failure stops the chain with its reason and, where the server's config explains it, what
//! to change.

use std::time::Duration;

use crate::disk::Disk;
use crate::firmware::ipxe::packets::{Build, Identity as IpxeIdentity};
use crate::firmware::ipxe::{Ipxe, IpxeEnd};
use crate::firmware::refind::{self, RefindEnd};
use crate::firmware::uefi_pxe::packets::{Arch, Identity as PxeIdentity, Undi};
use crate::firmware::uefi_pxe::{PxeError, UefiPxe};
use crate::identify::{identify, Image, Machine, Program};
use crate::net::lan::ServerNote;
use crate::net::Network;
use crate::transcript::{Outcome, Step, Transcript};

/// The firmware a client starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Firmware {
    UefiX64,
    UefiIa32,
    UefiArm64,
    Bios,
    IpxeEfi,
    IpxeBios,
}

impl Firmware {
    pub fn parse(name: &str) -> Option<Firmware> {
        Some(match name {
            "uefi-x64" => Firmware::UefiX64,
            "uefi-ia32" => Firmware::UefiIa32,
            "uefi-arm64" => Firmware::UefiArm64,
            "bios" => Firmware::Bios,
            "ipxe-efi" => Firmware::IpxeEfi,
            "ipxe-bios" => Firmware::IpxeBios,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Firmware::UefiX64 => "uefi-x64",
            Firmware::UefiIa32 => "uefi-ia32",
            Firmware::UefiArm64 => "uefi-arm64",
            Firmware::Bios => "bios",
            Firmware::IpxeEfi => "ipxe-efi",
            Firmware::IpxeBios => "ipxe-bios",
        }
    }

    /// The EFI machine this firmware runs images for (None: BIOS).
    pub fn machine(self) -> Option<Machine> {
        match self {
            Firmware::UefiX64 | Firmware::IpxeEfi => Some(Machine::X64),
            Firmware::UefiIa32 => Some(Machine::Ia32),
            Firmware::UefiArm64 => Some(Machine::Aarch64),
            Firmware::Bios | Firmware::IpxeBios => None,
        }
    }
}

/// One machine.
#[derive(Debug, Clone)]
pub struct Client {
    pub firmware: Firmware,
    pub mac: [u8; 6],
    pub uuid: [u8; 16],
    pub disks: Vec<Disk>,
    /// Seeds the transaction ids (deterministic transcripts).
    pub seed: u32,
}

/// How many times iPXE may be handed iPXE before it is called a loop.
const LOOP_ROUNDS: usize = 3;
/// Virtual time a stage may take before the run is cut.
const STAGE_LIMIT: Duration = Duration::from_secs(600);

struct Driver<'a> {
    lan: &'a mut dyn Network,
    client: &'a Client,
    t: Transcript,
}

fn mib(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1 << 20) as f64)
    } else {
        format!("{n} bytes")
    }
}

fn describe(bytes: &[u8]) -> String {
    match identify(bytes) {
        Image::Efi {
            machine, program, ..
        } => {
            let arch = match machine {
                Machine::X64 => "x86_64",
                Machine::Ia32 => "IA32",
                Machine::Aarch64 => "AArch64",
                Machine::Arm => "ARM",
                Machine::RiscV64 => "RISC-V",
                Machine::Other(_) => "unknown-arch",
            };
            let what = match program {
                Program::Ipxe => "iPXE",
                Program::Refind => "rEFInd",
                Program::Unknown => "EFI application",
            };
            format!("{arch} EFI, {what}")
        }
        Image::IpxeScript => "iPXE script".into(),
        Image::Pe { .. } => "PE image, not EFI".into(),
        Image::Raw {
            program: Program::Ipxe,
        } => "BIOS iPXE".into(),
        Image::Raw { .. }
            if bytes
                .iter()
                .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace()) =>
        {
            "text".into()
        }
        Image::Raw { .. } => "raw".into(),
    }
}

impl Driver<'_> {
    fn step(&mut self, stage: &str, at: Duration, detail: String) {
        self.t.steps.push(Step {
            number: self.t.steps.len() + 1,
            stage: stage.into(),
            at,
            detail,
        });
    }

    fn console(&mut self, source: &str, lines: impl IntoIterator<Item = (Duration, String)>) {
        for (at, text) in lines {
            self.t.console.push((at, source.to_string(), text));
        }
    }

    fn fail(&mut self, stage: &str, reason: String, change: Option<String>) {
        self.t.outcome = Outcome::Failed {
            step: self.t.steps.len() + 1,
            stage: stage.into(),
            reason,
            change,
        };
    }

    /// The classes the server put the last DHCP query of `since..` in, and the reply type.
    fn last_dhcp(&self, since: usize) -> Option<(Vec<String>, Option<u8>)> {
        self.lan.notes()[since..]
            .iter()
            .rev()
            .find_map(|n| match n {
                ServerNote::Dhcp {
                    classes,
                    reply_type,
                    ..
                } => Some((classes.clone(), *reply_type)),
                _ => None,
            })
    }

    /// Where the config defines `class` ("kea-dhcp4.conf:33"), for diagnoses.
    fn class_place(&self, class: &str) -> String {
        self.lan
            .config()
            .into_iter()
            .flat_map(|c| c.classes.iter())
            .find(|c| c.name == class)
            .map(|c| {
                let file = c
                    .span
                    .file
                    .rsplit('/')
                    .next()
                    .unwrap_or(&c.span.file)
                    .to_string();
                format!("'{class}' at {file}:{}", c.span.start.line)
            })
            .unwrap_or_else(|| format!("'{class}'"))
    }

    /// The first class with a boot-file-name among `classes` (Kea takes the first).
    fn boot_class(&self, classes: &[String]) -> Option<String> {
        let config = self.lan.config()?;
        classes
            .iter()
            .find(|c| {
                config
                    .classes
                    .iter()
                    .any(|k| &k.name == *c && k.boot_file_name.is_some())
            })
            .cloned()
    }

    /// ", classes ..." when the server's decisions are visible.
    fn class_text(&self, classes: &[String]) -> String {
        if self.lan.config().is_none() {
            return String::new();
        }
        format!(", {}", Self::user_classes(classes))
    }

    fn user_classes(classes: &[String]) -> String {
        let own: Vec<&String> = classes
            .iter()
            .filter(|c| {
                !matches!(c.as_str(), "ALL" | "KNOWN" | "UNKNOWN")
                    && !c.starts_with("VENDOR_CLASS_")
            })
            .collect();
        if own.is_empty() {
            "no class".into()
        } else {
            own.iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ")
        }
    }

    fn run(mut self) -> Transcript {
        let c = self.client;
        match c.firmware {
            Firmware::IpxeEfi => self.ipxe(Build::EfiX64, 0),
            Firmware::IpxeBios => self.ipxe(Build::BiosUndi, 0),
            _ => self.pxe(),
        }
        let last = self.t.steps.last().map(|s| s.at).unwrap_or_default();
        self.t.elapsed = self.lan.now().max(last);
        self.t
    }

    fn pxe(&mut self) {
        let c = self.client;
        let arch = match c.firmware {
            Firmware::UefiIa32 => Arch::Ia32,
            Firmware::UefiArm64 => Arch::Aarch64,
            Firmware::Bios => Arch::Bios,
            _ => Arch::X64,
        };
        let undi = if arch == Arch::Bios {
            Undi {
                kind: 1,
                major: 2,
                minor: 1,
            }
        } else {
            Undi::default()
        };
        let id = PxeIdentity {
            mac: c.mac,
            arch,
            undi,
            uuid: c.uuid,
        };
        let since = self.lan.notes().len();
        let start = self.lan.now();
        let mut pxe = UefiPxe::new(id, c.seed, Duration::from_millis(300));
        pxe.start(start);
        self.lan.run(&mut pxe, STAGE_LIMIT);
        let console: Vec<(Duration, String)> = pxe
            .console()
            .iter()
            .map(|l| (l.at, l.text.clone()))
            .collect();
        self.console("firmware", console);
        let dhcp = self.last_dhcp(since);
        let classes = dhcp.as_ref().map(|(c, _)| c.clone()).unwrap_or_default();
        let outcome = pxe.outcome().cloned();
        let Some(outcome) = outcome else {
            return self.fail("PXE", "the firmware did not finish in time".into(), None);
        };
        let nbp = match outcome {
            Ok(nbp) => nbp,
            Err(e) => {
                // A legacy BIOS ROM (PXE 2.1) reports an offer without a boot file name as
                // "PXE-E53: No boot filename received" where EDK2 says PXE-E16.
                let e = match (arch, e) {
                    (Arch::Bios, PxeError::E16) => PxeError::E53,
                    (_, e) => e,
                };
                let (stage, change) = match &e {
                    PxeError::E16 | PxeError::E53 => (
                        "PXE DHCP",
                        Some(format!(
                            "the server's answer to client-system {:#06x} ({}) has no boot file: \
                             add a class matching `option[client-system].hex == {:#06x}` with a \
                             boot-file-name and next-server",
                            arch.code(),
                            Self::user_classes(&classes),
                            arch.code()
                        )),
                    ),
                    PxeError::E18 => (
                        "PXE DHCP",
                        Some(
                            "no DHCP server answered: check interfaces-config and the subnet"
                                .into(),
                        ),
                    ),
                    PxeError::E23(text) if text.contains("error 1") => (
                        "TFTP NBP",
                        Some("the boot file named by the server is not in the TFTP root".into()),
                    ),
                    _ => ("PXE", None),
                };
                if stage == "TFTP NBP" {
                    self.pxe_dhcp_step(start, &classes);
                }
                return self.fail(stage, e.to_string(), change);
            }
        };
        self.pxe_dhcp_step(start, &classes);
        let at = self.lan.now();
        self.step(
            "TFTP NBP",
            at,
            format!(
                "{} from {}: {} ({})",
                nbp.name,
                nbp.server,
                mib(nbp.bytes.len()),
                describe(&nbp.bytes)
            ),
        );
        self.after_download(&nbp.name, &nbp.bytes, 0);
    }

    fn pxe_dhcp_step(&mut self, at: Duration, classes: &[String]) {
        let lease = self
            .lan
            .leased(self.client.mac)
            .map(|a| a.to_string())
            .unwrap_or_else(|| "?".into());
        let classes = self.class_text(classes);
        self.step("PXE DHCP", at, format!("{lease} leased{classes}"));
    }

    /// The firmware (or iPXE) is about to start `bytes`: what happens depends on what it is.
    fn after_download(&mut self, name: &str, bytes: &[u8], round: usize) {
        let fw = self.client.firmware;
        match (identify(bytes), fw.machine()) {
            (
                Image::Efi {
                    machine, program, ..
                },
                Some(want),
            ) => {
                if machine != want {
                    return self.fail(
                        "start NBP",
                        format!("{name} is a {} image; this {} firmware cannot start it (EFI_UNSUPPORTED)", describe(bytes), fw.name()),
                        Some(format!(
                            "serve a {} build to client-system {:#06x}: add a class for it",
                            want.efi_suffix(),
                            match fw {
                                Firmware::UefiArm64 => 0x000b,
                                Firmware::UefiIa32 => 0x0006,
                                _ => 0x0007,
                            }
                        )),
                    );
                }
                match program {
                    Program::Ipxe => self.ipxe(Build::EfiX64, round + 1),
                    _ => self.fail(
                        "start NBP",
                        format!(
                            "{name} ({}) is not a boot stage bootsim emulates",
                            describe(bytes)
                        ),
                        None,
                    ),
                }
            }
            (
                Image::Raw {
                    program: Program::Ipxe,
                },
                None,
            ) => self.ipxe(Build::BiosUndi, round + 1),
            (_, None) => self.fail(
                "start NBP",
                format!("{name} ({}) is not a BIOS iPXE image", describe(bytes)),
                None,
            ),
            (_, Some(_)) => self.fail(
                "start NBP",
                format!("{name} ({}) is not an EFI image", describe(bytes)),
                Some("the EFI firmware needs an EFI application here".into()),
            ),
        }
    }

    fn ipxe(&mut self, build: Build, round: usize) {
        if round > LOOP_ROUNDS {
            let classes = self.last_dhcp(0).map(|(c, _)| c).unwrap_or_default();
            let place = self
                .boot_class(&classes)
                .map(|c| self.class_place(&c))
                .unwrap_or_else(|| "a class".into());
            return self.fail(
                "iPXE DHCP",
                format!("chainload loop: iPXE was handed iPXE {round} times"),
                Some(format!(
                    "iPXE was offered its own binary again: class {place} also matches iPXE \
                     (user-class \"iPXE\"); exclude it with `not option[user-class].exists` or \
                     put the iPXE class first"
                )),
            );
        }
        let c = self.client;
        let since = self.lan.notes().len();
        let start = self.lan.now();
        let mut ipxe = Ipxe::new(
            IpxeIdentity {
                mac: c.mac,
                build,
                uuid: Some(c.uuid),
            },
            c.seed.wrapping_add(0x100 * (round as u32 + 1)),
        );
        ipxe.start(start);
        self.lan.run(&mut ipxe, STAGE_LIMIT);
        let console: Vec<(Duration, String)> = ipxe
            .console()
            .iter()
            .map(|l| (l.at, l.text.clone()))
            .collect();
        self.console("iPXE", console);
        let classes = self.last_dhcp(since).map(|(c, _)| c).unwrap_or_default();
        let Some(lease) = ipxe.lease().cloned() else {
            return self.fail(
                "iPXE DHCP",
                "iPXE got no DHCP lease (No configuration methods succeeded)".into(),
                None,
            );
        };
        let file = lease.filename().unwrap_or_default();
        self.step(
            "iPXE DHCP",
            start,
            format!(
                "{} leased{}, file {}",
                lease.address,
                self.class_text(&classes),
                if file.is_empty() {
                    "(none)".into()
                } else {
                    file.clone()
                }
            ),
        );
        for (i, image) in ipxe.images().iter().enumerate() {
            let stage = if i == 0 { "TFTP script" } else { "iPXE fetch" };
            self.step(
                stage,
                self.lan.now(),
                format!(
                    "{} as {}: {} ({})",
                    image.uri,
                    image.name,
                    mib(image.bytes.len()),
                    describe(&image.bytes)
                ),
            );
        }
        match ipxe.outcome().cloned() {
            Some(IpxeEnd::ExecEfi {
                image,
                volume,
                load_options,
            }) => {
                let kind = identify(&image.bytes);
                if matches!(
                    kind,
                    Image::Efi {
                        program: Program::Ipxe,
                        ..
                    }
                ) {
                    self.step(
                        "chain",
                        self.lan.now(),
                        format!("{} ({})", image.name, describe(&image.bytes)),
                    );
                    return self.ipxe(build, round + 1);
                }
                if !matches!(
                    kind,
                    Image::Efi {
                        program: Program::Refind,
                        ..
                    }
                ) {
                    return self.fail(
                        "chain",
                        format!(
                            "iPXE started {} ({}), which bootsim does not emulate",
                            image.name,
                            describe(&image.bytes)
                        ),
                        None,
                    );
                }
                self.step(
                    "chain",
                    self.lan.now(),
                    format!("{load_options} ({})", describe(&image.bytes)),
                );
                self.refind(&volume);
            }
            Some(IpxeEnd::ExecRaw { image }) => self.fail(
                "chain",
                format!(
                    "iPXE started the BIOS image {}, which bootsim does not emulate",
                    image.name
                ),
                None,
            ),
            Some(IpxeEnd::Returned { rc, reason }) => {
                let change = if file.is_empty() {
                    Some(format!(
                        "iPXE ({}, user-class iPXE) matched {}: no class gives it a boot file",
                        if build == Build::EfiX64 {
                            "client-system 0x0007"
                        } else {
                            "client-system 0x0000"
                        },
                        Self::user_classes(&classes)
                    ))
                } else {
                    None
                };
                self.fail(
                    "iPXE",
                    format!("iPXE returned to the firmware (status {rc}): {reason}"),
                    change,
                )
            }
            Some(IpxeEnd::WaitingForInput { command }) => self.fail(
                "iPXE",
                format!("the script waits for input at `{command}`; no key will come"),
                Some("give the command a --timeout".into()),
            ),
            Some(IpxeEnd::Stopped { command }) => {
                self.fail("iPXE", format!("the script ran `{command}`"), None)
            }
            None => self.fail("iPXE", "iPXE did not finish in time".into(), None),
        }
    }

    fn refind(&mut self, volume: &[crate::firmware::ipxe::Image]) {
        // refind.conf from iPXE's volume (the image named refind.conf), firmware.md C.1.
        let conf = volume
            .iter()
            .find(|i| i.name.eq_ignore_ascii_case("refind.conf"))
            .map(|i| i.bytes.clone());
        let machine = self.client.firmware.machine().unwrap_or(Machine::X64);
        let start = self.lan.now();
        let run = refind::run(conf.as_deref(), &self.client.disks, machine);
        let console: Vec<(Duration, String)> = run
            .console
            .iter()
            .map(|(at, l)| (start + *at, l.clone()))
            .collect();
        self.console("rEFInd", console);
        self.t.lints.extend(
            run.config
                .lints
                .iter()
                .map(|l| format!("refind.conf:{}: {}", l.line, l.message)),
        );
        self.step(
            "rEFInd scan",
            start,
            format!(
                "{} loader(s) on {} disk(s){}",
                run.entries.len(),
                self.client.disks.len(),
                if conf.is_none() {
                    ", refind.conf missing"
                } else {
                    ""
                }
            ),
        );
        let at = start + run.elapsed;
        match run.end {
            RefindEnd::Booted { entry } => {
                self.step(
                    "boot",
                    at,
                    format!(
                        "{} on disk {} ({}, volume {})",
                        entry.path, entry.disk, entry.disk_name, entry.volume
                    ),
                );
                self.t.outcome = Outcome::Booted {
                    loader: entry.path,
                    disk: entry.disk,
                    disk_name: entry.disk_name,
                    volume: entry.volume,
                };
            }
            RefindEnd::LoadFailed { entry, error } => self.fail(
                "boot",
                format!("{} on disk {}: {error}", entry.path, entry.disk),
                Some("the loader is built for another architecture".into()),
            ),
            RefindEnd::NoLoaders => self.fail(
                "rEFInd scan",
                "rEFInd found no loader to boot".into(),
                Some(format!(
                    "scanfor is {:?}: no EFI loader on those disks",
                    run.config.scanfor
                )),
            ),
            RefindEnd::WaitingAtMenu { reason } => self.fail("rEFInd menu", reason, None),
        }
    }
}

/// Boots `client` on `lan` and tells how it went.
pub fn boot(lan: &mut dyn Network, client: &Client) -> Transcript {
    let driver = Driver {
        lan,
        client,
        t: Transcript::new(client.firmware.name(), client.mac),
    };
    driver.run()
}
