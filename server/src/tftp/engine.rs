//! The TFTP server without sockets: datagrams in, datagrams out, time passed in. This is how
//! bootsim runs netbootd's TFTP in-process on its virtual clock: the same admission rules
//! (map file, --secure, root) and the same [`ReadSession`] as the tokio shell, each transfer
//! on its own server port as tftpd-hpa forks one per request. Writes are refused here: the
//! simulated firmware only reads.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::admit::{admit, open_source, Refused, Request};
use super::packet::{code, Packet};
use super::remap::Direction;
use super::server::TftpConfig;
use super::session::{End, ReadSession};

/// A datagram the host sends: from `src_port` on the server's address to `dst`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub src_port: u16,
    pub dst: SocketAddrV4,
    pub packet: Packet,
}

/// What happened, for transcripts and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEvent {
    Refused {
        client: SocketAddrV4,
        file: String,
        refused: Refused,
    },
    Started {
        client: SocketAddrV4,
        file: String,
        port: u16,
    },
    Ended {
        client: SocketAddrV4,
        file: String,
        end: End,
    },
}

struct Transfer {
    client: SocketAddrV4,
    file: String,
    session: ReadSession,
}

pub struct TftpHost {
    config: TftpConfig,
    /// Transfers by their server port.
    transfers: BTreeMap<u16, Transfer>,
    next_port: u16,
    events: Vec<HostEvent>,
    /// Transfer timers, (deadline, port); entries go stale when a session moves its deadline
    /// and are dropped when they come up (so thousands of transfers cost a heap, not a scan).
    timers: BinaryHeap<Reverse<(Instant, u16)>>,
    /// Octet-mode files, read once and shared by every transfer of them (a thousand
    /// simulated machines fetching ipxe.efi share one copy, not a read buffer each).
    files: HashMap<PathBuf, Arc<[u8]>>,
}

/// A transfer's read position in a shared file.
struct Shared {
    data: Arc<[u8]>,
    pos: usize,
}

impl std::io::Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl TftpHost {
    pub fn new(config: TftpConfig) -> TftpHost {
        TftpHost {
            config,
            transfers: BTreeMap::new(),
            next_port: 49152,
            events: Vec::new(),
            timers: BinaryHeap::new(),
            files: HashMap::new(),
        }
    }

    fn shared(&mut self, path: &std::path::Path) -> std::io::Result<Arc<[u8]>> {
        if let Some(data) = self.files.get(path) {
            return Ok(data.clone());
        }
        let data: Arc<[u8]> = std::fs::read(path)?.into();
        self.files.insert(path.to_path_buf(), data.clone());
        Ok(data)
    }

    /// The port requests arrive on.
    pub fn port(&self) -> u16 {
        self.config.listen.port()
    }

    pub fn drain_events(&mut self) -> Vec<HostEvent> {
        std::mem::take(&mut self.events)
    }

    fn allocate_port(&mut self) -> u16 {
        loop {
            let port = self.next_port;
            self.next_port = if port == u16::MAX { 49152 } else { port + 1 };
            if !self.transfers.contains_key(&port) && port != self.port() {
                return port;
            }
        }
    }

    /// A datagram from `from` to the server's `port`.
    pub fn on_datagram(
        &mut self,
        now: Instant,
        from: SocketAddrV4,
        port: u16,
        bytes: &[u8],
    ) -> Vec<Outgoing> {
        if port == self.port() {
            return self.on_request(now, from, bytes);
        }
        let Some(transfer) = self.transfers.get_mut(&port) else {
            return Vec::new();
        };
        if transfer.client != from {
            // RFC 1350 4: a packet from the wrong transfer ID gets ERROR 5, the transfer goes on.
            return vec![Outgoing {
                src_port: port,
                dst: from,
                packet: Packet::Error {
                    code: code::UNKNOWN_TID,
                    message: "Unknown transfer ID".into(),
                },
            }];
        }
        let Ok(packet) = Packet::decode(bytes) else {
            return Vec::new();
        };
        let sends = transfer.session.on_packet(now, &packet);
        self.finish(port, sends)
    }

