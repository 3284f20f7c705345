//! One write transfer (WRQ), sans-IO: the mirror of [`super::read::ReadSession`]. The
//! caller feeds packets and clock ticks; the session writes the blocks in order into its sink
//! and says what to send. Options as for reads (blksize, timeout, tsize, windowsize: the
//! receiver acknowledges every `windowsize` blocks, RFC 7440 section 4); a block out of order
//! re-acknowledges the last one in order, so the sender restarts its window there. Block
//! numbers wrap 65535 -> 0 as for reads.

use std::io::Write;
use std::time::Duration;

use crate::time::Instant;

use super::config::Limits;
use super::options::{negotiate, Negotiated, Tsize};
use super::packet::{code, Packet};
use super::transfer::{End, Sends};

#[derive(Debug, PartialEq, Eq)]
enum State {
    Receiving,
    Done,
}

pub struct WriteSession<W: Write> {
    sink: W,
    blksize: usize,
    windowsize: u64,
    timeout: Duration,
    retries_left: u32,
    max_retries: u32,
    /// Absolute number of the last block written.
    received: u64,
    since_ack: u64,
    /// What to send again when the timer fires: the OACK or the last ACK.
    last_sent: Packet,
    max_bytes: u64,
    bytes: u64,
    deadline: Instant,
    state: State,
    end: Option<End>,
}

impl<W: Write> WriteSession<W> {
    /// Starts receiving for a request with `options`, refusing more than `max_bytes`.
    pub fn start(
        now: Instant,
        sink: W,
        options: &[(String, String)],
        limits: &Limits,
        max_bytes: u64,
    ) -> (WriteSession<W>, Sends) {
        let Negotiated {
            blksize,
            windowsize,
            timeout,
            announced,
            granted,
        } = negotiate(options, limits, Tsize::Write);
        let first = if granted.is_empty() {
            Packet::Ack { block: 0 }
        } else {
            Packet::Oack { options: granted }
        };
        let mut session = WriteSession {
            sink,
            blksize,
            windowsize,
            timeout,
            retries_left: limits.retries,
            max_retries: limits.retries,
            received: 0,
            since_ack: 0,
            last_sent: first.clone(),
            max_bytes,
            bytes: 0,
            deadline: now + timeout,
            state: State::Receiving,
            end: None,
        };
        if announced.is_some_and(|size| size > max_bytes) {
            let error = session.fail(
                code::DISK_FULL,
                "Disk full or allocation exceeded",
                "announced size over the upload limit",
            );
            return (session, error);
        }
        (session, vec![first])
    }

    pub fn deadline(&self) -> Option<Instant> {
        (self.state != State::Done).then_some(self.deadline)
    }

    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// The sink, for the caller to flush and commit once the transfer is complete.
    pub fn into_sink(self) -> W {
        self.sink
    }

    fn fail(&mut self, code: u16, message: &str, why: &str) -> Sends {
        self.state = State::Done;
        self.end = Some(End::WriteFailed(why.to_string()));
        vec![Packet::Error {
            code,
            message: message.into(),
        }]
    }

    fn ack(&mut self, now: Instant) -> Sends {
        let ack = Packet::Ack {
            block: (self.received & 0xffff) as u16,
        };
        self.last_sent = ack.clone();
        self.since_ack = 0;
        self.deadline = now + self.timeout;
        vec![ack]
    }

    pub fn on_packet(&mut self, now: Instant, packet: &Packet) -> Sends {
        if self.state == State::Done {
            return Vec::new();
        }
        let (block, data) = match packet {
            Packet::Data { block, data } => (*block, data),
            Packet::Error { code, message } => {
                self.state = State::Done;
                self.end = Some(End::ClientError {
                    code: *code,
                    message: message.clone(),
                });
                return Vec::new();
            }
            _ => {
                return self.fail(
                    code::ILLEGAL,
                    "Illegal TFTP operation",
                    "unexpected packet during a write",
                )
            }
        };
        if block != ((self.received + 1) & 0xffff) as u16 {
            // A duplicate or a gap: say where we are so the sender resumes from there.
            return self.ack(now);
        }
        if data.len() > self.blksize {
            return self.fail(
                code::ILLEGAL,
                "Illegal TFTP operation",
                "block larger than blksize",
            );
        }
        if self.bytes + data.len() as u64 > self.max_bytes {
            return self.fail(
                code::DISK_FULL,
                "Disk full or allocation exceeded",
                "upload over the size limit",
            );
        }
        if let Err(e) = self.sink.write_all(data) {
            let code = if e.raw_os_error() == Some(28) {
                code::DISK_FULL // ENOSPC
            } else {
                code::UNDEFINED
            };
            return self.fail(code, &e.to_string(), &e.to_string());
        }
        self.received += 1;
        self.bytes += data.len() as u64;
        self.retries_left = self.max_retries;
        self.since_ack += 1;
        if data.len() < self.blksize {
            let sends = self.ack(now);
            self.state = State::Done;
            self.end = Some(End::Complete {
                bytes: self.bytes,
                blocks: self.received,
            });
            return sends;
        }
        if self.since_ack >= self.windowsize {
            return self.ack(now);
        }
        self.deadline = now + self.timeout;
        Vec::new()
    }

