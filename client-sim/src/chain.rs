//! The chain driver: one client, stage after stage, as a real machine boots. Firmware PXE
//! downloads an NBP; what it is decides the next stage (identified by content, never by
//! name): iPXE runs its DHCP and its script, `chain` hands over to an EFI image, rEFInd scans
//! the disks and starts a loader. Every stage adds numbered steps to the transcript; a
//! failure stops the chain with its reason and, where the server's config explains it, what
//! to change.

use std::time::Duration;

use crate::content::Content;
use crate::disk::Disk;
use crate::firmware::ipxe::keyboard::Keyboard;
use crate::firmware::ipxe::packets::{Build, Identity as IpxeIdentity};
use crate::firmware::ipxe::{Ipxe, IpxeEnd};
use crate::firmware::refind::{self, RefindEnd};
use crate::firmware::uefi_pxe::packets::{Arch, Identity as PxeIdentity, Undi};
use crate::firmware::uefi_pxe::{PxeError, UefiPxe};
use crate::identify::{Image, Machine, Program};
use crate::net::lan::{ServerNote, Station};
use crate::net::Network;
use crate::transcript::{Outcome, Step, Transcript};
use netbootd::wire::frame::Datagram;

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

pub fn mib(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1 << 20) as f64)
    } else {
        format!("{n} bytes")
    }
}

pub fn describe(content: &Content) -> String {
    content.image().describe(content.bytes())
}

/// What a failure's "what to change" needs from the server, worked out once the run is over
/// (the server's decisions are only known to the network, not to the client).
#[derive(Debug, Clone)]
enum Change {
    Text(String),
    /// The DHCP answer in `window` had no boot file for this architecture.
    NoBootFile {
        arch: u16,
        window: (Duration, Duration),
    },
    /// iPXE was handed iPXE again: name the class that gave the file.
    Loop {
        window: (Duration, Duration),
    },
    /// iPXE got no boot file.
    IpxeNoFile {
        arch: u16,
        window: (Duration, Duration),
        server: std::net::Ipv4Addr,
    },
}

/// The stage running now.
enum Stage {
    Pxe {
        machine: Box<UefiPxe>,
        arch: Arch,
        start: Duration,
    },
    Ipxe {
        machine: Box<Ipxe>,
        build: Build,
        round: usize,
        start: Duration,
    },
    Done,
}

/// One machine booting, as a [`Station`]: stages follow each other inside it, so many
/// machines can boot on one segment at once.
pub struct ChainClient {
    client: Client,
    retransmits: Retransmits,
    stage: Stage,
    t: Transcript,
    /// DHCP steps whose classes are filled in from the server's notes at the end.
    dhcp_windows: Vec<(usize, (Duration, Duration))>,
    change: Option<Change>,
    now: Duration,
    /// The version of the iPXE build about to start, when it is one from before v1.20.
    legacy: Option<String>,
    /// The scripted keyboard: handed to each iPXE in turn, so inputs are consumed in
    /// order across the whole chain.
    keyboard: Keyboard,
    /// The item labels of the first menu an iPXE script showed (for `validate`).
    first_menu: Option<Vec<String>>,
}

impl ChainClient {
    pub fn new(client: Client, now: Duration) -> ChainClient {
        ChainClient::with_keyboard(client, now, Keyboard::default())
    }

    /// A machine with someone at its console typing `keyboard`'s inputs when iPXE asks.
    pub fn with_keyboard(client: Client, now: Duration, keyboard: Keyboard) -> ChainClient {
        let t = Transcript::new(client.firmware.name(), client.mac);
        let mut c = ChainClient {
            retransmits: Retransmits::default(),
            stage: Stage::Done,
            t,
            dhcp_windows: Vec::new(),
            change: None,
            now,
            legacy: None,
            keyboard,
            first_menu: None,
            client,
        };
        match c.client.firmware {
            Firmware::IpxeEfi => c.start_ipxe(now, Build::EfiX64, 0),
            Firmware::IpxeBios => c.start_ipxe(now, Build::BiosUndi, 0),
            _ => c.start_pxe(now),
        }
        c
    }