    fn on_request(&mut self, now: Instant, from: SocketAddrV4, bytes: &[u8]) -> Vec<Outgoing> {
        let port = self.allocate_port();
        let reply = |packet: Packet| {
            vec![Outgoing {
                src_port: port,
                dst: from,
                packet,
            }]
        };
        let request = match Packet::decode(bytes).ok().and_then(Request::from_packet) {
            Some(r) => r,
            None => {
                return reply(Packet::Error {
                    code: code::ILLEGAL,
                    message: "Illegal TFTP operation".into(),
                })
            }
        };
        let asked = String::from_utf8_lossy(&request.filename).into_owned();
        let admitted = if request.direction == Direction::Write {
            Err(Refused {
                code: code::ACCESS,
                message: "Access violation".into(),
                reason: "write refused: server is read-only".into(),
            })
        } else {
            admit(&self.config, &request, (*from.ip()).into())
        };
        let admitted = match admitted {
            Ok(a) => a,
            Err(refused) => {
                let packet = refused.packet();
                self.events.push(HostEvent::Refused {
                    client: from,
                    file: asked,
                    refused,
                });
                return reply(packet);
            }
        };
        let opened = if request.mode == "octet" {
            self.shared(&admitted.path).map(|data| {
                let size = data.len() as u64;
                let source: Box<dyn super::session::Source> = Box::new(Shared { data, pos: 0 });
                (source, Some(size))
            })
        } else {
            open_source(&admitted.path, &request.mode)
        };
        let (source, size) = match opened {
            Ok(x) => x,
            Err(e) => {
                let refused = Refused {
                    code: code::ACCESS,
                    message: "Access violation".into(),
                    reason: e.to_string(),
                };
                let packet = refused.packet();
                self.events.push(HostEvent::Refused {
                    client: from,
                    file: asked,
                    refused,
                });
                return reply(packet);
            }
        };
        let (session, sends) =
            ReadSession::start(now, source, size, &request.options, &self.config.limits);
        self.events.push(HostEvent::Started {
            client: from,
            file: admitted.name.clone(),
            port,
        });
        self.transfers.insert(
            port,
            Transfer {
                client: from,
                file: admitted.name,
                session,
            },
        );
        self.finish(port, sends)
    }

    /// Addresses `sends` from transfer `port`, and forgets the transfer once it has ended.
    fn finish(&mut self, port: u16, sends: Vec<Packet>) -> Vec<Outgoing> {
        let Some(transfer) = self.transfers.get(&port) else {
            return Vec::new();
        };
        let client = transfer.client;
        if let Some(deadline) = transfer.session.deadline() {
            self.timers.push(Reverse((deadline, port)));
        }
        if let Some(end) = transfer.session.end().cloned() {
            let transfer = self.transfers.remove(&port).expect("present");
            self.events.push(HostEvent::Ended {
                client,
                file: transfer.file,
                end,
            });
        }
        sends
            .into_iter()
            .map(|packet| Outgoing {
                src_port: port,
                dst: client,
                packet,
            })
            .collect()
    }

    /// The earliest moment a transfer's timer may fire (possibly a stale one: then
    /// [`TftpHost::on_timeout`] finds nothing due and drops it).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// Fires every timer due at `now`.
    pub fn on_timeout(&mut self, now: Instant) -> Vec<Outgoing> {
        let mut out = Vec::new();
        while let Some(Reverse((t, port))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let due = self
                .transfers
                .get(&port)
                .and_then(|tr| tr.session.deadline())
                .is_some_and(|d| d == t);
            if !due {
                continue; // stale: the session moved on or ended
            }
            let sends = match self.transfers.get_mut(&port) {
                Some(tr) => tr.session.on_timeout(now),
                None => continue,
            };
            out.extend(self.finish(port, sends));
        }
        out
    }

    /// Transfers still running.
    pub fn active(&self) -> usize {
        self.transfers.len()
    }
}
