//! What a read and a write transfer have in common: how one ends, and what it asks to send.

use super::packet::Packet;

/// What a session wants sent now, in order.
pub type Sends = Vec<Packet>;

/// How a transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Complete {
        bytes: u64,
        blocks: u64,
    },
    /// The client ended it with an ERROR (EDK2's code 8 after its size probe).
    ClientError {
        code: u16,
        message: String,
    },
    TimedOut,
    ReadFailed(String),
    /// A write could not be stored (size limit, disk full, I/O error).
    WriteFailed(String),
}
