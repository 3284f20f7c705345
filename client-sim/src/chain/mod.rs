//! The chain driver: one client, stage after stage, as a real machine boots. Firmware PXE
//! downloads an NBP; what it is decides the next stage (identified by content, never by
//! name): iPXE runs its DHCP and its script, `chain` hands over to an EFI image, rEFInd scans
//! the disks and starts a loader. Every stage adds numbered steps to the transcript; a
//! failure stops the chain with its reason and, where the server's config explains it, what
//! to change.

use std::time::Duration;

use netbootd::time::Instant;
use netbootd::wire::MacAddr;

mod diagnose;
mod firmware;
mod retransmits;
mod station;

pub use firmware::Firmware;

use crate::content::Content;
use crate::disk::Disk;
use crate::firmware::ipxe::keyboard::Keyboard;
use crate::firmware::ipxe::packets::{Build, Identity as IpxeIdentity};
use crate::firmware::ipxe::{Ipxe, IpxeEnd};
use crate::firmware::refind::{self, RefindEnd};
use crate::firmware::uefi_pxe::packets::{Arch, Identity as PxeIdentity, Undi};
use crate::firmware::uefi_pxe::{PxeError, UefiPxe};
use crate::identify::{Image, Machine, Program};
use crate::net::lan::Station;
use crate::net::Network;
use crate::transcript::{Classes, DhcpClient, Download, Outcome, Stage, StepKind, Transcript};
use diagnose::{Change, Diagnosis, Window};
use retransmits::Retransmits;

/// One machine.
#[derive(Debug, Clone)]
pub struct Client {
    pub firmware: Firmware,
    pub mac: MacAddr,
    pub uuid: [u8; 16],
    pub disks: Vec<Disk>,
    /// Seeds the transaction ids (deterministic transcripts).
    pub seed: u32,
}

/// How many times iPXE may be handed iPXE before it is called a loop.
const LOOP_ROUNDS: usize = 3;
/// Virtual time a stage may take before the run is cut.
const STAGE_LIMIT: Duration = Duration::from_secs(600);

/// The stage running now. The firmware's PXE is held inline (its download is most of a
/// storm's events: one trip to memory fewer each); iPXE is larger and boxed.
#[allow(clippy::large_enum_variant)]
enum Running {
    Pxe {
        machine: UefiPxe,
        arch: Arch,
        start: Instant,
    },
    Ipxe {
        machine: Box<Ipxe>,
        build: Build,
        round: usize,
        start: Instant,
    },
    Done,
}

/// One machine booting, as a [`Station`]: stages follow each other inside it, so many
/// machines can boot on one segment at once.
pub struct ChainClient {
    client: Client,
    retransmits: Retransmits,
    stage: Running,
    t: Transcript,
    /// DHCP steps whose classes are filled in from the server's notes at the end.
    dhcp_windows: Vec<(usize, Window)>,
    change: Option<Change>,
    now: Instant,
    /// The version of the iPXE build about to start, when it is one from before v1.20.
    legacy: Option<String>,
    /// The scripted keyboard: handed to each iPXE in turn, so inputs are consumed in
    /// order across the whole chain.
    keyboard: Keyboard,
    /// The item labels of the first menu an iPXE script showed (for `validate`).
    first_menu: Option<Vec<String>>,
    /// How far into its first second Dhcp4Dxe's periodic tick falls (see [`TICK_PHASE`]).
    tick_phase: Duration,
}

/// Dhcp4Dxe counts its retransmission timeouts down on a periodic 1-second tick armed when
/// the driver starts (`Dhcp4DriverBindingStart`: `SetTimer (DhcpSb->Timer, TimerPeriodic,
/// TICKS_PER_SECOND)`; `DhcpOnTimerTick` retransmits when `PacketToLive` reaches 0, and
/// `DhcpSetTransmitTimer` adds no jitter), so a retransmission falls on that tick, whose
/// phase against the first DISCOVER depends on how long the machine took to get from the
/// driver's start to PXE. One machine: 300 ms (OBSERVED 3.12 s for the first window under
/// QEMU is within a tick of it); a storm draws each machine's ([`ChainClient::with_tick_phase`]).
pub const TICK_PHASE: Duration = Duration::from_millis(300);

impl ChainClient {
    pub fn new(client: Client, now: Instant) -> ChainClient {
        ChainClient::with_keyboard(client, now, Keyboard::default())
    }

    /// A machine with someone at its console typing `keyboard`'s inputs when iPXE asks.
    pub fn with_keyboard(client: Client, now: Instant, keyboard: Keyboard) -> ChainClient {
        ChainClient::start(client, now, keyboard, TICK_PHASE)
    }

