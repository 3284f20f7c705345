//! A datagram's bytes, and files framed once as TFTP DATA packets so that many transfers of
//! one file send the same bytes without copying them.
//!
//! bootsim's in-process segment carries ten thousand downloads of one 830 KiB ipxe.efi in a
//! storm: with a copy per frame that is gigabytes of copying, and every simulated client would
//! hash and scan the same bytes again. [`Blocks`] cuts a file into DATA packets of one block
//! size once (block `k` is always numbered `k + 1`, wrapping at 65536 as tftpd-hpa's rollover
//! does, so the packets are the same for every transfer); a [`Payload`] is either bytes of its
//! own or one of those packets, shared. A reader that knows the packets came from one
//! [`Blocks`] in order can derive facts about the file once ([`Blocks::memo`]). A short
//! packet (a TFTP ACK: 4 bytes, sent about once per block by every client) is held inline,
//! so that sending, keeping and comparing one allocates nothing.

use std::any::Any;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// A datagram's payload: its own bytes, or one DATA packet of a shared [`Blocks`].
#[derive(Clone)]
pub struct Payload(Repr);

#[derive(Clone)]
enum Repr {
    Owned(Vec<u8>),
    /// Up to [`INLINE`] bytes: the first `len` of `bytes`.
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Block {
        blocks: Arc<Blocks>,
        index: usize,
    },
}

/// The longest payload held inline: 15 with its length byte fills the 16 bytes of a `Vec`
/// beside its capacity, whose unused values then tell the variants apart, so the enum stays
/// the size of a `Vec` (24 bytes; 22 made it 32, and a storm moves every frame's payload
/// several times).
const INLINE: usize = 15;

impl Payload {
    /// The shared file this is a DATA packet of, and which (0: block 1).
    #[inline]
    pub fn block(&self) -> Option<(&Arc<Blocks>, usize)> {
        match &self.0 {
            Repr::Block { blocks, index } => Some((blocks, *index)),
            Repr::Owned(_) | Repr::Inline { .. } => None,
        }
    }

    /// `v`'s bytes, inline when they are few.
    fn copied(v: &[u8]) -> Payload {
        if v.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..v.len()].copy_from_slice(v);
            return Payload(Repr::Inline {
                len: v.len() as u8,
                bytes,
            });
        }
        Payload(Repr::Owned(v.to_vec()))
    }
}

/// Inlined (as [`Blocks::packet`]): bootsim reads a payload's length several times per frame.
impl Deref for Payload {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Owned(v) => v,
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Block { blocks, index } => blocks.packet(*index),
        }
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Default for Payload {
    fn default() -> Self {
        Payload(Repr::Owned(Vec::new()))
    }
}

impl From<Vec<u8>> for Payload {
    fn from(v: Vec<u8>) -> Payload {
        Payload(Repr::Owned(v))
    }
}

impl From<&[u8]> for Payload {
    fn from(v: &[u8]) -> Payload {
        Payload::copied(v)
    }
}

impl<const N: usize> From<[u8; N]> for Payload {
    fn from(v: [u8; N]) -> Payload {
        Payload::copied(&v)
    }
}

impl From<Payload> for Vec<u8> {
    fn from(p: Payload) -> Vec<u8> {
        match p.0 {
            Repr::Owned(v) => v,
            Repr::Inline { .. } | Repr::Block { .. } => p.to_vec(),
        }
    }
}

/// Payloads are equal when their bytes are, however they are held.
impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        **self == **other
    }
}

impl Eq for Payload {}

impl PartialEq<Vec<u8>> for Payload {
    fn eq(&self, other: &Vec<u8>) -> bool {
        **self == **other
    }
}

impl PartialEq<[u8]> for Payload {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

/// As a byte vector prints, so that transcripts and snapshots read the same.
impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A file cut into TFTP DATA packets of one block size, built once and shared by every
/// transfer of it (RFC 1350: a last block shorter than the block size ends a transfer, so a
/// file whose size is a multiple of it ends with an empty one).
pub struct Blocks {
    /// Every packet, one after another: opcode 3, block number, up to `blksize` bytes.
    packets: Vec<u8>,
    blksize: usize,
    count: usize,
    len: u64,
    memo: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl fmt::Debug for Blocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Blocks({} bytes in {} blocks of {})",
            self.len, self.count, self.blksize
        )
    }
}