    pub fn on_timeout(&mut self, now: Instant) -> Sends {
        if self.state == State::Done || now < self.deadline {
            return Vec::new();
        }
        if self.retries_left == 0 {
            self.state = State::Done;
            self.end = Some(End::TimedOut);
            return Vec::new();
        }
        self.retries_left -= 1;
        self.deadline = now + self.timeout;
        if matches!(self.last_sent, Packet::Ack { .. }) {
            return self.ack(now);
        }
        vec![self.last_sent.clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(block: u16, len: usize) -> Packet {
        Packet::Data {
            block,
            data: vec![block as u8; len],
        }
    }

    fn opts(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn lock_step_write_acks_every_block_and_ends_on_a_short_one() {
        let now = Instant::ZERO;
        let (mut s, sends) = WriteSession::start(now, Vec::new(), &[], &Limits::default(), 1 << 20);
        assert_eq!(sends, vec![Packet::Ack { block: 0 }]);
        assert_eq!(
            s.on_packet(now, &data(1, 512)),
            vec![Packet::Ack { block: 1 }]
        );
        // A duplicate block is acknowledged again, not written twice.
        assert_eq!(
            s.on_packet(now, &data(1, 512)),
            vec![Packet::Ack { block: 1 }]
        );
        assert_eq!(
            s.on_packet(now, &data(2, 10)),
            vec![Packet::Ack { block: 2 }]
        );
        assert_eq!(
            s.end(),
            Some(&End::Complete {
                bytes: 522,
                blocks: 2
            })
        );
        assert_eq!(s.into_sink().len(), 522);
    }

    #[test]
    fn windows_ack_at_their_end_and_a_gap_reacks_the_last_in_order() {
        let now = Instant::ZERO;
        let (mut s, sends) = WriteSession::start(
            now,
            Vec::new(),
            &opts(&[("blksize", "8"), ("windowsize", "3")]),
            &Limits::default(),
            1 << 20,
        );
        assert!(matches!(sends[0], Packet::Oack { .. }));
        assert!(s.on_packet(now, &data(1, 8)).is_empty());
        assert!(s.on_packet(now, &data(2, 8)).is_empty());
        assert_eq!(
            s.on_packet(now, &data(3, 8)),
            vec![Packet::Ack { block: 3 }]
        );
        assert!(s.on_packet(now, &data(4, 8)).is_empty());
        // Block 5 lost: 6 arrives, so the receiver says "I have 4".
        assert_eq!(
            s.on_packet(now, &data(6, 8)),
            vec![Packet::Ack { block: 4 }]
        );
        assert!(s.on_packet(now, &data(5, 8)).is_empty());
        assert_eq!(
            s.on_packet(now, &data(6, 0)),
            vec![Packet::Ack { block: 6 }]
        );
        assert_eq!(s.into_sink().len(), 40);
    }

    #[test]
    fn too_big_uploads_are_refused_with_disk_full() {
        let now = Instant::ZERO;
        let (s, sends) = WriteSession::start(
            now,
            Vec::new(),
            &opts(&[("tsize", "5000")]),
            &Limits::default(),
            1000,
        );
        assert_eq!(
            sends[0],
            Packet::Error {
                code: 3,
                message: "Disk full or allocation exceeded".into()
            }
        );
        assert_eq!(s.deadline(), None);
        let (mut s, _) = WriteSession::start(now, Vec::new(), &[], &Limits::default(), 1000);
        s.on_packet(now, &data(1, 512));
        assert!(matches!(
            s.on_packet(now, &data(2, 512))[0],
            Packet::Error { code: 3, .. }
        ));
    }

    #[test]
    fn silence_resends_the_last_ack_then_gives_up() {
        let now = Instant::ZERO;
        let limits = Limits {
            retries: 2,
            ..Limits::default()
        };
        let (mut s, _) = WriteSession::start(now, Vec::new(), &[], &limits, 1 << 20);
        s.on_packet(now, &data(1, 512));
        let mut t = now;
        for _ in 0..2 {
            t += Duration::from_secs(2);
            assert_eq!(s.on_timeout(t), vec![Packet::Ack { block: 1 }]);
        }
        t += Duration::from_secs(2);
        assert!(s.on_timeout(t).is_empty());
        assert_eq!(s.end(), Some(&End::TimedOut));
    }
}
