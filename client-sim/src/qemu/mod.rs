//! `bootsim qemu`: the real firmware (OVMF's UEFI PXE, or SeaBIOS with QEMU's iPXE ROM),
//! the real ipxe.efi and refind_x64.efi from the TFTP root and real loaders on a real disk
//! image, booted in a VM against netbootd in-process, with no root: QEMU's `-netdev dgram`
//! link is a port of the segment, which runs on the OS clock (`net::realtime`).
//!
//! The run is read back into the transcript `bootsim boot` prints (`observe`), from the
//! frames on the segment and the serial console, so real and simulated boots can be compared
//! (`compare`).

pub mod compare;
pub mod image;
pub mod launch;
pub mod observe;
pub mod tap;

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use netbootd::time::Clock;

use netbootd::kea::KeaVersion;
use netbootd::wire::MacAddr;

use crate::disk::Disk;
use crate::net::embedded::{self, ServerSpec};
use crate::net::ether::Ignored;
use crate::net::lan::{Frame, Lan};
use crate::net::realtime::{self, FramePort, Stopped};
use crate::transcript::Transcript;

pub use launch::VmFirmware;
use launch::{FirmwareFiles, Link, Vm, VmSpec};
use observe::Wire;

/// The SMBIOS UUID the VM gets, the one `bootsim boot` gives its clients (and research's
/// captures used).
pub const UUID: &str = "4c4c4544-0042-3510-8052-b4c04f384d32";

#[derive(Debug, thiserror::Error)]
pub enum QemuError {
    /// Bad input: a config, a root, a disk, a recipe.
    #[error("{0}")]
    Input(String),
    #[error("{tool}: {message}")]
    Tool { tool: String, message: String },
    #[error("firmware {path}: {message}")]
    Firmware { path: String, message: String },
    #[error("cannot start qemu-system-x86_64: {message}")]
    Start { message: String },
    #[error("the segment's socket: {0}")]
    Socket(#[from] std::io::Error),
}

/// What to boot.
#[derive(Debug, Clone)]
pub struct Request {
    /// The server's config and TFTP root: netbootd in-process runs them, and `--compare`
    /// simulates them. Optional with `iface` (the server is then whatever answers there).
    pub config: Option<PathBuf>,
    pub tftp_root: Option<PathBuf>,
    /// A Linux bridge to put the VM on instead of the in-process segment (root).
    pub iface: Option<String>,
    pub kea_version: KeaVersion,
    /// Disk images or recipes (`.toml`); recipes are built into images in `work`.
    pub disks: Vec<PathBuf>,
    pub firmware: VmFirmware,
    pub mac: MacAddr,
    pub timeout: Duration,
    pub files: FirmwareFiles,
    /// Use KVM instead of TCG.
    pub kvm: bool,
}

/// A finished run.
#[derive(Debug)]
pub struct QemuRun {
    pub transcript: Transcript,
    pub wire: Wire,
    pub frames: Vec<Frame>,
    /// Frames from the guest the segment did not carry, and ARP requests answered.
    pub ignored: Ignored,
    pub arp_answered: u64,
    /// The disks as the simulation reads them (from the images the VM booted).
    pub disks: Vec<Disk>,
    /// The images the VM booted (built from recipes, or given).
    pub images: Vec<PathBuf>,
    /// How the run ended, and what QEMU said on stderr.
    pub stopped: String,
    /// The server's decisions are known (netbootd in-process), so DHCP rounds have classes.
    pub server_visible: bool,
    pub qemu_stderr: String,
}

/// A free UDP port on 127.0.0.1 for QEMU's end of the link.
fn free_port() -> std::io::Result<SocketAddr> {
    UdpSocket::bind("127.0.0.1:0")?.local_addr()
}

/// Disk images for the VM (recipes built in `work`, images as given), with the name each
/// disk goes by (a recipe's own name, else the image's file name).
pub fn images(
    disks: &[PathBuf],
    work: &std::path::Path,
) -> Result<Vec<(PathBuf, Option<String>)>, QemuError> {
    disks
        .iter()
        .map(|d| {
            if d.extension().is_some_and(|e| e == "toml") {
                let name = crate::recipe::parse(d)
                    .map_err(|e| QemuError::Input(e.to_string()))?
                    .name;
                Ok((image::build(d, work)?, Some(name)))
            } else if d.is_file() {
                Ok((d.clone(), None))
            } else {
                Err(QemuError::Input(format!(
                    "{}: no such disk image",
                    d.display()
                )))
            }
        })
        .collect()
}

/// The disks as rEFInd's model reads them, from the images the VM boots.
pub fn read_disks(images: &[(PathBuf, Option<String>)]) -> Result<Vec<Disk>, QemuError> {
    images
        .iter()
        .map(|(p, name)| {
            let mut disk =
                Disk::from_image(p, true).map_err(|e| QemuError::Input(e.to_string()))?;
            if let Some(n) = name {
                disk.name = n.clone();
            }
            Ok(disk)
        })
        .collect()
}

/// The serial console as the run goes: lines with their time, and whether the boot has
/// ended (the loader's marker, or a failure the firmware has finished saying).
struct ConsoleWatch {
    clock: Clock,
    source: &'static str,
    lines: Vec<(netbootd::time::Instant, String, String)>,
    end_seen: Option<Instant>,
    marker: bool,
}

impl ConsoleWatch {
    fn new(clock: Clock, firmware: VmFirmware) -> ConsoleWatch {
        ConsoleWatch {
            clock,
            source: match firmware {
                VmFirmware::UefiX64 => "uefi",
                VmFirmware::Bios => "bios",
            },
            lines: Vec::new(),
            end_seen: None,
            marker: false,
        }
    }

