//! Network-boot firmware, each model a sans-IO state machine on a virtual clock.

pub mod ipxe;
pub mod refind;
pub mod uefi_pxe;

/// The SMBIOS type-1 UUID a modelled machine carries unless a scenario says otherwise, as
/// written canonically: the one bootsim gives QEMU (`-smbios type=1,uuid=`, `qemu::UUID`), so
/// the models and the real firmware send the same option 97.
pub const MACHINE_UUID: [u8; 16] = [
    0x4c, 0x4c, 0x45, 0x44, 0x00, 0x42, 0x35, 0x10, 0x80, 0x52, 0xb4, 0xc0, 0x4f, 0x38, 0x4d, 0x32,
];

/// Option 97 (client machine identifier, RFC 4578): type 0, then the SMBIOS UUID in EFI byte
/// order (first three fields little-endian). EDK2 (`NetLibGetSystemGuid`) and iPXE
/// (`uuid_mangle`) send the same bytes (firmware.md A.2, B.1).
pub fn client_machine_id(uuid: &[u8; 16]) -> [u8; 17] {
    let u = uuid;
    let mut out = [0u8; 17];
    out[1..5].copy_from_slice(&[u[3], u[2], u[1], u[0]]);
    out[5..7].copy_from_slice(&[u[5], u[4]]);
    out[7..9].copy_from_slice(&[u[7], u[6]]);
    out[9..17].copy_from_slice(&u[8..16]);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_machine_uuid_is_the_one_qemu_is_given() {
        let text = netbootd::wire::mac::hex_colons(&super::MACHINE_UUID).replace(':', "");
        assert_eq!(text, crate::qemu::UUID.replace('-', ""));
    }
}
