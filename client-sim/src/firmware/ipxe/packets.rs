//! The bytes iPXE puts in its DHCP messages (src/net/udp/dhcp.c `dhcp_request_options_data`,
//! `dhcp_create_request`, `dhcp_tx`; firmware.md B.1, OBSERVED from Debian's build, the
//! one Debian 12 ships: the 23-code parameter list without 42 and 121).

use std::net::Ipv4Addr;

use netbootd::wire::dhcp::Message;
use netbootd::wire::MacAddr;

/// Which iPXE build: the EFI x86_64 one (ipxe.efi, snponly.efi) or the BIOS UNDI one
/// (undionly.kpxe), each with its `dhcparch.h` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Build {
    EfiX64,
    BiosUndi,
}

impl Build {
    /// Option 93 (`DHCP_ARCH_CLIENT_ARCHITECTURE`).
    pub fn arch(self) -> u16 {
        match self {
            Build::EfiX64 => 0x0007,
            Build::BiosUndi => 0x0000,
        }
    }

    /// Option 94 (`DHCP_ARCH_CLIENT_NDI`): UNDI 3.10 for EFI, 2.1 for BIOS.
    pub fn ndi(self) -> [u8; 3] {
        match self {
            Build::EfiX64 => [1, 3, 10],
            Build::BiosUndi => [1, 2, 1],
        }
    }

    /// `${platform}`.
    pub fn platform(self) -> &'static str {
        match self {
            Build::EfiX64 => "efi",
            Build::BiosUndi => "pcbios",
        }
    }

    /// `${buildarch}`.
    pub fn buildarch(self) -> &'static str {
        match self {
            Build::EfiX64 => "x86_64",
            Build::BiosUndi => "i386",
        }
    }
}

/// The parameter request list of Debian 12's iPXE (2022 sources; 42 came in 2023, 121 in 2025).
pub const PARAMETER_REQUEST_LIST: [u8; 23] = [
    1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175,
    203,
];

/// Option 175 as OBSERVED (capA frame 1193): bus id (PCI 1af4:1000, virtio-net), version 1.0.0,
/// then the feature flags in link order.
pub const ENCAPSULATED: [u8; 39] = [
    0xb1, 0x05, 0x01, 0x1a, 0xf4, 0x10, 0x00, // bus-id
    0xeb, 0x03, 0x01, 0x00, 0x00, // version
    0x17, 0x01, 0x01, // DNS
    0x24, 0x01, 0x01, // EFI
    0x13, 0x01, 0x01, // HTTP
    0x11, 0x01, 0x01, // iSCSI
    0x27, 0x01, 0x01, // Menu
    0x29, 0x01, 0x01, // NFS
    0x15, 0x01, 0x01, // TFTP
    0x1b, 0x01, 0x01, // SRP
    0x12, 0x01, 0x01, // AoE
];

/// Option 175 of the BIOS build (QEMU's ipxe-qemu ROM for virtio-net, Debian 12's
/// 1.0.0+git-20190125), OBSERVED under QEMU by `bootsim qemu --firmware bios --compare`: the
/// same bus id and version, then the features linked into a BIOS build, in link order
/// (`DHCP_EB_FEATURE_*`, src/include/ipxe/features.h): PXE_EXT carries the value 2.
pub const ENCAPSULATED_BIOS: [u8; 48] = [
    0xb1, 0x05, 0x01, 0x1a, 0xf4, 0x10, 0x00, // bus-id
    0xeb, 0x03, 0x01, 0x00, 0x00, // version
    0x17, 0x01, 0x01, // DNS
    0x22, 0x01, 0x01, // ELF
    0x13, 0x01, 0x01, // HTTP
    0x11, 0x01, 0x01, // iSCSI
    0x27, 0x01, 0x01, // Menu
    0x19, 0x01, 0x01, // Multiboot
    0x29, 0x01, 0x01, // NFS
    0x10, 0x01, 0x02, // PXE API extensions
    0x21, 0x01, 0x01, // PXE format
    0x15, 0x01, 0x01, // TFTP
    0x18, 0x01, 0x01, // bzImage
    0x12, 0x01, 0x01, // AoE
];

