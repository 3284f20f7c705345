//! Starting one VM: the QEMU command line that makes the firmware's own network boot run
//! (research/qemu.md), and a guard that kills exactly that process when the run ends, however
//! it ends.
//!
//! - UEFI: OVMF from pflash with a fresh copy of OVMF_VARS per run (a boot writes variables),
//!   `romfile=` on the NIC so that OVMF's VirtioNetDxe + PxeBcDxe do PXE rather than QEMU's
//!   iPXE option ROM (which would skip the guide's steps 1-2), `bootindex` to put the NIC
//!   first (with OVMF the fw_cfg boot order decides, `-boot n` alone does not).
//! - BIOS: SeaBIOS with QEMU's iPXE ROM (`ipxe-qemu`) on the NIC, its console on serial.
//! - Networking: `-netdev dgram` to the in-process segment, no root.
//! - Serial console on stdout, read line by line with the time each line arrived.

use netbootd::wire::MacAddr;
use std::io::{BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;

use super::QemuError;

/// The firmware the VM starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VmFirmware {
    /// OVMF (EDK2) on a q35 machine: the firmware's own UEFI PXE.
    UefiX64,
    /// SeaBIOS with QEMU's own iPXE ROM for the NIC (`ipxe-qemu`).
    Bios,
}

impl VmFirmware {
    pub fn name(self) -> &'static str {
        match self {
            VmFirmware::UefiX64 => "uefi-x64",
            VmFirmware::Bios => "bios",
        }
    }
}

/// Where OVMF is (Debian's `ovmf` package).
#[derive(Debug, Clone)]
pub struct FirmwareFiles {
    pub ovmf_code: PathBuf,
    pub ovmf_vars: PathBuf,
}

impl Default for FirmwareFiles {
    fn default() -> Self {
        FirmwareFiles {
            ovmf_code: "/usr/share/OVMF/OVMF_CODE.fd".into(),
            ovmf_vars: "/usr/share/OVMF/OVMF_VARS.fd".into(),
        }
    }
}

