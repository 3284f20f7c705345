//! The bytes EDK2's PXE driver puts on the wire, option for option.
//!
//! Sources (firmware.md A.2, A.3, A.6, confirmed on the wire from OVMF edk2-stable202211):
//! `NetworkPkg/Dhcp4Dxe/Dhcp4Io.c: DhcpSendMessage` (header, 53 and 57 first, flags 0x8000),
//! `NetworkPkg/UefiPxeBcDxe/PxeBcDhcp4.c: PxeBcBuildDhcp4Options` (55, 97, 94, 93, 60) and
//! `PxeBcDhcp4CallBack` (57 rewritten to 1472 for DISCOVER only), `PxeBcDhcp4.h`
//! (`PXEBC_DHCP4_OPTION_CLID`, `DEFAULT_CLASS_ID_DATA`).

use std::net::Ipv4Addr;

use netbootd::wire::dhcp::{Message, OptionList};
use netbootd::wire::MacAddr;

/// `EFI_PXE_CLIENT_SYSTEM_ARCHITECTURE` values (MdePkg/Include/Protocol/PxeBaseCode.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Ia32,
    X64,
    Aarch64,
    /// A legacy BIOS PXE ROM (arch 0, RFC 4578): modelled with the same DHCP/TFTP machine
    /// for its identity on a mixed network; its ROM says "PXE-E53: No boot filename
    /// received" as EDK2 does.
    Bios,
}

impl Arch {
    pub fn code(self) -> u16 {
        match self {
            Arch::Ia32 => 0x0006,
            Arch::X64 => 0x0007,
            Arch::Aarch64 => 0x000b,
            Arch::Bios => 0x0000,
        }
    }
}

/// The network interface's UNDI identity: option 94 and the `UNDI:` part of option 60.
/// OVMF's own drivers have no NII protocol, so EDK2 uses `DEFAULT_UNDI_TYPE/MAJOR/MINOR`
/// = 1, 3, 0 (OBSERVED `01 03 00` and `UNDI:003000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undi {
    pub kind: u8,
    pub major: u8,
    pub minor: u8,
}

impl Default for Undi {
    fn default() -> Self {
        Undi {
            kind: 1,
            major: 3,
            minor: 0,
        }
    }
}

/// Who the client is: everything that ends up in its DHCP messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub mac: MacAddr,
    pub arch: Arch,
    pub undi: Undi,
    /// The SMBIOS type-1 UUID as written canonically (`4c4c4544-0042-...`).
    pub uuid: [u8; 16],
}

/// The parameter request list EDK2 sends (`PxeBcBuildDhcp4Options`, mInterestedDhcp4Tags
/// plus 128..135): 35 codes, OBSERVED.
pub const PARAMETER_REQUEST_LIST: [u8; 35] = [
    1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66,
    67, 97, 128, 129, 130, 131, 132, 133, 134, 135,
];

/// `PXEBC_DHCP4_PACKET_MAX_SIZE`, written into option 57 of the DISCOVER only.
pub const DISCOVER_MAX_MESSAGE_SIZE: u16 = 1472;
/// Dhcp4Dxe's own 57 (0xFF00), which survives in the REQUEST (firmware.md A.3).
pub const REQUEST_MAX_MESSAGE_SIZE: u16 = 0xff00;

impl Identity {
    /// Option 60: `PXEClient:Arch:%05u:UNDI:%03u%03u`.
    pub fn vendor_class(&self) -> String {
        format!(
            "PXEClient:Arch:{:05}:UNDI:{:03}{:03}",
            self.arch.code(),
            self.undi.major,
            self.undi.minor
        )
    }

    /// Option 97: type 0 then the GUID in EFI byte order (first three fields little-endian),
    /// as `NetLibGetSystemGuid` returns it (OBSERVED for 4c4c4544-0042-3510-8052-b4c04f384d32).
    pub fn client_machine_id(&self) -> [u8; 17] {
        crate::firmware::client_machine_id(&self.uuid)
    }

    fn header(&self, xid: u32, secs: u16) -> Message {
        let mut m = Message {
            op: 1,
            htype: 1,
            hlen: 6,
            xid,
            secs,
            // DhcpSendMessage: `Head->Reserved = HTONS (0x8000)`, always.
            flags: 0x8000,
            ..Message::default()
        };
        m.chaddr[..6].copy_from_slice(self.mac.as_bytes());
        m
    }

    /// The PXE options in the order `PxeBcBuildDhcp4Options` appends them.
    fn pxe_options(&self, options: &mut OptionList) {
        options.push(55, &PARAMETER_REQUEST_LIST);
        options.push(97, &self.client_machine_id());
        options.push(94, &[self.undi.kind, self.undi.major, self.undi.minor]);
        options.push(93, &self.arch.code().to_be_bytes());
        options.push(60, self.vendor_class().as_bytes());
    }

