//! One read transfer, sans-IO: the caller feeds packets and clock ticks, the session says what
//! to send and when it is finished. Options are negotiated per RFC 2347 (an OACK, then ACK 0);
//! data goes out a window at a time (RFC 7440; windowsize 1 is RFC 1350's lock-step); block
//! numbers wrap from 65535 to 0 as tftpd-hpa does; a duplicate ACK never triggers a resend
//! (no sorcerer's apprentice, RFC 1123 4.2.3.1): only the timer does.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::time::Instant;
use crate::wire::payload::Blocks;

use super::config::Limits;
use super::options::{negotiate, Negotiated, Tsize};
use super::packet::{code, Packet};
use super::transfer::{End, Sends};
use super::window::{Block, Window};

/// Where the bytes come from: read sequentially, block by block.
pub trait Source: Send {
    /// Fills `buf` as far as possible; returns how many bytes were read (0 at the end).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
}

impl<R: io::Read + Send> Source for R {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match io::Read::read(self, &mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// OACK sent, waiting for ACK 0.
    Negotiating,
    Sending,
    Done,
}

pub struct ReadSession {
    source: Box<dyn Source>,
    blksize: usize,
    windowsize: u64,
    timeout: Duration,
    retries_left: u32,
    max_retries: u32,
    state: State,
    /// Blocks sent but not acknowledged, starting at block `acked + 1` (absolute numbers).
    window: Window,
    /// The block after the window, read ahead ([`ReadSession::read_ahead`]).
    ahead: Option<io::Result<Block>>,
    /// The file framed once for every transfer of it (octet mode, this block size), and the
    /// index of the next packet: blocks are then shared, not read.
    shared: Option<(Arc<Blocks>, usize)>,
    /// An acknowledged block's buffer, reused for the next read.
    spare: Option<Vec<u8>>,
    acked: u64,
    source_done: bool,
    bytes: u64,
    deadline: Instant,
    oack: Option<Packet>,
    end: Option<End>,
}

impl ReadSession {
    /// Starts a transfer for a request with `options` over `source` whose size (octet
    /// mode) is `size`.
    pub fn start(
        now: Instant,
        source: Box<dyn Source>,
        size: Option<u64>,
        options: &[(String, String)],
        limits: &Limits,
    ) -> (ReadSession, Sends) {
        Self::start_shared(now, source, size, options, limits, |_| None)
    }

    /// As [`ReadSession::start`], sending the packets `shared` gives for the negotiated block
    /// size (the same bytes the source holds, framed once for every transfer) instead of
    /// reading the source.
    pub fn start_shared(
        now: Instant,
        source: Box<dyn Source>,
        size: Option<u64>,
        options: &[(String, String)],
        limits: &Limits,
        shared: impl FnOnce(usize) -> Option<Arc<Blocks>>,
    ) -> (ReadSession, Sends) {
        let Negotiated {
            blksize,
            windowsize,
            timeout,
            granted,
            ..
        } = negotiate(options, limits, Tsize::Read(size));
        let shared = shared(blksize).filter(|b| b.blksize() == blksize);
        let mut session = ReadSession {
            source,
            blksize,
            windowsize,
            timeout,
            retries_left: limits.retries,
            max_retries: limits.retries,
            state: State::Sending,
            window: Window::new(shared.as_ref()),
            ahead: None,
            shared: shared.map(|b| (b, 0)),
            spare: None,
            acked: 0,
            source_done: false,
            bytes: 0,
            deadline: now + timeout,
            oack: None,
            end: None,
        };
        let sends = if granted.is_empty() {
            let mut sends = Sends::new();
            session.fill(now, &mut sends);
            sends
        } else {
            session.state = State::Negotiating;
            let oack = Packet::Oack { options: granted };
            session.oack = Some(oack.clone());
            vec![oack]
        };
        (session, sends)
    }

    pub fn blksize(&self) -> usize {
        self.blksize
    }

    pub fn windowsize(&self) -> u64 {
        self.windowsize
    }

    /// When [`ReadSession::on_timeout`] must be called (None once finished).
    pub fn deadline(&self) -> Option<Instant> {
        (self.state != State::Done).then_some(self.deadline)
    }

    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// Ends a transfer its shell gave up on (the server stopping) as timed out.
    pub fn abandon(&mut self) {
        if self.state != State::Done {
            self.finish(End::TimedOut);
        }
    }

    /// Reads the block the next window starts with, so that the answer to the client's ACK
    /// leaves without waiting for the file (tftpd-hpa's read-ahead, tftp_sendfile's
    /// `readit`). Only a shell calls it, after sending, while the client is busy.
    pub fn read_ahead(&mut self) {
        if self.state != State::Done && !self.source_done && self.ahead.is_none() {
            self.ahead = Some(self.next_block());
        }
    }