/// Who the client is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub mac: MacAddr,
    pub build: Build,
    /// SMBIOS UUID as written canonically; None: no option 97.
    pub uuid: Option<[u8; 16]>,
}

impl Identity {
    /// Option 60: always `PXEClient:Arch:%05d:UNDI:%03d%03d` (`DHCP_VENDOR_PXECLIENT`).
    pub fn vendor_class(&self) -> String {
        let ndi = self.build.ndi();
        format!(
            "PXEClient:Arch:{:05}:UNDI:{:03}{:03}",
            self.build.arch(),
            ndi[1],
            ndi[2]
        )
    }

    fn header(&self, xid: u32, secs: u16) -> Message {
        let mut m = Message {
            op: 1,
            htype: 1,
            hlen: 6,
            xid,
            secs,
            // dhcp_create_packet: broadcast flag only without an address; the 2019 build
            // and Debian's send 0x0000 (firmware.md B.1).
            flags: 0,
            ..Message::default()
        };
        m.chaddr[..6].copy_from_slice(self.mac.as_bytes());
        m
    }

    fn options(&self, m: &mut Message, kind: u8, request: Option<(Ipv4Addr, Ipv4Addr)>) {
        m.options.push(53, &[kind]);
        m.options.push(57, &1472u16.to_be_bytes());
        m.options.push(93, &self.build.arch().to_be_bytes());
        m.options.push(94, &self.build.ndi());
        m.options.push(60, self.vendor_class().as_bytes());
        // 77 is the raw string "iPXE", not RFC 3004's length-prefixed form.
        m.options.push(77, b"iPXE");
        m.options.push(55, &PARAMETER_REQUEST_LIST);
        m.options.push(
            175,
            match self.build {
                Build::EfiX64 => &ENCAPSULATED[..],
                Build::BiosUndi => &ENCAPSULATED_BIOS[..],
            },
        );
        let mut client_id = vec![1u8];
        client_id.extend_from_slice(self.mac.as_bytes());
        m.options.push(61, &client_id);
        if let Some(u) = &self.uuid {
            m.options.push(97, &crate::firmware::client_machine_id(u));
        }
        if let Some((server, address)) = request {
            m.options.push(54, &server.octets());
            m.options.push(50, &address.octets());
        }
        m.options.end();
    }

    pub fn discover(&self, xid: u32, secs: u16) -> Message {
        let mut m = self.header(xid, secs);
        self.options(&mut m, 1, None);
        m
    }

    pub fn request(&self, xid: u32, secs: u16, server: Ipv4Addr, address: Ipv4Addr) -> Message {
        let mut m = self.header(xid, secs);
        self.options(&mut m, 3, Some((server, address)));
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discover_carries_the_observed_options_in_order() {
        let id = Identity {
            mac: MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
            build: Build::EfiX64,
            uuid: Some(crate::firmware::MACHINE_UUID),
        };
        let m = id.discover(7, 4);
        assert_eq!(m.flags, 0);
        assert_eq!(m.secs, 4);
        assert_eq!(m.options.codes(), [53, 57, 93, 94, 60, 77, 55, 175, 61, 97]);
        assert_eq!(m.option(60).unwrap(), b"PXEClient:Arch:00007:UNDI:003010");
        assert_eq!(m.option(77).unwrap(), b"iPXE");
        assert_eq!(m.option(61).unwrap(), [1, 0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        let r = id.request(
            7,
            18,
            Ipv4Addr::new(192, 168, 1, 1),
            Ipv4Addr::new(192, 168, 1, 2),
        );
        assert_eq!(
            r.options.codes(),
            [53, 57, 93, 94, 60, 77, 55, 175, 61, 97, 54, 50]
        );
        let bios = Identity {
            build: Build::BiosUndi,
            uuid: None,
            ..id
        };
        assert_eq!(
            bios.discover(1, 4).option(60).unwrap(),
            b"PXEClient:Arch:00000:UNDI:002001"
        );
    }
}
