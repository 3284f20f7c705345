//! The same assertions on real firmware and on the field: a boot of OVMF, iPXE and rEFInd
//! under QEMU (feature `qemu`), and a field capture read into boot chains (feature `audit`).

#[cfg(feature = "qemu")]
use super::{Boot, Error, Machine, Network};

#[cfg(feature = "qemu")]
impl Network {
    /// Boots `machine` as a real VM: OVMF's own UEFI PXE (`Firmware::UefiX64`) or SeaBIOS
    /// with QEMU's iPXE ROM (`Firmware::Bios`), against netbootd in-process running this
    /// network's config in real time, read back into the same [`Boot`]. Needs
    /// `qemu-system-x86`, `ovmf` and `ipxe-qemu`; TCG takes about 40 s. Faults, relays and
    /// other machines of the network are not part of a VM run.
    pub fn boot_in_qemu(&self, machine: &Machine) -> Result<Boot, Error> {
        use crate::chain::Firmware;
        use crate::qemu::{run, Request, VmFirmware};
        let setup = |e: &dyn std::fmt::Display| Error::Setup(e.to_string());
        let work = tempfile::tempdir().map_err(|e| setup(&e))?;
        let decl = machine.decl()?;
        let firmware = match decl.firmware {
            Firmware::UefiX64 => VmFirmware::UefiX64,
            Firmware::Bios => VmFirmware::Bios,
            other => {
                return Err(Error::Setup(format!(
                    "{other}: QEMU boots uefi-x64 (OVMF) or bios (SeaBIOS + iPXE ROM)"
                )))
            }
        };
        let tftp_root = crate::scenario::tftp_root(
            &self.server,
            std::path::Path::new("."),
            &work.path().join("tftp"),
        )
        .map_err(Error::Setup)?;
        let kea_version = super::kea_version(self.kea_version.as_deref())?.unwrap_or_default();
        let req = Request {
            config: Some(self.server.config.clone()),
            tftp_root,
            iface: None,
            kea_version,
            disks: decl.disks,
            firmware,
            mac: decl.mac.unwrap_or(netbootd::wire::MacAddr([
                0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
            ])),
            timeout: std::time::Duration::from_secs(300),
            files: Default::default(),
            kvm: false,
        };
        let vm = run(&req, work.path()).map_err(|e| setup(&e))?;
        Ok(Boot::from_transcript(vm.transcript))
    }
}

/// What a field capture (pcap or pcapng) shows of every client's chain, in the steps of a
/// boot transcript, with why each one stopped.
#[cfg(feature = "audit")]
pub use crate::capture::{Audit, ClientAudit};

/// Reads a field capture and tells each client's chain (`bootsim audit`).
#[cfg(feature = "audit")]
pub fn audit(capture: impl AsRef<std::path::Path>) -> Result<Audit, super::Error> {
    crate::capture::audit_file(capture.as_ref(), None)
        .map_err(|e| super::Error::Setup(e.to_string()))
}

#[cfg(feature = "audit")]
impl Audit {
    /// Asserts that no client of the capture failed; the panic names each failed client
    /// and its diagnosis.
    #[track_caller]
    pub fn assert_no_failures(&self) -> &Audit {
        let failed: Vec<String> = self
            .clients
            .iter()
            .filter(|c| c.outcome == crate::capture::verdict::Verdict::Failed)
            .map(|c| format!("{}: {}", c.mac, c.diagnosis))
            .collect();
        if !failed.is_empty() {
            panic!("{} failed:\n{}", self.file, failed.join("\n"));
        }
        self
    }
}
