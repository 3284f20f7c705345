//! The columns of the matrix: each kind of firmware and the DISCOVER it sends, built by the
//! firmware models themselves (EDK2's PXE and HTTP boot, iPXE's EFI and BIOS builds).

use serde::Serialize;

use crate::chain::Firmware;
use crate::firmware::ipxe::packets::{Build, Identity as IpxeId};
use crate::firmware::uefi_pxe::packets::{Arch, Identity as PxeId, Undi};
use netbootd::wire::dhcp::Message;

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

    pub(super) fn firmware(self) -> Option<Firmware> {
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
    pub(super) fn discover(self, mac: [u8; 6]) -> Message {
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