    pub fn transcript(&self) -> &Transcript {
        &self.t
    }

    /// The item labels of the first menu an iPXE script of the chain showed at `choose`.
    pub fn first_menu(&self) -> Option<&[String]> {
        self.first_menu.as_deref()
    }

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

    fn fail(&mut self, stage: &str, reason: String, change: Option<Change>) {
        self.t.outcome = Outcome::Failed {
            step: self.t.steps.len() + 1,
            stage: stage.into(),
            reason,
            change: None,
        };
        self.change = change;
        self.stage = Stage::Done;
    }

    fn start_pxe(&mut self, now: Duration) {
        let c = &self.client;
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
        let mut machine = UefiPxe::new(id, c.seed, Duration::from_millis(300));
        machine.start(now);
        self.stage = Stage::Pxe {
            machine: Box::new(machine),
            arch,
            start: now,
        };
    }

    fn start_ipxe(&mut self, now: Duration, build: Build, round: usize) {
        if round > LOOP_ROUNDS {
            let window = self
                .dhcp_windows
                .last()
                .map(|(_, w)| *w)
                .unwrap_or_default();
            return self.fail(
                "iPXE DHCP",
                format!("chainload loop: iPXE was handed iPXE {round} times"),
                Some(Change::Loop { window }),
            );
        }
        let c = &self.client;
        let mut machine = Ipxe::new(
            IpxeIdentity {
                mac: c.mac,
                build,
                uuid: Some(c.uuid),
            },
            c.seed.wrapping_add(0x100 * (round as u32 + 1)),
        );
        // An iPXE build identified by content as one from before v1.20 (Debian 12's): its
        // banner and links, and `ifconf` waiting for its IPv6 configurator
        // (ipxe::machine::ipv6conf; OBSERVED under QEMU: "Configuring" lasts 16-20 s with
        // no IPv6 router).
        if let Some(version) = self.legacy.clone() {
            machine.set_ipv6_configurator(crate::firmware::ipxe::machine::ipv6conf::LEGACY);
            machine.set_legacy_version(version);
        }
        machine.set_keyboard(std::mem::take(&mut self.keyboard));
        machine.start(now);
        self.stage = Stage::Ipxe {
            machine: Box::new(machine),
            build,
            round,
            start: now,
        };
    }