    /// DHCPDISCOVER: 53, 57 (1472), 55, 97, 94, 93, 60, end; no padding (347 bytes).
    pub fn discover(&self, xid: u32, secs: u16) -> Message {
        let mut m = self.header(xid, secs);
        m.options.push(53, &[1]);
        m.options.push(57, &DISCOVER_MAX_MESSAGE_SIZE.to_be_bytes());
        self.pxe_options(&mut m.options);
        m.options.end();
        m
    }

    /// DHCPREQUEST (selecting): 53, 54, 50, 57 (65280), 55, 97, 94, 93, 60, end.
    pub fn request(&self, xid: u32, secs: u16, server: Ipv4Addr, address: Ipv4Addr) -> Message {
        let mut m = self.header(xid, secs);
        m.options.push(53, &[3]);
        m.options.push(54, &server.octets());
        m.options.push(50, &address.octets());
        m.options.push(57, &REQUEST_MAX_MESSAGE_SIZE.to_be_bytes());
        self.pxe_options(&mut m.options);
        m.options.end();
        m
    }

    /// The BINL request to port 4011 (`PxeBcRetryBinlOffer`): built with `Dhcp4->Build`, which
    /// emits options sorted by tag (OBSERVED 53, 55, 57=1472, 60, 93, 94, 97); flags 0,
    /// ciaddr = the leased address.
    pub fn binl_request(&self, xid: u32, secs: u16, ciaddr: Ipv4Addr) -> Message {
        let mut m = self.header(xid, secs);
        m.flags = 0;
        m.ciaddr = ciaddr;
        m.options.push(53, &[3]);
        m.options.push(55, &PARAMETER_REQUEST_LIST);
        m.options.push(57, &DISCOVER_MAX_MESSAGE_SIZE.to_be_bytes());
        m.options.push(60, self.vendor_class().as_bytes());
        m.options.push(93, &self.arch.code().to_be_bytes());
        m.options
            .push(94, &[self.undi.kind, self.undi.major, self.undi.minor]);
        m.options.push(97, &self.client_machine_id());
        m.options.end();
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client of firmware.md's QEMU run: MAC 52:54:00:12:34:56,
    /// `-smbios type=1,uuid=4c4c4544-0042-3510-8052-b4c04f384d32`.
    pub fn ovmf() -> Identity {
        Identity {
            mac: MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
            arch: Arch::X64,
            undi: Undi::default(),
            uuid: crate::firmware::MACHINE_UUID,
        }
    }

    #[test]
    fn discover_matches_the_ovmf_capture() {
        let bytes = ovmf().discover(0xdead_beef, 0).encode();
        assert_eq!(bytes.len(), 347, "UDP payload of capA frame 15");
        let m = Message::decode(&bytes).unwrap();
        assert_eq!(m.flags, 0x8000);
        assert_eq!(m.options.codes(), [53, 57, 55, 97, 94, 93, 60]);
        assert_eq!(m.option(57).unwrap(), [0x05, 0xc0]);
        assert_eq!(
            m.option(97).unwrap(),
            [
                0x00, 0x44, 0x45, 0x4c, 0x4c, 0x42, 0x00, 0x10, 0x35, 0x80, 0x52, 0xb4, 0xc0, 0x4f,
                0x38, 0x4d, 0x32
            ]
        );
        assert_eq!(m.option(94).unwrap(), [1, 3, 0]);
        assert_eq!(m.option(93).unwrap(), [0, 7]);
        assert_eq!(m.option(60).unwrap(), b"PXEClient:Arch:00007:UNDI:003000");
    }

    #[test]
    fn request_keeps_dhcp4dxe_max_size() {
        let m = ovmf().request(
            1,
            4,
            Ipv4Addr::new(192, 168, 77, 1),
            Ipv4Addr::new(192, 168, 77, 111),
        );
        assert_eq!(m.options.codes(), [53, 54, 50, 57, 55, 97, 94, 93, 60]);
        assert_eq!(m.option(57).unwrap(), [0xff, 0x00]);
        assert_eq!(m.secs, 4);
    }

    #[test]
    fn aarch64_class_id_is_zero_padded_decimal() {
        let id = Identity {
            arch: Arch::Aarch64,
            ..ovmf()
        };
        assert_eq!(id.vendor_class(), "PXEClient:Arch:00011:UNDI:003000");
    }

    #[test]
    fn binl_request_is_sorted_by_tag() {
        let m = ovmf().binl_request(9, 0, Ipv4Addr::new(192, 168, 77, 111));
        assert_eq!(m.options.codes(), [53, 55, 57, 60, 93, 94, 97]);
        assert_eq!(m.flags, 0);
    }
}