    fn take(&mut self, at: Instant, line: String) {
        if observe::ends_boot(&line) && self.end_seen.is_none() {
            self.end_seen = Some(Instant::now());
        }
        self.marker |= line.contains(image::MARKER);
        self.lines
            .push((self.clock.instant_of(at), self.source.into(), line));
    }

    /// Reads what arrived; true while the boot goes on.
    fn keep_going(&mut self, vm: &mut Vm) -> bool {
        while let Ok((at, line)) = vm.console.try_recv() {
            self.take(at, line);
        }
        // A failure line: give the firmware a second to finish saying why.
        let settled = self
            .end_seen
            .is_some_and(|t| self.marker || t.elapsed() > Duration::from_secs(1));
        !settled && vm.exited().is_none()
    }

    /// Stops the VM and reads the lines still in the pipe (the loader's marker before its
    /// halt); returns QEMU's stderr.
    fn finish(&mut self, vm: &mut Vm) -> String {
        let stderr = vm.stop();
        while let Ok((at, line)) = vm.console.recv_timeout(Duration::from_millis(200)) {
            self.take(at, line);
        }
        stderr
    }

    fn stopped(&self, limit: bool) -> &'static str {
        if self.marker {
            "the loader started"
        } else if self.end_seen.is_some() {
            "the firmware gave up"
        } else if limit {
            "the time limit"
        } else {
            "QEMU exited"
        }
    }
}

/// Boots the VM and reads the run back.
pub fn run(req: &Request, work: &std::path::Path) -> Result<QemuRun, QemuError> {
    let named = images(&req.disks, work)?;
    let disks = read_disks(&named)?;
    let images: Vec<PathBuf> = named.into_iter().map(|(p, _)| p).collect();
    let spec = |link| VmSpec {
        firmware: req.firmware,
        files: req.files.clone(),
        mac: req.mac,
        uuid: UUID.into(),
        link,
        disks: images.clone(),
        work: work.to_path_buf(),
        kvm: req.kvm,
    };
    match &req.iface {
        Some(bridge) => on_bridge(req, bridge, disks, images.clone(), spec),
        None => in_process(req, disks, images.clone(), spec),
    }
}

