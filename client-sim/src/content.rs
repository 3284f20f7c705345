//! A downloaded file as the firmware models keep it. Firmware runs what it downloads; the
//! models only need to know what it is (identified by content as it streams in: PE headers
//! from its start, program signatures anywhere) and, for scripts and config files, their
//! text. So a binary keeps its first 4 KiB, anything else its first 1 MiB, plus its length and
//! a hash: ten thousand machines downloading an 830 KiB ipxe.efi at once cost megabytes, not
//! gigabytes.

use std::fmt;
use std::sync::Arc;

use netbootd::wire::payload::Blocks;
use netbootd::wire::Payload;

use crate::identify::{identify_streamed, Image, Signatures};

/// How much of a PE image is kept (its headers).
const KEEP_BINARY: usize = 4096;
/// How much of anything else is kept (scripts, configs, BIOS NBPs).
const KEEP_OTHER: usize = 1 << 20;

#[derive(Clone, PartialEq, Eq)]
pub struct Content {
    /// Shared: every machine that downloaded the file holds the same head.
    kept: Arc<[u8]>,
    len: u64,
    hash: u64,
    image: Image,
    /// The version of an iPXE build from before v1.20 ([`Signatures::ipxe_version`]).
    legacy_ipxe: Option<String>,
}

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Content({} bytes, {:?}, hash {:016x})",
            self.len, self.image, self.hash
        )
    }
}

impl Content {
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The start of the file; the whole file when [`Content::is_complete`].
    pub fn bytes(&self) -> &[u8] {
        &self.kept
    }

    pub fn is_complete(&self) -> bool {
        self.kept.len() as u64 == self.len
    }

    /// What the file is.
    pub fn image(&self) -> &Image {
        &self.image
    }

    /// What the file is, in a transcript's words ("x86_64 EFI, iPXE").
    pub fn describe(&self) -> String {
        self.image.describe(self.bytes())
    }

    /// The version of an iPXE build from before v1.20 (Debian 12's ipxe.efi is one:
    /// "1.0.0+git-20190125.36a4c85-5.1").
    pub fn legacy_ipxe(&self) -> Option<&str> {
        self.legacy_ipxe.as_deref()
    }

    /// A hash of the whole file (equality of two downloads; word-wise FNV-1a).
    pub fn hash(&self) -> u64 {
        self.hash
    }
}

impl From<Vec<u8>> for Content {
    fn from(bytes: Vec<u8>) -> Content {
        let mut b = ContentBuilder::default();
        b.push(&bytes);
        b.finish()
    }
}

impl From<&[u8]> for Content {
    fn from(bytes: &[u8]) -> Content {
        let mut b = ContentBuilder::default();
        b.push(bytes);
        b.finish()
    }
}

/// Builds a [`Content`] block by block.
#[derive(Debug, Clone)]
pub struct ContentBuilder {
    kept: Vec<u8>,
    keep: usize,
    len: u64,
    hash: u64,
    pending: [u8; 8],
    pending_len: usize,
    signatures: Signatures,
    /// Everything so far came as the first DATA packets of one shared file, in order: the
    /// file and how many ([`ContentBuilder::push_packet`]); nothing else is filled in yet.
    shared: Option<(Arc<Blocks>, usize)>,
}

impl Default for ContentBuilder {
    fn default() -> Self {
        ContentBuilder {
            kept: Vec::new(),
            keep: KEEP_OTHER,
            len: 0,
            hash: 0xcbf2_9ce4_8422_2325,
            pending: [0; 8],
            pending_len: 0,
            signatures: Signatures::default(),
            shared: None,
        }
    }
}

impl ContentBuilder {
    fn mix(&mut self, word: u64) {
        self.hash = (self.hash ^ word).wrapping_mul(0x0000_0100_0000_01b3);
    }