    /// The next block: the next shared packet, or read from the source.
    fn next_block(&mut self) -> io::Result<Block> {
        match self.shared.as_mut() {
            Some((blocks, next)) => {
                let packet = blocks.payload(*next);
                *next += 1;
                Ok(Block::Shared(packet))
            }
            None => self.read_block().map(Block::Read),
        }
    }

    /// The next block of the source, at most `blksize` bytes.
    fn read_block(&mut self) -> io::Result<Vec<u8>> {
        let mut buf = self.spare.take().unwrap_or_default();
        buf.resize(self.blksize, 0);
        let n = self.source.read(&mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    fn finish(&mut self, end: End) -> Sends {
        self.state = State::Done;
        self.end = Some(end);
        Vec::new()
    }

    fn data(&self, index: usize) -> Packet {
        self.window.packet(index, self.acked + 1 + index as u64)
    }

    /// Reads blocks until the window is full and adds the new ones to `sends` (on a read
    /// error, the ERROR instead of this call's blocks).
    fn fill(&mut self, now: Instant, sends: &mut Sends) {
        let start = sends.len();
        while (self.window.len() as u64) < self.windowsize && !self.source_done {
            let read = match self.ahead.take() {
                Some(block) => block,
                None => self.next_block(),
            };
            let buf = match read {
                Ok(buf) => buf,
                Err(e) => {
                    let message = e.to_string();
                    self.finish(End::ReadFailed(message.clone()));
                    sends.truncate(start);
                    sends.push(Packet::Error {
                        code: code::UNDEFINED,
                        message,
                    });
                    return;
                }
            };
            let n = buf.len();
            self.bytes += n as u64;
            if n < self.blksize {
                self.source_done = true;
            }
            self.window.push(buf);
            sends.push(self.data(self.window.len() - 1));
        }
        if sends.len() > start {
            self.deadline = now + self.timeout;
        }
    }

    /// A packet from the client's transfer ID: what to send back.
    pub fn on_packet(&mut self, now: Instant, packet: &Packet) -> Sends {
        let mut sends = Sends::new();
        self.on_packet_into(now, packet, &mut sends);
        sends
    }

    /// As [`ReadSession::on_packet`], adding what to send to `sends` (a storm answers
    /// millions of ACKs: the caller's buffer is reused, nothing is allocated per ACK).
    pub fn on_packet_into(&mut self, now: Instant, packet: &Packet, sends: &mut Sends) {
        if self.state == State::Done {
            return;
        }
        match packet {
            Packet::Error { code, message } => {
                self.finish(End::ClientError {
                    code: *code,
                    message: message.clone(),
                });
            }
            Packet::Ack { block } => self.on_ack(now, *block, sends),
            _ => {
                sends.push(Packet::Error {
                    code: code::ILLEGAL,
                    message: "Illegal TFTP operation".into(),
                });
                self.finish(End::ClientError {
                    code: code::ILLEGAL,
                    message: "unexpected packet during a read".into(),
                });
            }
        }
    }

    fn on_ack(&mut self, now: Instant, block: u16, sends: &mut Sends) {
        if self.state == State::Negotiating {
            if block != 0 {
                return;
            }
            self.state = State::Sending;
            self.retries_left = self.max_retries;
            return self.fill(now, sends);
        }
        // The absolute block this ACK names: the one in the outstanding window whose low 16
        // bits match; anything else (a duplicate of an older ACK) is ignored.
        let outstanding = self.window.len() as u64;
        let Some(k) = (0..=outstanding).find(|k| ((self.acked + k) & 0xffff) as u16 == block)
        else {
            return;
        };
        if k == 0 {
            return; // duplicate ACK: wait for the timer, never resend on it
        }
        for _ in 0..k {
            if let Some(buf) = self.window.pop_front() {
                self.spare = Some(buf);
            }
        }
        self.acked += k;
        self.retries_left = self.max_retries;
        if self.window.is_empty() && self.source_done {
            let (bytes, blocks) = (self.bytes, self.acked);
            self.finish(End::Complete { bytes, blocks });
            return;
        }
        // A partial ACK (RFC 7440 section 4): the client lost the block after the one it
        // names, so the next window starts there: resend what it has not got, then new blocks.
        if k < outstanding {
            self.deadline = now + self.timeout;
            sends.extend((0..self.window.len()).map(|i| self.data(i)));
        }
        self.fill(now, sends);
    }

    pub fn on_timeout(&mut self, now: Instant) -> Sends {
        if self.state == State::Done || now < self.deadline {
            return Vec::new();
        }
        if self.retries_left == 0 {
            return self.finish(End::TimedOut);
        }
        self.retries_left -= 1;
        self.deadline = now + self.timeout;
        match (&self.state, &self.oack) {
            (State::Negotiating, Some(oack)) => vec![oack.clone()],
            _ => (0..self.window.len()).map(|i| self.data(i)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(data: Vec<u8>, options: &[(&str, &str)]) -> (ReadSession, Sends, Instant) {
        let now = Instant::ZERO;
        let size = data.len() as u64;
        let options: Vec<(String, String)> = options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (s, sends) = ReadSession::start(
            now,
            Box::new(io::Cursor::new(data)),
            Some(size),
            &options,
            &Limits::default(),
        );
        (s, sends, now)
    }

    fn blocks(sends: &Sends) -> Vec<u16> {
        sends
            .iter()
            .filter_map(|p| match p {
                Packet::Data { block, .. } => Some(*block),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn rfc1350_lock_step_with_a_final_empty_block() {
        let (mut s, sends, now) = start(vec![7; 1024], &[]);
        assert_eq!(blocks(&sends), [1]);
        assert_eq!(blocks(&s.on_packet(now, &Packet::Ack { block: 1 })), [2]);
        assert_eq!(blocks(&s.on_packet(now, &Packet::Ack { block: 2 })), [3]);
        assert!(s.on_packet(now, &Packet::Ack { block: 3 }).is_empty());
        assert_eq!(
            s.end(),
            Some(&End::Complete {
                bytes: 1024,
                blocks: 3
            })
        );
    }

    #[test]
    fn edk2_probe_gets_an_oack_and_its_error_8_ends_quietly() {
        let (mut s, sends, now) = start(
            vec![0; 850_528],
            &[("tsize", "0"), ("blksize", "1468"), ("windowsize", "4")],
        );
        assert_eq!(
            sends,
            [Packet::Oack {
                options: vec![
                    ("tsize".into(), "850528".into()),
                    ("blksize".into(), "1468".into()),
                    ("windowsize".into(), "4".into())
                ]
            }]
        );
        let error = Packet::Error {
            code: 8,
            message: "User aborted the transfer".into(),
        };
        assert!(s.on_packet(now, &error).is_empty());
        assert!(matches!(s.end(), Some(End::ClientError { code: 8, .. })));
        assert_eq!(s.deadline(), None);
    }

    #[test]
    fn windows_advance_on_acks_and_resend_only_on_timeout() {
        let (mut s, sends, now) = start(vec![1; 512 * 10], &[("windowsize", "4")]);
        assert!(matches!(sends[0], Packet::Oack { .. }));
        assert_eq!(
            blocks(&s.on_packet(now, &Packet::Ack { block: 0 })),
            [1, 2, 3, 4]
        );
        // Duplicate ACK 0 (sorcerer's apprentice): nothing.
        assert!(s.on_packet(now, &Packet::Ack { block: 0 }).is_empty());
        // Partial ACK: blocks 3 and 4 were lost; the next window starts at 3.
        assert_eq!(
            blocks(&s.on_packet(now, &Packet::Ack { block: 2 })),
            [3, 4, 5, 6]
        );
        let later = now + Duration::from_secs(2);
        assert_eq!(blocks(&s.on_timeout(later)), [3, 4, 5, 6]);
        assert_eq!(
            blocks(&s.on_packet(later, &Packet::Ack { block: 6 })),
            [7, 8, 9, 10]
        );
        assert_eq!(
            blocks(&s.on_packet(later, &Packet::Ack { block: 10 })),
            [11]
        );
        assert!(s.on_packet(later, &Packet::Ack { block: 11 }).is_empty());
        assert_eq!(
            s.end(),
            Some(&End::Complete {
                bytes: 5120,
                blocks: 11
            })
        );
    }

    #[test]
    fn block_numbers_roll_over_to_zero() {
        let (mut s, _, now) = start(vec![0; 8 * 70_000], &[("blksize", "8")]);
        let mut last = 0u16;
        let mut seen_zero = false;
        for _ in 0..70_002 {
            let sends = s.on_packet(now, &Packet::Ack { block: last });
            match sends.first() {
                Some(Packet::Data { block, .. }) => {
                    seen_zero |= *block == 0;
                    last = *block;
                }
                _ => break,
            }
        }
        assert!(seen_zero);
        assert_eq!(
            s.end(),
            Some(&End::Complete {
                bytes: 560_000,
                blocks: 70_001
            })
        );
    }

    #[test]
    fn silence_ends_the_transfer_after_the_retries() {
        let (mut s, _, now) = start(vec![0; 100], &[]);
        let mut t = now;
        for _ in 0..6 {
            t += Duration::from_secs(1);
            assert_eq!(blocks(&s.on_timeout(t)), [1]);
        }
        t += Duration::from_secs(1);
        assert!(s.on_timeout(t).is_empty());
        assert_eq!(s.end(), Some(&End::TimedOut));
    }
}