    /// A machine whose Dhcp4Dxe tick falls `tick_phase` (under 1 s) into its first second.
    pub fn with_tick_phase(client: Client, now: Instant, tick_phase: Duration) -> ChainClient {
        ChainClient::start(client, now, Keyboard::default(), tick_phase)
    }

    fn start(client: Client, now: Instant, keyboard: Keyboard, tick_phase: Duration) -> Self {
        let t = Transcript::new(client.firmware.name(), client.mac);
        let mut c = ChainClient {
            retransmits: Retransmits::default(),
            stage: Running::Done,
            t,
            dhcp_windows: Vec::new(),
            change: None,
            now,
            legacy: None,
            keyboard,
            first_menu: None,
            tick_phase,
            client,
        };
        match c.client.firmware {
            Firmware::IpxeEfi => c.start_ipxe(now, Build::EfiX64, 0),
            Firmware::IpxeBios => c.start_ipxe(now, Build::BiosUndi, 0),
            Firmware::UefiHttp => c.fail(
                Stage::Start,
                "UEFI HTTP boot is not emulated by bootsim's chain (validate shows its offer)"
                    .into(),
                None,
            ),
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

    fn step(&mut self, at: Instant, kind: StepKind) {
        self.t.push(at, kind);
    }

    fn console(&mut self, source: &str, lines: impl IntoIterator<Item = (Instant, String)>) {
        for (at, text) in lines {
            self.t.console.push((at, source.to_string(), text));
        }
    }

    fn fail(&mut self, stage: Stage, reason: String, change: Option<Change>) {
        self.t.outcome = Outcome::Failed {
            step: self.t.steps.len() + 1,
            stage,
            reason,
            change: None,
        };
        self.change = change;
        self.stage = Running::Done;
    }

    fn start_pxe(&mut self, now: Instant) {
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
        let mut machine = UefiPxe::new(id, c.seed, self.tick_phase);
        machine.start(now);
        self.stage = Running::Pxe {
            machine,
            arch,
            start: now,
        };
    }

    fn start_ipxe(&mut self, now: Instant, build: Build, round: usize) {
        if round > LOOP_ROUNDS {
            let window = self
                .dhcp_windows
                .last()
                .map(|(_, w)| *w)
                .unwrap_or_default();
            return self.fail(
                Stage::IpxeDhcp,
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
        self.stage = Running::Ipxe {
            machine: Box::new(machine),
            build,
            round,
            start: now,
        };
    }

    /// Moves on when the current stage has finished.
    fn advance(&mut self, now: Instant) {
        self.now = now;
        let finished = match &self.stage {
            Running::Pxe { machine, .. } => Station::finished(machine),
            Running::Ipxe { machine, .. } => machine.finished(),
            Running::Done => false,
        };
        if !finished {
            return;
        }
        match std::mem::replace(&mut self.stage, Running::Done) {
            Running::Pxe {
                machine,
                arch,
                start,
            } => self.pxe_done(now, machine, arch, start),
            Running::Ipxe {
                machine,
                build,
                round,
                start,
            } => self.ipxe_done(now, *machine, build, round, start),
            Running::Done => {}
        }
    }

    fn pxe_done(&mut self, now: Instant, pxe: UefiPxe, arch: Arch, start: Instant) {
        let console: Vec<(Instant, String)> = pxe
            .console()
            .iter()
            .map(|l| (l.at, l.text.clone()))
            .collect();
        self.console("firmware", console);
        let Some(outcome) = pxe.outcome().cloned() else {
            return self.fail(
                Stage::Pxe,
                "the firmware did not finish in time".into(),
                None,
            );
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
                        Stage::PxeDhcp,
                        Some(Change::NoBootFile {
                            arch: arch.code(),
                            window,
                        }),
                    ),
                    PxeError::E07(text) if text.contains("NAK") => {
                        (Stage::PxeDhcp, Some(Change::Nak))
                    }
                    PxeError::E18 => (Stage::PxeDhcp, Some(Change::NoServer)),
                    PxeError::E23(text) if text.contains("error 1") => {
                        (Stage::TftpNbp, Some(Change::NbpMissing))
                    }
                    _ => (Stage::Pxe, None),
                };
                if stage == Stage::TftpNbp {
                    self.dhcp_step(DhcpClient::Firmware, start, window, None, None, None);
                }
                return self.fail(stage, e.to_string(), change);
            }
        };
        self.dhcp_step(
            DhcpClient::Firmware,
            start,
            window,
            Some(nbp.station),
            None,
            Some(nbp.name.clone()),
        );
        self.step(
            now,
            StepKind::Nbp(Download {
                source: nbp.name.clone(),
                name: nbp.server.to_string(),
                size: nbp.bytes.len(),
                content: nbp.bytes.describe(),
            }),
        );
        self.after_download(now, &nbp.name, &nbp.bytes, 0);
    }

    /// A DHCP step; its classes are filled in by [`ChainClient::finish`].
    fn dhcp_step(
        &mut self,
        client: DhcpClient,
        at: Instant,
        window: Window,
        lease: Option<std::net::Ipv4Addr>,
        server: Option<std::net::Ipv4Addr>,
        file: Option<String>,
    ) {
        self.dhcp_windows.push((self.t.steps.len(), window));
        self.step(
            at,
            StepKind::Dhcp {
                client,
                lease,
                server,
                classes: Classes::Unknown,
                file,
            },
        );
    }

    /// The firmware (or iPXE) is about to start `bytes`: what happens depends on what it is.
    fn after_download(&mut self, now: Instant, name: &str, bytes: &Content, round: usize) {
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
                        Stage::StartNbp,
                        format!(
                            "{name} is a {} image; this {} firmware cannot start it (EFI_UNSUPPORTED)",
                            bytes.describe(),
                            fw.name()
                        ),
                        Some(Change::WrongArch {
                            suffix: want.efi_suffix(),
                            arch,
                        }),
                    );
                }
                match program {
                    Program::Ipxe => {
                        self.legacy = bytes.legacy_ipxe().map(str::to_string);
                        self.start_ipxe(now, Build::EfiX64, round + 1);
                    }
                    _ => self.fail(
                        Stage::StartNbp,
                        format!(
                            "{name} ({}) is not a boot stage bootsim emulates",
                            bytes.describe()
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
                Stage::StartNbp,
                format!("{name} ({}) is not a BIOS iPXE image", bytes.describe()),
                None,
            ),
            (_, Some(_)) => self.fail(
                Stage::StartNbp,
                format!("{name} ({}) is not an EFI image", bytes.describe()),
                Some(Change::NotEfi),
            ),
        }
    }

