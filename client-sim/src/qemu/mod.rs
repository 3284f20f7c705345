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

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use netbootd::kea::KeaVersion;

use crate::disk::Disk;
use crate::net::embedded::{self, ServerSpec, SERVER_MAC};
use crate::net::ether::Ignored;
use crate::net::lan::{Frame, Lan};
use crate::net::realtime::{self, FramePort, Stopped};
use crate::transcript::Transcript;

pub use launch::VmFirmware;
use launch::{FirmwareFiles, Vm, VmSpec};
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
    pub config: PathBuf,
    pub tftp_root: PathBuf,
    pub kea_version: KeaVersion,
    /// Disk images or recipes (`.toml`); recipes are built into images in `work`.
    pub disks: Vec<PathBuf>,
    pub firmware: VmFirmware,
    pub mac: [u8; 6],
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
    pub qemu_stderr: String,
}

pub(crate) fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
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

/// Boots the VM and reads the run back.
pub fn run(req: &Request, work: &std::path::Path) -> Result<QemuRun, QemuError> {
    let server = embedded::build(&ServerSpec {
        config: req.config.clone(),
        kea_version: req.kea_version,
        tftp_root: Some(req.tftp_root.clone()),
        server_addr: None,
        epoch: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    })
    .map_err(|e| QemuError::Input(e.to_string()))?;
    let named = images(&req.disks, work)?;
    let disks = read_disks(&named)?;
    let images: Vec<PathBuf> = named.into_iter().map(|(p, _)| p).collect();
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
            .chain(std::iter::once((lan.server_addr(), SERVER_MAC)))
            .collect(),
    );
    let waiter = port.waiter()?;
    let spec = VmSpec {
        firmware: req.firmware,
        files: req.files.clone(),
        mac: req.mac,
        uuid: UUID.into(),
        local: qemu_end,
        remote: port.local_addr()?,
        disks: images.clone(),
        work: work.to_path_buf(),
        kvm: req.kvm,
    };
    let origin = Instant::now();
    let mut vm = Vm::start(&spec)?;
    let mut console: Vec<(Duration, String, String)> = Vec::new();
    let mut end_seen: Option<Instant> = None;
    let mut marker = false;
    let source = match req.firmware {
        VmFirmware::UefiX64 => "uefi",
        VmFirmware::Bios => "bios",
    };
    let stopped = {
        let mut keep_going = |_: &Lan| {
            while let Ok((at, line)) = vm.console.try_recv() {
                if observe::ends_boot(&line) && end_seen.is_none() {
                    end_seen = Some(Instant::now());
                }
                marker |= line.contains(image::MARKER);
                console.push((at.saturating_duration_since(origin), source.into(), line));
            }
            // A failure line: give the firmware a second to finish saying why.
            let settled = end_seen.is_some_and(|t| marker || t.elapsed() > Duration::from_secs(1));
            !settled && vm.exited().is_none()
        };
        realtime::run(
            &mut lan,
            &mut [&mut port],
            0,
            &waiter,
            req.timeout,
            &mut keep_going,
        )?
    };
    port.close();
    let qemu_stderr = vm.stop();
    // Lines still in the pipe when QEMU ended (the loader's marker before its halt).
    while let Ok((at, line)) = vm.console.recv_timeout(Duration::from_millis(200)) {
        console.push((at.saturating_duration_since(origin), source.into(), line));
    }
    let elapsed = origin.elapsed();
    let wire = Wire::read(&lan.frames, req.mac, &lan.notes);
    let transcript = observe::transcript(
        req.firmware.name(),
        req.mac,
        &wire,
        &console,
        &disks,
        elapsed,
    );
    Ok(QemuRun {
        transcript,
        wire,
        frames: std::mem::take(&mut lan.frames),
        ignored: port.ignored,
        arp_answered: port.arp_answered,
        disks,
        images,
        stopped: match stopped {
            Stopped::Finished => "the port closed",
            Stopped::Asked if marker => "the loader started",
            Stopped::Asked if end_seen.is_some() => "the firmware gave up",
            Stopped::Asked => "QEMU exited",
            Stopped::Limit => "the time limit",
        }
        .into(),
        qemu_stderr,
    })
}