    /// Moves on when the current stage has finished.
    fn advance(&mut self, now: Duration) {
        self.now = now;
        let finished = match &self.stage {
            Stage::Pxe { machine, .. } => Station::finished(machine.as_ref()),
            Stage::Ipxe { machine, .. } => machine.finished(),
            Stage::Done => false,
        };
        if !finished {
            return;
        }
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Pxe {
                machine,
                arch,
                start,
            } => self.pxe_done(now, *machine, arch, start),
            Stage::Ipxe {
                machine,
                build,
                round,
                start,
            } => self.ipxe_done(now, *machine, build, round, start),
            Stage::Done => {}
        }
    }

    fn pxe_done(&mut self, now: Duration, pxe: UefiPxe, arch: Arch, start: Duration) {
        let console: Vec<(Duration, String)> = pxe
            .console()
            .iter()
            .map(|l| (l.at, l.text.clone()))
            .collect();
        self.console("firmware", console);
        let Some(outcome) = pxe.outcome().cloned() else {
            return self.fail("PXE", "the firmware did not finish in time".into(), None);
        };
        let window = (start, now);
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
                        Some(Change::NoBootFile {
                            arch: arch.code(),
                            window,
                        }),
                    ),
                    PxeError::E07(text) if text.contains("NAK") => (
                        "PXE DHCP",
                        Some(Change::Text(
                            "the server refused the address it had offered (DHCPNAK): another \
                             client took it first; the pool may be too small for this many \
                             machines"
                                .into(),
                        )),
                    ),
                    PxeError::E18 => (
                        "PXE DHCP",
                        Some(Change::Text(
                            "no DHCP server answered: check interfaces-config and the subnet"
                                .into(),
                        )),
                    ),
                    PxeError::E23(text) if text.contains("error 1") => (
                        "TFTP NBP",
                        Some(Change::Text(
                            "the boot file named by the server is not in the TFTP root".into(),
                        )),
                    ),
                    _ => ("PXE", None),
                };
                if stage == "TFTP NBP" {
                    self.dhcp_step("PXE DHCP", start, window, None, None);
                }
                return self.fail(stage, e.to_string(), change);
            }
        };
        self.dhcp_step("PXE DHCP", start, window, Some(nbp.station), None);
        self.step(
            "TFTP NBP",
            now,
            format!(
                "{} from {}: {} ({})",
                nbp.name,
                nbp.server,
                mib(nbp.bytes.len()),
                describe(&nbp.bytes)
            ),
        );
        self.after_download(now, &nbp.name, &nbp.bytes, 0);
    }

    fn dhcp_step(
        &mut self,
        stage: &str,
        at: Duration,
        window: (Duration, Duration),
        address: Option<std::net::Ipv4Addr>,
        file: Option<String>,
    ) {
        let address = address.map_or("?".to_string(), |a| a.to_string());
        let file = file.map(|f| format!(", file {f}")).unwrap_or_default();
        self.dhcp_windows.push((self.t.steps.len(), window));
        self.step(stage, at, format!("{address} leased{file}"));
    }

    /// The firmware (or iPXE) is about to start `bytes`: what happens depends on what it is.
    fn after_download(&mut self, now: Duration, name: &str, bytes: &Content, round: usize) {
        let fw = self.client.firmware;
        match (bytes.image().clone(), fw.machine()) {
            (
                Image::Efi {
                    machine, program, ..
                },
                Some(want),
            ) => {
                if machine != want {
                    let arch = match fw {
                        Firmware::UefiArm64 => 0x000b,
                        Firmware::UefiIa32 => 0x0006,
                        _ => 0x0007,
                    };
                    return self.fail(
                        "start NBP",
                        format!(
                            "{name} is a {} image; this {} firmware cannot start it (EFI_UNSUPPORTED)",
                            describe(bytes),
                            fw.name()
                        ),
                        Some(Change::Text(format!(
                            "serve a {} build to client-system {arch:#06x}: add a class for it",
                            want.efi_suffix()
                        ))),
                    );
                }
                match program {
                    Program::Ipxe => {
                        self.legacy = bytes.legacy_ipxe().map(str::to_string);
                        self.start_ipxe(now, Build::EfiX64, round + 1);
                    }
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
            ) => {
                self.legacy = bytes.legacy_ipxe().map(str::to_string);
                self.start_ipxe(now, Build::BiosUndi, round + 1);
            }
            (_, None) => self.fail(
                "start NBP",
                format!("{name} ({}) is not a BIOS iPXE image", describe(bytes)),
                None,
            ),
            (_, Some(_)) => self.fail(
                "start NBP",
                format!("{name} ({}) is not an EFI image", describe(bytes)),
                Some(Change::Text(
                    "the EFI firmware needs an EFI application here".into(),
                )),
            ),
        }
    }

    fn ipxe_done(
        &mut self,
        now: Duration,
        mut ipxe: Ipxe,
        build: Build,
        round: usize,
        start: Duration,
    ) {
        self.keyboard = ipxe.take_keyboard();
        if self.first_menu.is_none() {
            self.first_menu = ipxe.first_menu().map(<[String]>::to_vec);
        }
        let console: Vec<(Duration, String)> = ipxe
            .console()
            .iter()
            .map(|l| (l.at, l.text.clone()))
            .collect();
        self.console("iPXE", console);
        let arch = build.arch();
        let Some(lease) = ipxe.lease().cloned() else {
            return self.fail(
                "iPXE DHCP",
                "iPXE got no DHCP lease (No configuration methods succeeded)".into(),
                None,
            );
        };
        let file = lease.filename().unwrap_or_default();
        let dhcp_end = ipxe.images().first().map_or(now, |i| i.at);
        let window = (start, dhcp_end);
        self.dhcp_step(
            "iPXE DHCP",
            start,
            window,
            Some(lease.address),
            Some(if file.is_empty() {
                "(none)".into()
            } else {
                file.clone()
            }),
        );
        // Downloads and what the console's input did, in the order they happened.
        let mut events: Vec<(usize, &'static str, Duration, String)> = Vec::new();
        for (i, image) in ipxe.images().iter().enumerate() {
            let stage = if i == 0 { "TFTP script" } else { "iPXE fetch" };
            let detail = format!(
                "{} as {}: {} ({})",
                image.uri,
                image.name,
                mib(image.bytes.len()),
                describe(&image.bytes)
            );
            events.push((2 * image.seq + 1, stage, image.at, detail));
        }
        for input in ipxe.inputs() {
            events.push((
                2 * input.after_fetches,
                "iPXE input",
                input.at,
                input.what.clone(),
            ));
        }
        events.sort_by_key(|(order, ..)| *order);
        for (_, stage, at, detail) in events {
            self.step(stage, at, detail);
        }
        match ipxe.outcome().cloned() {
            Some(IpxeEnd::ExecEfi {
                image,
                volume,
                load_options,
            }) => {
                let kind = image.bytes.image().clone();
                if matches!(
                    kind,
                    Image::Efi {
                        program: Program::Ipxe,
                        ..
                    }
                ) {
                    self.step(
                        "chain",
                        now,
                        format!("{} ({})", image.name, describe(&image.bytes)),
                    );
                    return self.start_ipxe(now, build, round + 1);
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
                    now,
                    format!("{load_options} ({})", describe(&image.bytes)),
                );
                self.refind(now, &volume);
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
                let change = file.is_empty().then_some(Change::IpxeNoFile {
                    arch,
                    window,
                    server: lease.server,
                });
                self.fail(
                    "iPXE",
                    format!("iPXE returned to the firmware (status {rc}): {reason}"),
                    change,
                )
            }
            Some(IpxeEnd::WaitingForInput { command }) => self.fail(
                "iPXE",
                format!("the script waits for input at `{command}`; no key will come"),
                Some(Change::Text(
                    "give the command a --timeout, or type for it (bootsim boot --choose/--keys, \
                     a scenario client's input)"
                        .into(),
                )),
            ),
            Some(IpxeEnd::InputRefused {
                command,
                input,
                reason,
            }) => self.fail(
                "iPXE",
                format!("the scripted input `{input}` does not fit `{command}`: {reason}"),
                None,
            ),
            Some(IpxeEnd::Stopped { command }) => {
                self.fail("iPXE", format!("the script ran `{command}`"), None)
            }
            None => self.fail("iPXE", "iPXE did not finish in time".into(), None),
        }
    }

    fn refind(&mut self, start: Duration, volume: &[crate::firmware::ipxe::Image]) {
        // refind.conf from iPXE's volume (the image named refind.conf), firmware.md C.1.
        let conf = volume
            .iter()
            .find(|i| i.name.eq_ignore_ascii_case("refind.conf"))
            .map(|i| i.bytes.bytes().to_vec());
        let machine = self.client.firmware.machine().unwrap_or(Machine::X64);
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
                Some(Change::Text(
                    "the loader is built for another architecture".into(),
                )),
            ),
            RefindEnd::NoLoaders => self.fail(
                "rEFInd scan",
                "rEFInd found no loader to boot".into(),
                Some(Change::Text(format!(
                    "scanfor is {:?}: no EFI loader on those disks",
                    run.config.scanfor
                ))),
            ),
            RefindEnd::WaitingAtMenu { reason } => self.fail("rEFInd menu", reason, None),
        }
    }

    /// The transcript, with what only the network knows filled in: the classes the server
    /// put each DHCP query in, and the "what to change" that names them.
    pub fn finish(mut self, net: &dyn Network) -> Transcript {
        let mac = self.client.mac;
        let about = net.notes_about(mac);
        let classes_in = |window: (Duration, Duration)| -> Vec<String> {
            about
                .iter()
                .filter_map(|n| match n {
                    ServerNote::Dhcp {
                        at,
                        mac: m,
                        classes,
                        reply_type,
                        ..
                    } if *m == mac
                        && *at >= window.0
                        && *at <= window.1
                        && reply_type.is_some() =>
                    {
                        Some(classes.clone())
                    }
                    _ => None,
                })
                .next_back()
                .unwrap_or_default()
        };
        if net.config().is_some() {
            for (index, window) in &self.dhcp_windows {
                let classes = user_classes(&classes_in(*window));
                if let Some(step) = self.t.steps.get_mut(*index) {
                    step.detail = match step.detail.split_once(" leased") {
                        Some((a, rest)) => format!("{a} leased, {classes}{rest}"),
                        None => step.detail.clone(),
                    };
                }
            }
        }
        let text = self.change.take().map(|c| match c {
            Change::Text(t) => t,
            Change::NoBootFile { arch, window } => {
                let others = other_servers(net, mac, window);
                if others.is_empty() {
                    format!(
                        "the server's answer to client-system {arch:#06x} ({}) has no boot file: \
                         add a class matching `option[client-system].hex == {arch:#06x}` with a \
                         boot-file-name and next-server",
                        user_classes(&classes_in(window))
                    )
                } else {
                    format!(
                        "another DHCP server answered too ({}): EDK2 takes an offer that carries \
                         option 60 \"PXEClient\" over one with a boot file, then asks that \
                         server on UDP 4011; stop it from answering PXE clients (or from sending \
                         option 60)",
                        others.join(", ")
                    )
                }
            }
            Change::Loop { window } => {
                let classes = classes_in(window);
                let place = boot_class(net, &classes)
                    .map(|c| class_place(net, &c))
                    .unwrap_or_else(|| "a class".into());
                format!(
                    "iPXE was offered its own binary again: class {place} also matches iPXE \
                     (user-class \"iPXE\"); exclude it with `not option[user-class].exists` or \
                     put the iPXE class first"
                )
            }
            Change::IpxeNoFile {
                arch,
                window,
                server,
            } => {
                if net.server_addr().is_some_and(|ours| ours != server) {
                    format!(
                        "iPXE took its lease from another DHCP server ({server}), which gives no \
                         boot file: iPXE keeps the last offer of the highest priority; remove \
                         that server from this segment, or raise netbootd's with \
                         option 175.1 (priority)"
                    )
                } else {
                    format!(
                        "iPXE (client-system {arch:#06x}, user-class iPXE) matched {}: no class \
                         gives it a boot file",
                        user_classes(&classes_in(window))
                    )
                }
            }
        });
        if let Outcome::Failed { change, .. } = &mut self.t.outcome {
            *change = text;
        }
        let last = self.t.steps.last().map(|s| s.at).unwrap_or_default();
        self.t.elapsed = self.now.max(last);
        self.t
    }
}

