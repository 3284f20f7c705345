//! The firmware a machine starts with: its names on the command line and in scenario files,
//! and the EFI machine type it runs images for.

use crate::identify::Machine;

/// The firmware a client starts with.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Firmware {
    /// UEFI x86_64 PXE (EDK2/OVMF PxeBcDxe).
    UefiX64,
    /// UEFI IA32 PXE.
    UefiIa32,
    /// UEFI AArch64 PXE.
    UefiArm64,
    /// A BIOS PXE 2.1 ROM.
    Bios,
    /// iPXE as the machine's own EFI firmware (ipxe.efi in ROM).
    IpxeEfi,
    /// iPXE as a BIOS ROM (undionly/ipxe.lkrn).
    IpxeBios,
    /// UEFI HTTP boot (EDK2 HttpBootDxe): `validate` asks the server what it would offer
    /// it; the chain does not emulate HTTP boot, so a boot of it fails at once.
    #[serde(skip_deserializing)]
    UefiHttp,
}

impl Firmware {
    /// Every firmware, in the order `validate`'s matrix lists them.
    pub const ALL: [Firmware; 7] = [
        Firmware::UefiX64,
        Firmware::UefiIa32,
        Firmware::UefiArm64,
        Firmware::Bios,
        Firmware::IpxeEfi,
        Firmware::IpxeBios,
        Firmware::UefiHttp,
    ];

    /// A firmware the chain boots, by its name (`uefi-x64`, ..., `ipxe-bios`).
    pub fn parse(name: &str) -> Option<Firmware> {
        Firmware::ALL
            .into_iter()
            .find(|f| f.boots() && f.name() == name)
    }

    /// The firmware's name, as the command line and scenario files spell it.
    pub fn name(self) -> &'static str {
        match self {
            Firmware::UefiX64 => "uefi-x64",
            Firmware::UefiIa32 => "uefi-ia32",
            Firmware::UefiArm64 => "uefi-arm64",
            Firmware::Bios => "bios",
            Firmware::IpxeEfi => "ipxe-efi",
            Firmware::IpxeBios => "ipxe-bios",
            Firmware::UefiHttp => "uefi-http",
        }
    }

    /// Whether the chain emulates this firmware's boot (all but UEFI HTTP boot).
    pub fn boots(self) -> bool {
        self != Firmware::UefiHttp
    }

    /// Whether the firmware is iPXE itself.
    pub fn is_ipxe(self) -> bool {
        matches!(self, Firmware::IpxeEfi | Firmware::IpxeBios)
    }

    /// The EFI machine this firmware runs images for (None: BIOS).
    pub fn machine(self) -> Option<Machine> {
        match self {
            Firmware::UefiX64 | Firmware::IpxeEfi | Firmware::UefiHttp => Some(Machine::X64),
            Firmware::UefiIa32 => Some(Machine::Ia32),
            Firmware::UefiArm64 => Some(Machine::Aarch64),
            Firmware::Bios | Firmware::IpxeBios => None,
        }
    }
}

impl std::fmt::Display for Firmware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
