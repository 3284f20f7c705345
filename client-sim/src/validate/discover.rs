//! The DISCOVER each firmware of the matrix sends, built by the firmware models themselves
//! (EDK2's PXE and HTTP boot, iPXE's EFI and BIOS builds).

use crate::chain::Firmware;
use crate::firmware::ipxe::packets::{Build, Identity as IpxeId};
use crate::firmware::uefi_pxe::packets::{Arch, Identity as PxeId, Undi};
use crate::firmware::MACHINE_UUID;
use netbootd::wire::dhcp::Message;
use netbootd::wire::MacAddr;

/// The DISCOVER `firmware` sends (the models' own bytes).
pub(super) fn discover(firmware: Firmware, mac: MacAddr) -> Message {
    let uuid = MACHINE_UUID;
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
    match firmware {
        Firmware::UefiX64 => pxe(Arch::X64, Undi::default()),
        Firmware::UefiIa32 => pxe(Arch::Ia32, Undi::default()),
        Firmware::UefiArm64 => pxe(Arch::Aarch64, Undi::default()),
        Firmware::Bios => pxe(Arch::Bios, bios_undi),
        Firmware::IpxeEfi => IpxeId {
            mac,
            build: Build::EfiX64,
            uuid: Some(uuid),
        }
        .discover(1, 4),
        Firmware::IpxeBios => IpxeId {
            mac,
            build: Build::BiosUndi,
            uuid: Some(uuid),
        }
        .discover(1, 4),
        Firmware::UefiHttp => {
            // HttpBootDhcp4.c: 60 "HTTPClient:Arch:00016:UNDI:003000", 93 = 0x0010.
            let mut m = Message {
                op: 1,
                htype: 1,
                hlen: 6,
                xid: 1,
                flags: 0x8000,
                ..Message::default()
            };
            m.chaddr[..6].copy_from_slice(mac.as_bytes());
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
