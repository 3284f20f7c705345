//! UEFI PXE over IPv4 as EDK2/OVMF does it (NetworkPkg/UefiPxeBcDxe, Dhcp4Dxe, Mtftp4Dxe):
//! the exact DHCP messages, the retransmission schedule on Dhcp4Dxe's 1-second tick, offer
//! caching and selection, the BINL request to port 4011, and the console lines and PXE-E
//! codes an operator sees. Facts and their sources: firmware.md section A.

pub mod dhcp;
pub mod machine;
pub mod offer;
pub mod packets;
pub mod tftp;

pub use machine::{ConsoleLine, Nbp, UefiPxe};

#[cfg(test)]
mod tests;

/// How a PXE boot attempt ends badly, with EDK2's console text
/// (`PxeBcLoadBootFile`, firmware.md A.10).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
pub enum PxeError {
    /// EFI_DEVICE_ERROR, e.g. a DHCPNAK.
    #[error("PXE-E07: Network device error. ({0})")]
    E07(String),
    /// EFI_NO_RESPONSE: the DHCP window closed with offers cached but none acceptable, or the
    /// BINL/4011 exchange got no usable answer.
    #[error("PXE-E16: No valid offer received.")]
    E16,
    /// EFI_TIMEOUT: no offer at all, or a TFTP server that stopped answering.
    #[error("PXE-E18: Server response timeout.")]
    E18,
    /// EFI_ABORTED: the PXE menu chose local boot.
    #[error("PXE-E21: Remote boot cancelled.")]
    E21,
    /// EFI_TFTP_ERROR: the server answered with a TFTP ERROR.
    #[error("PXE-E23: Client received TFTP error from server. ({0})")]
    E23(String),
    /// EFI_NOT_FOUND: no boot file name, or no tsize in the OACK.
    #[error("PXE-E53: No boot filename received.")]
    E53,
    /// Anything else (EFI_PROTOCOL_ERROR...).
    #[error("PXE-E99: Unexpected network error. ({0})")]
    E99(String),
}
