//! A read's window: the blocks sent and not yet acknowledged (RFC 7440; one block in
//! lock-step). Blocks read for the transfer are kept in a queue; blocks of a file framed once
//! for every transfer of it ([`Blocks`]) are consecutive packets of it, so the window keeps
//! only where the run starts and how long it is: an ACK then touches the session alone, not
//! a buffer of its own (in a simulated storm of thousands of transfers, that buffer was a
//! trip to memory per packet).

use std::collections::VecDeque;
use std::sync::Arc;

use crate::wire::payload::{Blocks, Payload};

use super::packet::Packet;

/// One block: read for this transfer, or a packet shared with others.
pub(super) enum Block {
    Read(Vec<u8>),
    Shared(Payload),
}

impl Block {
    pub(super) fn len(&self) -> usize {
        match self {
            Block::Read(v) => v.len(),
            Block::Shared(p) => p.len() - 4,
        }
    }
}

pub(super) enum Window {
    Read(VecDeque<Vec<u8>>),
    /// Packets `first..first + len` of `blocks`.
    Shared {
        blocks: Arc<Blocks>,
        first: usize,
        len: usize,
    },
}

impl Window {
    /// An empty window for blocks read from the source, or packets of `shared`.
    pub(super) fn new(shared: Option<&Arc<Blocks>>) -> Window {
        match shared {
            Some(blocks) => Window::Shared {
                blocks: Arc::clone(blocks),
                first: 0,
                len: 0,
            },
            None => Window::Read(VecDeque::new()),
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Window::Read(q) => q.len(),
            Window::Shared { len, .. } => *len,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds the next block: read ones to a window of read blocks, the next shared packet to
    /// a shared one (a session's blocks are all of one kind, in order).
    pub(super) fn push(&mut self, block: Block) {
        match (self, block) {
            (Window::Read(q), Block::Read(data)) => q.push_back(data),
            (Window::Shared { first, len, .. }, Block::Shared(packet)) => {
                debug_assert_eq!(packet.block().map(|(_, i)| i), Some(*first + *len));
                *len += 1;
            }
            _ => unreachable!("a session's blocks are all read or all shared"),
        }
    }

    /// Drops the oldest block, giving back its buffer when it was read.
    pub(super) fn pop_front(&mut self) -> Option<Vec<u8>> {
        match self {
            Window::Read(q) => q.pop_front(),
            Window::Shared { first, len, .. } => {
                if *len > 0 {
                    *first += 1;
                    *len -= 1;
                }
                None
            }
        }
    }

    /// Block `index` of the window as a DATA packet; `absolute` is its block number
    /// (a shared packet was numbered the same way when it was framed).
    pub(super) fn packet(&self, index: usize, absolute: u64) -> Packet {
        match self {
            Window::Read(q) => Packet::Data {
                // Block numbers wrap 65535 -> 0 (tftpd-hpa's rollover).
                block: (absolute & 0xffff) as u16,
                data: q[index].clone(),
            },
            Window::Shared { blocks, first, .. } => {
                Packet::SharedData(blocks.payload(first + index))
            }
        }
    }
}