    fn ipxe_done(
        &mut self,
        now: Instant,
        mut ipxe: Ipxe,
        build: Build,
        round: usize,
        start: Instant,
    ) {
        self.keyboard = ipxe.take_keyboard();
        if self.first_menu.is_none() {
            self.first_menu = ipxe.first_menu().map(<[String]>::to_vec);
        }
        let console: Vec<(Instant, String)> = ipxe
            .console()
            .iter()
            .map(|l| (l.at, l.text.clone()))
            .collect();
        self.console("iPXE", console);
        let arch = build.arch();
        let Some(lease) = ipxe.lease().cloned() else {
            return self.fail(
                Stage::IpxeDhcp,
                "iPXE got no DHCP lease (No configuration methods succeeded)".into(),
                None,
            );
        };
        let file = lease.filename().unwrap_or_default();
        let dhcp_end = ipxe.images().first().map_or(now, |i| i.at);
        let window = (start, dhcp_end);
        self.dhcp_step(
            DhcpClient::Ipxe,
            start,
            window,
            Some(lease.address),
            Some(lease.server),
            (!file.is_empty()).then(|| file.clone()),
        );
        // Downloads and what the console's input did, in the order they happened.
        let mut events: Vec<(usize, Instant, StepKind)> = Vec::new();
        for (i, image) in ipxe.images().iter().enumerate() {
            let download = Download {
                source: image.uri.clone(),
                name: image.name.clone(),
                size: image.bytes.len(),
                content: image.bytes.describe(),
            };
            let kind = if i == 0 {
                StepKind::Script(download)
            } else {
                StepKind::Fetch(download)
            };
            events.push((2 * image.seq + 1, image.at, kind));
        }
        for input in ipxe.inputs() {
            events.push((
                2 * input.after_fetches,
                input.at,
                StepKind::Input {
                    what: input.what.clone(),
                },
            ));
        }
        events.sort_by_key(|(order, ..)| *order);
        for (_, at, kind) in events {
            self.step(at, kind);
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
                        now,
                        StepKind::Chain {
                            image: image.name.clone(),
                            content: image.bytes.describe(),
                        },
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
                        Stage::Chain,
                        format!(
                            "iPXE started {} ({}), which bootsim does not emulate",
                            image.name,
                            image.bytes.describe()
                        ),
                        None,
                    );
                }
                self.step(
                    now,
                    StepKind::Chain {
                        image: load_options,
                        content: image.bytes.describe(),
                    },
                );
                self.refind(now, &volume);
            }
            Some(IpxeEnd::ExecRaw { image }) => self.fail(
                Stage::Chain,
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
                    Stage::Ipxe,
                    format!("iPXE returned to the firmware (status {rc}): {reason}"),
                    change,
                )
            }
            Some(IpxeEnd::WaitingForInput { command }) => self.fail(
                Stage::Ipxe,
                format!("the script waits for input at `{command}`; no key will come"),
                Some(Change::WaitsForInput),
            ),
            Some(IpxeEnd::InputRefused {
                command,
                input,
                reason,
            }) => self.fail(
                Stage::Ipxe,
                format!("the scripted input `{input}` does not fit `{command}`: {reason}"),
                None,
            ),
            Some(IpxeEnd::Stopped { command }) => {
                self.fail(Stage::Ipxe, format!("the script ran `{command}`"), None)
            }
            Some(IpxeEnd::Spins { command }) => self.fail(
                Stage::Ipxe,
                format!(
                    "the script loops for ever without waiting for anything (stopped at \
                     `{command}`, {} commands in a row)",
                    crate::firmware::ipxe::outcome::MAX_COMMANDS_AT_ONCE
                ),
                None,
            ),
            None => self.fail(Stage::Ipxe, "iPXE did not finish in time".into(), None),
        }
    }

    fn refind(&mut self, start: Instant, volume: &[crate::firmware::ipxe::Image]) {
        // refind.conf from iPXE's volume (the image named refind.conf), firmware.md C.1.
        let conf = volume
            .iter()
            .find(|i| i.name.eq_ignore_ascii_case("refind.conf"))
            .map(|i| i.bytes.bytes().to_vec());
        let machine = self.client.firmware.machine().unwrap_or(Machine::X64);
        let run = refind::run(conf.as_deref(), &self.client.disks, machine);
        let console: Vec<(Instant, String)> = run
            .console
            .iter()
            .map(|(at, l)| (start + at.since_origin(), l.clone()))
            .collect();
        self.console("rEFInd", console);
        self.t.lints.extend(
            run.config
                .lints
                .iter()
                .map(|l| format!("refind.conf:{}: {}", l.line, l.message)),
        );
        self.step(
            start,
            StepKind::RefindScan {
                loaders: run.entries.len(),
                disks: self.client.disks.len(),
                conf_missing: conf.is_none(),
            },
        );
        let at = start + run.elapsed;
        match run.end {
            RefindEnd::Booted { entry } => {
                self.step(
                    at,
                    StepKind::Boot {
                        loader: entry.path.clone(),
                        disk: entry.disk,
                        disk_name: entry.disk_name.clone(),
                        volume: entry.volume.clone(),
                    },
                );
                self.t.outcome = Outcome::Booted {
                    loader: entry.path,
                    disk: entry.disk,
                    disk_name: entry.disk_name,
                    volume: entry.volume,
                };
            }
            RefindEnd::LoadFailed { entry, error } => self.fail(
                Stage::Boot,
                format!("{} on disk {}: {error}", entry.path, entry.disk),
                Some(Change::LoaderArch),
            ),
            RefindEnd::NoLoaders => self.fail(
                Stage::RefindScan,
                "rEFInd found no loader to boot".into(),
                Some(Change::NoLoaders {
                    scanfor: format!("{:?}", run.config.scanfor),
                }),
            ),
            RefindEnd::WaitingAtMenu { reason } => self.fail(Stage::RefindMenu, reason, None),
        }
    }

    /// The transcript, with what only the network knows filled in: the classes the server
    /// put each DHCP query in, and the "what to change" that names them.
    pub fn finish(mut self, net: &dyn Network) -> Transcript {
        let diagnosis = Diagnosis {
            net,
            mac: self.client.mac,
        };
        if net.config().is_some() {
            for (index, window) in &self.dhcp_windows {
                if let Some(StepKind::Dhcp { classes, .. }) =
                    self.t.steps.get_mut(*index).map(|s| &mut s.kind)
                {
                    *classes = Classes::own(&diagnosis.classes_in(*window));
                }
            }
        }
        let text = self.change.take().map(|c| diagnosis.explain(c));
        if let Outcome::Failed { change, .. } = &mut self.t.outcome {
            *change = text;
        }
        let last = self.t.steps.last().map(|s| s.at).unwrap_or_default();
        self.t.elapsed = self.now.max(last).since_origin();
        self.t
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