impl Blocks {
    /// Frames `data` in blocks of `blksize` (at least 1).
    pub fn new(data: &[u8], blksize: usize) -> Arc<Blocks> {
        let blksize = blksize.max(1);
        let count = data.len() / blksize + 1;
        let mut packets = Vec::with_capacity(data.len() + 4 * count);
        for k in 0..count {
            let chunk = &data[(k * blksize).min(data.len())..((k + 1) * blksize).min(data.len())];
            packets.extend_from_slice(&3u16.to_be_bytes());
            // Block numbers wrap 65535 -> 0 (tftpd-hpa's rollover).
            packets.extend_from_slice(&(((k + 1) & 0xffff) as u16).to_be_bytes());
            packets.extend_from_slice(chunk);
        }
        Arc::new(Blocks {
            packets,
            blksize,
            count,
            len: data.len() as u64,
            memo: OnceLock::new(),
        })
    }

    pub fn blksize(&self) -> usize {
        self.blksize
    }

    /// How many DATA packets a transfer sends.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The file's size.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// DATA packet `index` (block `index + 1`), header included.
    #[inline]
    pub fn packet(&self, index: usize) -> &[u8] {
        let start = index * (self.blksize + 4);
        &self.packets[start..(start + 4 + self.blksize).min(self.packets.len())]
    }

    /// The data of packet `index`.
    pub fn data(&self, index: usize) -> &[u8] {
        &self.packet(index)[4..]
    }

    /// Packet `index` as a payload that shares these bytes.
    pub fn payload(self: &Arc<Self>, index: usize) -> Payload {
        debug_assert!(index < self.count);
        Payload(Repr::Block {
            blocks: Arc::clone(self),
            index,
        })
    }

    /// A fact about the file derived once by `make` and kept with it (the description a
    /// simulated client derives from a download, the same for every client that downloads
    /// it); `None` when a fact of another type was kept first.
    pub fn memo<T: Any + Send + Sync + Clone>(&self, make: impl FnOnce(&Blocks) -> T) -> Option<T> {
        self.memo
            .get_or_init(|| Box::new(make(self)))
            .downcast_ref::<T>()
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_carry_the_file_with_numbered_headers_and_an_empty_tail_on_a_multiple() {
        let data: Vec<u8> = (0..10u8).collect();
        let b = Blocks::new(&data, 4);
        assert_eq!(b.count(), 3);
        assert_eq!(b.packet(0), &[0, 3, 0, 1, 0, 1, 2, 3]);
        assert_eq!(b.packet(2), &[0, 3, 0, 3, 8, 9]);
        let even = Blocks::new(&data[..8], 4);
        assert_eq!(even.count(), 3);
        assert_eq!(even.packet(2), &[0, 3, 0, 3]);
        let p = even.payload(1);
        assert_eq!(&*p, &[0, 3, 0, 2, 4, 5, 6, 7]);
        assert_eq!(p, Payload::from(vec![0, 3, 0, 2, 4, 5, 6, 7]));
        assert_eq!(format!("{p:?}"), "[0, 3, 0, 2, 4, 5, 6, 7]");
        assert_eq!(even.memo(|b| b.len()), Some(8));
        assert_eq!(even.memo(|_| 99u64), Some(8), "derived once");
        assert_eq!(even.memo(|_| "other type"), None);
    }

    #[test]
    fn short_payloads_are_inline_and_equal_to_the_same_bytes_held_otherwise() {
        let ack = Payload::from([0u8, 4, 0, 7]);
        assert!(matches!(ack.0, Repr::Inline { len: 4, .. }));
        assert_eq!(ack, Payload::from(vec![0, 4, 0, 7]));
        assert_eq!(&*ack, &[0, 4, 0, 7]);
        assert_eq!(Vec::from(ack.clone()), vec![0, 4, 0, 7]);
        assert_eq!(format!("{ack:?}"), "[0, 4, 0, 7]");
        let long = Payload::from(&[1u8; INLINE + 1][..]);
        assert!(matches!(long.0, Repr::Owned(_)));
        assert_eq!(long.len(), INLINE + 1);
        assert_eq!(
            std::mem::size_of::<Payload>(),
            std::mem::size_of::<Vec<u8>>()
        );
    }

    #[test]
    fn block_numbers_roll_over_at_65536() {
        let data = vec![7u8; 65_537];
        let b = Blocks::new(&data, 1);
        assert_eq!(&b.packet(65_534)[..4], &[0, 3, 0xff, 0xff]);
        assert_eq!(&b.packet(65_535)[..4], &[0, 3, 0, 0]);
    }
}