    pub fn push(&mut self, chunk: &[u8]) {
        if self.len == 0 && chunk.starts_with(b"MZ") {
            self.keep = KEEP_BINARY;
        }
        // FNV-1a over 8-byte words of the whole stream (an identity check, not a digest);
        // a word split across blocks is completed from the next one, so the hash does not
        // depend on the block size.
        let mut rest = chunk;
        if self.pending_len > 0 {
            let take = (8 - self.pending_len).min(rest.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&rest[..take]);
            self.pending_len += take;
            rest = &rest[take..];
            if self.pending_len == 8 {
                self.mix(u64::from_le_bytes(self.pending));
                self.pending_len = 0;
            }
        }
        let mut words = rest.chunks_exact(8);
        for w in &mut words {
            self.mix(u64::from_le_bytes(w.try_into().expect("eight bytes")));
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            self.pending[..tail.len()].copy_from_slice(tail);
            self.pending_len = tail.len();
        }
        self.signatures.scan(chunk);
        let room = self.keep.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&chunk[..room.min(chunk.len())]);
        self.len += chunk.len() as u64;
    }

    /// Adds a TFTP DATA packet's data (after its 4-byte header). Packets of a file framed
    /// once for every transfer ([`Blocks`]) that arrive in order from its first are only
    /// counted: the file is hashed and scanned once, by the first download that finishes
    /// ([`Blocks::memo`]), not once per machine.
    pub fn push_packet(&mut self, packet: &Payload) {
        if let Some((blocks, index)) = packet.block() {
            match &mut self.shared {
                Some((b, next)) if Arc::ptr_eq(b, blocks) && *next == index => {
                    *next += 1;
                    return;
                }
                None if index == 0 && self.len == 0 => {
                    self.shared = Some((blocks.clone(), 1));
                    return;
                }
                _ => {}
            }
        }
        self.unshare();
        self.push(&packet[4..]);
    }

    /// Fills in the shared packets counted so far, as if pushed one by one.
    fn unshare(&mut self) {
        if let Some((blocks, n)) = self.shared.take() {
            for i in 0..n {
                self.push(blocks.data(i));
            }
        }
    }

    pub fn len(&self) -> u64 {
        match &self.shared {
            // Every packet but the last is a full block.
            Some((blocks, n)) if *n == blocks.count() => blocks.len(),
            Some((blocks, n)) => (*n * blocks.blksize()) as u64,
            None => self.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn finish(mut self) -> Content {
        match self.shared.take() {
            Some((blocks, n)) if n == blocks.count() => {
                let whole = |b: &Blocks| {
                    let mut c = ContentBuilder::default();
                    for i in 0..b.count() {
                        c.push(b.data(i));
                    }
                    c.finish()
                };
                if let Some(content) = blocks.memo(whole) {
                    return content;
                }
                self.shared = Some((blocks, n));
            }
            shared => self.shared = shared,
        }
        self.unshare();
        for i in 0..self.pending_len {
            let b = self.pending[i];
            self.mix(u64::from(b));
        }
        let image = identify_streamed(&self.kept, &self.signatures);
        Content {
            kept: self.kept.into(),
            len: self.len,
            hash: self.hash,
            image,
            legacy_ipxe: self.signatures.ipxe_version(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identify::{identify, synthetic};

    #[test]
    fn shared_packets_give_the_content_of_the_bytes_they_carry() {
        let mut file = synthetic::refind_efi(0x8664);
        file.resize(20_000, 7);
        let blocks = netbootd::wire::payload::Blocks::new(&file, 1468);
        let whole = Content::from(file.clone());
        let shared = |from: &std::sync::Arc<netbootd::wire::payload::Blocks>| {
            let mut b = ContentBuilder::default();
            for i in 0..from.count() {
                b.push_packet(&from.payload(i));
            }
            b
        };
        let (first, second) = (shared(&blocks).finish(), shared(&blocks).finish());
        assert_eq!((&first, &second), (&whole, &whole));
        assert_eq!(first.hash(), whole.hash());
        // Another file's packet in the middle: the bytes counted so far are filled in.
        let other = netbootd::wire::payload::Blocks::new(&file, 1468);
        let mut b = ContentBuilder::default();
        for i in 0..blocks.count() {
            let from = if i == 3 { &other } else { &blocks };
            b.push_packet(&from.payload(i));
        }
        assert_eq!(b.len(), file.len() as u64);
        assert_eq!(b.finish(), whole);
        // Owned bytes (a real network) take the same path as before.
        let mut b = ContentBuilder::default();
        for i in 0..blocks.count() {
            b.push_packet(&blocks.packet(i).to_vec().into());
        }
        assert_eq!(b.finish(), whole);
    }

    #[test]
    fn streamed_identification_matches_whole_file_identification() {
        // The rEFInd marker far past the kept head, split across two blocks.
        let mut refind = synthetic::refind_efi(0x8664);
        let marker = refind.split_off(0x200);
        let mut big = refind.clone();
        big.resize(300_000, 0);
        big.extend_from_slice(&marker);
        let mut b = ContentBuilder::default();
        for chunk in big.chunks(1468) {
            b.push(chunk);
        }
        let c = b.finish();
        assert_eq!(c.image(), &identify(&big));
        assert_eq!(c.len(), big.len());
        assert_eq!(c.bytes().len(), KEEP_BINARY);
        assert!(!c.is_complete());
        assert_eq!(c, Content::from(big));
        let script = b"#!ipxe\necho hi\n".to_vec();
        let c = Content::from(script.clone());
        assert!(c.is_complete());
        assert_eq!(c.bytes(), script);
        assert_eq!(c.image(), &identify(&script));
    }
}
