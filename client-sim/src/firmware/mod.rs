//! Network-boot firmware, each model a sans-IO state machine on a virtual clock.

pub mod ipxe;
pub mod refind;
pub mod uefi_pxe;

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