/// Other servers that answered `mac` within `window`.
fn other_servers(net: &dyn Network, mac: [u8; 6], window: (Duration, Duration)) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in net.notes_about(mac) {
        if let ServerNote::Dhcp {
            at,
            server,
            server_addr,
            mac: m,
            reply_type: Some(_),
            ..
        } = n
        {
            let addr = server_addr.to_string();
            if *server != 0
                && *m == mac
                && *at >= window.0
                && *at <= window.1
                && !out.contains(&addr)
            {
                out.push(addr);
            }
        }
    }
    out
}

fn user_classes(classes: &[String]) -> String {
    let own: Vec<&String> = classes
        .iter()
        .filter(|c| {
            !matches!(c.as_str(), "ALL" | "KNOWN" | "UNKNOWN") && !c.starts_with("VENDOR_CLASS_")
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

/// Where the config defines `class` ("kea-dhcp4.conf:33"), for diagnoses.
fn class_place(net: &dyn Network, class: &str) -> String {
    net.config()
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
fn boot_class(net: &dyn Network, classes: &[String]) -> Option<String> {
    let config = net.config()?;
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

impl Station for ChainClient {
    fn poll_transmit(&mut self) -> Option<Datagram> {
        loop {
            let d = match &mut self.stage {
                Stage::Pxe { machine, .. } => machine.poll_transmit(),
                Stage::Ipxe { machine, .. } => machine.poll_transmit(),
                Stage::Done => return None,
            };
            if let Some(d) = d {
                self.retransmits.observe(&d);
                self.t.retransmissions = self.retransmits.count;
                return Some(d);
            }
            // Everything the stage had queued has left: it may now be finished.
            let before = std::mem::discriminant(&self.stage);
            let steps = self.t.steps.len();
            self.advance(self.now);
            if std::mem::discriminant(&self.stage) == before && self.t.steps.len() == steps {
                return None;
            }
        }
    }

    fn handle(&mut self, now: Duration, d: &Datagram) {
        self.now = now;
        match &mut self.stage {
            Stage::Pxe { machine, .. } => machine.handle(now, d),
            Stage::Ipxe { machine, .. } => machine.handle(now, d),
            Stage::Done => return,
        }
        self.advance(now);
    }

    fn handle_timeout(&mut self, now: Duration) {
        self.now = now;
        match &mut self.stage {
            Stage::Pxe { machine, .. } => machine.handle_timeout(now),
            Stage::Ipxe { machine, .. } => machine.handle_timeout(now),
            Stage::Done => return,
        }
        self.advance(now);
    }

    fn poll_timeout(&self) -> Option<Duration> {
        match &self.stage {
            Stage::Pxe { machine, .. } => machine.poll_timeout(),
            Stage::Ipxe { machine, .. } => machine.poll_timeout(),
            Stage::Done => None,
        }
    }

    fn finished(&self) -> bool {
        matches!(self.stage, Stage::Done)
    }

    fn mac(&self) -> Option<[u8; 6]> {
        Some(self.client.mac)
    }
}

/// Counts the frames a client sent again: a DHCP message of the same type as the one before
/// it, a TFTP request or acknowledgement repeating the last one sent from that port.
#[derive(Debug, Default)]
struct Retransmits {
    count: u32,
    last_dhcp: Option<u8>,
    last_tftp: std::collections::HashMap<u16, Vec<u8>>,
}

impl Retransmits {
    fn observe(&mut self, d: &Datagram) {
        if d.dst.port() == 67 || d.dst.port() == 4011 {
            let kind = netbootd::wire::dhcp::Message::decode(&d.payload)
                .ok()
                .and_then(|m| m.message_type());
            if kind.is_some() && kind == self.last_dhcp {
                self.count += 1;
            }
            self.last_dhcp = kind;
            return;
        }
        let op = d.payload.get(..2);
        let tftp = matches!(op, Some([0, 1]) | Some([0, 4]));
        if tftp {
            let again = self.last_tftp.get(&d.src.port()) == Some(&d.payload);
            if again {
                self.count += 1;
            }
            self.last_tftp.insert(d.src.port(), d.payload.clone());
        }
    }
}

/// Boots `client` on `net` and tells how it went.
pub fn boot(net: &mut dyn Network, client: &Client) -> Transcript {
    boot_with_keyboard(net, client, Keyboard::default())
}

/// [`boot`] with someone typing `keyboard`'s inputs at the console when iPXE asks.
pub fn boot_with_keyboard(
    net: &mut dyn Network,
    client: &Client,
    keyboard: Keyboard,
) -> Transcript {
    let mut station = ChainClient::with_keyboard(client.clone(), net.now(), keyboard);
    // A stage that finishes inside `new` (none do today) or after the last frame: settle.
    net.run(&mut station, STAGE_LIMIT * 4);
    station.finish(net)
}