/// The VM on the in-process segment, netbootd running the config.
fn in_process(
    req: &Request,
    disks: Vec<Disk>,
    images: Vec<PathBuf>,
    spec: impl Fn(Link) -> VmSpec,
) -> Result<QemuRun, QemuError> {
    let (Some(config), Some(root)) = (&req.config, &req.tftp_root) else {
        return Err(QemuError::Input(
            "give --config and --tftp-root, or --iface".into(),
        ));
    };
    let server = embedded::build(&ServerSpec {
        config: config.clone(),
        kea_version: req.kea_version,
        tftp_root: Some(root.clone()),
        server_addr: None,
        // Real time: the segment's origin is now, as the wall clock says.
        epoch: netbootd::time::Clock::start().epoch(),
    })
    .map_err(|e| QemuError::Input(e.to_string()))?;
    let mut lan = Lan::new(server);
    let qemu_end = free_port()?;
    let mut port = FramePort::bind(
        "127.0.0.1:0".parse().expect("an address"),
        qemu_end,
        Some(req.mac),
    )?;
    port.answer_arp_for(
        lan.servers
            .iter()
            .map(|s| (s.link.addr, s.link.mac))
            .collect(),
    );
    let waiter = port.waiter()?;
    let spec = spec(Link::Dgram {
        local: qemu_end,
        remote: port.local_addr()?,
    });
    let clock = Clock::start();
    let mut vm = Vm::start(&spec)?;
    let mut watch = ConsoleWatch::new(clock, req.firmware);
    let stopped = realtime::run(
        &mut lan,
        &mut [&mut port],
        0,
        &waiter,
        req.timeout,
        &mut |_: &Lan| watch.keep_going(&mut vm),
    )?;
    port.close();
    let qemu_stderr = watch.finish(&mut vm);
    let wire = Wire::read(&lan.frames, req.mac, &lan.notes);
    let transcript = observe::transcript(
        req.firmware.name(),
        req.mac,
        &wire,
        &watch.lines,
        &disks,
        clock.now().since_origin(),
        true,
    );
    Ok(QemuRun {
        transcript,
        wire,
        frames: std::mem::take(&mut lan.frames),
        ignored: port.ignored,
        arp_answered: port.arp_answered,
        disks,
        images,
        stopped: watch.stopped(stopped == Stopped::Limit).into(),
        server_visible: true,
        qemu_stderr,
    })
}

/// The VM on a tap on `bridge`, against whatever serves that segment.
fn on_bridge(
    req: &Request,
    bridge: &str,
    disks: Vec<Disk>,
    images: Vec<PathBuf>,
    spec: impl Fn(Link) -> VmSpec,
) -> Result<QemuRun, QemuError> {
    let tap = tap::Tap::on_bridge(bridge)?;
    let spec = spec(Link::Tap(tap.name.clone()));
    let clock = Clock::start();
    let mut vm = Vm::start(&spec)?;
    let mut watch = ConsoleWatch::new(clock, req.firmware);
    let mut frames = Vec::new();
    let mut ignored = Ignored::default();
    let mut limit = false;
    while watch.keep_going(&mut vm) {
        if clock.now().since_origin() >= req.timeout {
            limit = true;
            break;
        }
        while let Some((frame, from_vm)) = tap.frame(Duration::from_millis(100)) {
            let at = clock.now();
            match crate::net::ether::classify(&frame) {
                crate::net::ether::Inbound::Udp(datagram) => frames.push(Frame {
                    at,
                    from_client: from_vm,
                    datagram,
                }),
                crate::net::ether::Inbound::Arp(_) => ignored.count(crate::net::ether::Kind::Arp),
                crate::net::ether::Inbound::Ignored(kind) => ignored.count(kind),
            }
            if !watch.keep_going(&mut vm) {
                break;
            }
        }
    }
    let qemu_stderr = watch.finish(&mut vm);
    drop(tap);
    let wire = Wire::read(&frames, req.mac, &[]);
    let transcript = observe::transcript(
        req.firmware.name(),
        req.mac,
        &wire,
        &watch.lines,
        &disks,
        clock.now().since_origin(),
        false,
    );
    Ok(QemuRun {
        transcript,
        wire,
        frames,
        ignored,
        arp_answered: 0,
        disks,
        images,
        stopped: watch.stopped(limit).into(),
        server_visible: false,
        qemu_stderr,
    })
}