/// The VM's network.
#[derive(Debug, Clone)]
pub enum Link {
    /// `-netdev dgram`: QEMU's end and the segment's, on 127.0.0.1 (no root).
    Dgram {
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// `-netdev tap` on an existing tap device (root; `--iface`).
    Tap(String),
}

/// One VM to start.
#[derive(Debug, Clone)]
pub struct VmSpec {
    pub firmware: VmFirmware,
    pub files: FirmwareFiles,
    pub mac: MacAddr,
    /// SMBIOS type 1 UUID, canonical text (EDK2 and iPXE send it as option 97).
    pub uuid: String,
    /// Where the NIC's frames go.
    pub link: Link,
    /// Disk images, attached after the NIC in the boot order, copy-on-write (`snapshot=on`).
    pub disks: Vec<PathBuf>,
    /// A directory for the run's own files (the OVMF_VARS copy).
    pub work: PathBuf,
    /// Use KVM instead of TCG.
    pub kvm: bool,
}

fn inet(prefix: &str, a: SocketAddr) -> String {
    format!(
        "{prefix}.type=inet,{prefix}.host={},{prefix}.port={}",
        a.ip(),
        a.port()
    )
}

/// The QEMU command line for `spec` (without starting anything).
pub fn command(spec: &VmSpec) -> Result<Command, QemuError> {
    let mut c = Command::new("qemu-system-x86_64");
    // TCG unless asked: a /dev/kvm that opens can still fail at the first instruction
    // ("KVM internal error. Suberror: 1" on this kind of machine, research/qemu.md), and
    // QEMU only falls back to the next -accel when KVM fails to initialise.
    c.args(["-accel", if spec.kvm { "kvm" } else { "tcg" }]);
    c.args(["-m", "512", "-nodefaults", "-display", "none", "-no-reboot"]);
    c.args(["-monitor", "none", "-serial", "stdio"]);
    c.args(["-smbios", &format!("type=1,uuid={}", spec.uuid)]);
    let romfile: Option<String> = match spec.firmware {
        VmFirmware::UefiX64 => {
            let vars = spec.work.join("OVMF_VARS.fd");
            std::fs::copy(&spec.files.ovmf_vars, &vars).map_err(|e| QemuError::Firmware {
                path: spec.files.ovmf_vars.display().to_string(),
                message: e.to_string(),
            })?;
            if !spec.files.ovmf_code.is_file() {
                return Err(QemuError::Firmware {
                    path: spec.files.ovmf_code.display().to_string(),
                    message: "not found (Debian package ovmf)".into(),
                });
            }
            c.args(["-machine", "q35"]);
            c.arg("-drive").arg(format!(
                "if=pflash,format=raw,readonly=on,file={}",
                spec.files.ovmf_code.display()
            ));
            c.arg("-drive")
                .arg(format!("if=pflash,format=raw,file={}", vars.display()));
            // An empty romfile: OVMF's VirtioNetDxe and PxeBcDxe, not QEMU's iPXE ROM.
            Some(String::new())
        }
        VmFirmware::Bios => {
            // SeaBIOS draws on VGA; its serial console (SeaBIOS 1.11+, `etc/sercon-port`,
            // read as a little-endian integer) mirrors that, and iPXE's output, to COM1.
            let port = spec.work.join("sercon-port");
            std::fs::write(&port, 0x3f8u16.to_le_bytes()).map_err(|e| QemuError::Firmware {
                path: port.display().to_string(),
                message: e.to_string(),
            })?;
            c.args(["-machine", "pc"]);
            c.arg("-fw_cfg")
                .arg(format!("name=etc/sercon-port,file={}", port.display()));
            // No romfile: the NIC gets QEMU's own ROM for it, ipxe-qemu's iPXE.
            None
        }
    };
    match &spec.link {
        Link::Dgram { local, remote } => c.arg("-netdev").arg(format!(
            "dgram,id=n0,{},{}",
            inet("local", *local),
            inet("remote", *remote)
        )),
        Link::Tap(name) => c
            .arg("-netdev")
            .arg(format!("tap,id=n0,ifname={name},script=no,downscript=no")),
    };
    let rom = romfile.map(|r| format!(",romfile={r}")).unwrap_or_default();
    c.arg("-device").arg(format!(
        "virtio-net-pci,netdev=n0,mac={}{rom},bootindex=1",
        spec.mac
    ));
    for (i, disk) in spec.disks.iter().enumerate() {
        c.arg("-drive").arg(format!(
            "file={},format=raw,if=none,id=d{i},snapshot=on",
            disk.display()
        ));
        c.arg("-device")
            .arg(format!("virtio-blk-pci,drive=d{i},bootindex={}", i + 2));
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // QEMU dies with bootsim even when bootsim is killed by a signal and no Drop runs.
    // SAFETY: prctl(2) is async-signal-safe; the closure allocates nothing.
    unsafe {
        c.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }
    Ok(c)
}

/// A running VM. Dropping it kills the process it started (by its PID, never by name) and
/// reaps it, so no QEMU outlives a failed test.
pub struct Vm {
    child: Child,
    /// Serial console lines as they arrive, with the instant each arrived.
    pub console: Receiver<(Instant, String)>,
    stderr: Option<std::thread::JoinHandle<String>>,
    exit: Option<ExitStatus>,
}

impl Vm {
    pub fn start(spec: &VmSpec) -> Result<Vm, QemuError> {
        let mut child = command(spec)?.spawn().map_err(|e| QemuError::Start {
            message: e.to_string(),
        })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = ConsoleLines::default();
            let mut stdout = stdout;
            let mut buf = [0u8; 4096];
            // Chunks as they arrive (a countdown redrawn in place has no newline to wait for).
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let at = Instant::now();
                for line in lines.push(&buf[..n]) {
                    if tx.send((at, line)).is_err() {
                        return;
                    }
                }
            }
            for line in lines.finish() {
                let _ = tx.send((Instant::now(), line));
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            text
        });
        Ok(Vm {
            child,
            console: rx,
            stderr: Some(stderr),
            exit: None,
        })
    }

    /// The exit status once QEMU has exited by itself (a loader's `halt` with `-no-reboot`).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// Stops the VM (SIGKILL to its PID) and returns what QEMU said on stderr.
    pub fn stop(&mut self) -> String {
        if self.exited().is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
        }
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if self.exit.is_none() && self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Serial bytes to text lines. Firmware draws screens, not lines: OVMF and rEFInd move the
/// cursor (`ESC [ row ; col H`) and clear (`ESC [ 2 J`) where a terminal would start a new
/// line, iPXE erases its progress with backspaces, everything ends lines with CR LF. Cursor
/// moves, clears and CR end a line here, colours are dropped, backspace erases, blank lines
/// are skipped.
#[derive(Debug, Default)]
pub struct ConsoleLines {
    line: String,
    /// Inside an escape sequence: the bytes after ESC so far.
    escape: Option<Vec<u8>>,
}

impl ConsoleLines {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for &b in bytes {
            if let Some(esc) = &mut self.escape {
                esc.push(b);
                let done = match esc.first() {
                    Some(b'[') => esc.len() > 1 && (0x40..=0x7e).contains(&b),
                    _ => true,
                };
                if done {
                    let final_byte = b;
                    let csi = esc.first() == Some(&b'[');
                    self.escape = None;
                    if csi && matches!(final_byte, b'H' | b'J' | b'f' | b'K' | b'h') {
                        self.end(&mut out);
                    }
                }
                continue;
            }
            match b {
                0x1b => self.escape = Some(Vec::new()),
                b'\n' | b'\r' => self.end(&mut out),
                0x08 => {
                    self.line.pop();
                }
                b if b >= 0x20 || b == b'\t' => self.line.push(char::from(b)),
                _ => {}
            }
        }
        out
    }

    fn end(&mut self, out: &mut Vec<String>) {
        let line = std::mem::take(&mut self.line);
        let trimmed = line.trim_end();
        if !trimmed.trim().is_empty() {
            out.push(trimmed.to_string());
        }
    }

    pub fn finish(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        self.end(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screens_become_lines() {
        let mut c = ConsoleLines::default();
        let mut lines = c.push(b"\x1b[2J\x1b[01;01H\r\n>>Start PXE over IPv4.\r\n  Station IP address is 192.168.1.2\r\n");
        lines.extend(c.push(b"\x1b[0m\x1b[37m\x1b[40m\x1b[05;01H  Boot EFI\\debian\\grubx64.efi from ESP \x1b[06;01H  About rEFInd"));
        lines.extend(c.push(b"\r\ntftp://192.168.1.1/ipxe.efi... 10%\x08\x08\x08\x08 ok"));
        lines.extend(c.finish());
        assert_eq!(
            lines,
            [
                ">>Start PXE over IPv4.",
                "  Station IP address is 192.168.1.2",
                "  Boot EFI\\debian\\grubx64.efi from ESP",
                "  About rEFInd",
                "tftp://192.168.1.1/ipxe.efi... ok"
            ]
        );
    }

    #[test]
    fn uefi_command_line_has_the_rom_trap_avoided_and_a_fresh_vars_copy() {
        let work = tempfile::tempdir().unwrap();
        let vars = work.path().join("vars-src.fd");
        let code = work.path().join("code.fd");
        std::fs::write(&vars, b"vars").unwrap();
        std::fs::write(&code, b"code").unwrap();
        let spec = VmSpec {
            firmware: VmFirmware::UefiX64,
            files: FirmwareFiles {
                ovmf_code: code,
                ovmf_vars: vars,
            },
            mac: MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
            uuid: crate::qemu::UUID.into(),
            link: Link::Dgram {
                local: "127.0.0.1:5001".parse().unwrap(),
                remote: "127.0.0.1:5002".parse().unwrap(),
            },
            disks: vec!["/d/sda.img".into()],
            work: work.path().to_path_buf(),
            kvm: false,
        };
        let c = command(&spec).unwrap();
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let line = args.join(" ");
        assert!(
            line.contains("virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,romfile=,bootindex=1"),
            "{line}"
        );
        assert!(line.contains("dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=5001,remote.type=inet,remote.host=127.0.0.1,remote.port=5002"), "{line}");
        assert!(line.contains("-no-reboot"));
        assert!(
            line.contains("virtio-blk-pci,drive=d0,bootindex=2"),
            "{line}"
        );
        assert_eq!(
            std::fs::read(work.path().join("OVMF_VARS.fd")).unwrap(),
            b"vars"
        );
        let bios = VmSpec {
            firmware: VmFirmware::Bios,
            ..spec
        };
        let line: Vec<String> = command(&bios)
            .unwrap()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let line = line.join(" ");
        assert!(
            line.contains("virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,bootindex=1"),
            "{line}"
        );
        assert!(!line.contains("pflash"), "{line}");
        assert_eq!(
            std::fs::read(work.path().join("sercon-port")).unwrap(),
            [0xf8, 0x03]
        );
    }
}
