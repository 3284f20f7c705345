//! The tokio shell: one listening socket; each read request gets its own task and its own
//! socket (its transfer ID, from a port range when configured), driven by a [`ReadSession`].
//! Files are streamed through a buffered reader, never loaded whole.

use std::collections::HashMap;
use std::io::{self, BufReader, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::packet::{code, Packet};
use super::path::{resolve, Refusal};
use super::session::{End, Limits, ReadSession, Source};

#[derive(Clone, Debug)]
pub struct TftpConfig {
    /// The served directory, canonical.
    pub root: PathBuf,
    pub listen: SocketAddr,
    pub secure: bool,
    pub limits: Limits,
    /// Ports for transfer sockets (tftpd-hpa's --port-range); None: any ephemeral port.
    pub port_range: Option<(u16, u16)>,
    /// Concurrent transfers allowed per client address.
    pub per_client: usize,
}

#[derive(Debug, Default)]
pub struct TftpStats {
    pub requests: AtomicU64,
    pub completed: AtomicU64,
    pub refused: AtomicU64,
    pub failed: AtomicU64,
    pub bytes: AtomicU64,
}

pub struct TftpServer {
    pub config: TftpConfig,
    pub stats: TftpStats,
    active: Mutex<HashMap<IpAddr, usize>>,
    next_port: AtomicU64,
}

/// RFC 1350 netascii: LF becomes CR LF, CR becomes CR NUL.
struct Netascii<R> {
    inner: R,
    pending: Option<u8>,
}

impl<R: Read> Read for Netascii<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        let mut byte = [0u8; 1];
        while n < buf.len() {
            if let Some(p) = self.pending.take() {
                buf[n] = p;
                n += 1;
                continue;
            }
            if self.inner.read(&mut byte)? == 0 {
                break;
            }
            match byte[0] {
                b'\n' => {
                    buf[n] = b'\r';
                    self.pending = Some(b'\n');
                }
                b'\r' => {
                    buf[n] = b'\r';
                    self.pending = Some(0);
                }
                b => buf[n] = b,
            }
            n += 1;
        }
        Ok(n)
    }
}

impl TftpServer {
    pub fn new(config: TftpConfig) -> Arc<Self> {
        Arc::new(TftpServer {
            config,
            stats: TftpStats::default(),
            active: Mutex::new(HashMap::new()),
            next_port: AtomicU64::new(0),
        })
    }

    /// Serves requests arriving on `socket` until `stop` turns true.
    pub async fn run(self: Arc<Self>, socket: UdpSocket, mut stop: watch::Receiver<bool>) {
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, peer) = tokio::select! {
                r = socket.recv_from(&mut buf) => match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!("tftp receive failed: {e}");
                        continue;
                    }
                },
                _ = stop.changed() => return,
            };
            let bytes = buf[..n].to_vec();
            let server = self.clone();
            tokio::spawn(async move { server.request(peer, &bytes).await });
        }
    }

    /// Counts a transfer for `client` unless it is at its cap.
    fn acquire(&self, client: IpAddr) -> bool {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let count = active.entry(client).or_insert(0);
        if *count >= self.config.per_client {
            return false;
        }
        *count += 1;
        true
    }

    fn release(&self, client: IpAddr) {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = active.get_mut(&client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                active.remove(&client);
            }
        }
    }

    async fn transfer_socket(&self) -> io::Result<UdpSocket> {
        let ip = self.config.listen.ip();
        let Some((low, high)) = self.config.port_range else {
            return UdpSocket::bind(SocketAddr::new(ip, 0)).await;
        };
        let span = u64::from(high - low) + 1;
        let start = self.next_port.fetch_add(1, Ordering::Relaxed);
        for i in 0..span {
            let port = low + ((start + i) % span) as u16;
            if let Ok(s) = UdpSocket::bind(SocketAddr::new(ip, port)).await {
                return Ok(s);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "port range exhausted",
        ))
    }

    async fn error(&self, socket: &UdpSocket, peer: SocketAddr, code: u16, message: &str) {
        let packet = Packet::Error {
            code,
            message: message.into(),
        };
        let _ = socket.send_to(&packet.encode(), peer).await;
    }

    async fn request(&self, peer: SocketAddr, bytes: &[u8]) {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let socket = match self.transfer_socket().await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(%peer, "no transfer socket: {e}");
                return;
            }
        };
        let (filename, mode, options) = match Packet::decode(bytes) {
            Ok(Packet::Rrq {
                filename,
                mode,
                options,
            }) => (filename, mode, options),
            Ok(Packet::Wrq { filename, .. }) => {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%peer, file = %String::from_utf8_lossy(&filename), "write refused: server is read-only");
                return self
                    .error(&socket, peer, code::ACCESS, "Access violation")
                    .await;
            }
            Ok(_) => return,
            Err(e) => {
                tracing::info!(%peer, "malformed TFTP request: {e}");
                return self
                    .error(&socket, peer, code::ILLEGAL, "Illegal TFTP operation")
                    .await;
            }
        };
        let shown = String::from_utf8_lossy(&filename).into_owned();
        if mode != "octet" && mode != "netascii" {
            return self
                .error(&socket, peer, code::ILLEGAL, "Illegal TFTP operation")
                .await;
        }
        let path = match resolve(&self.config.root, &filename, self.config.secure) {
            Ok(p) => p,
            Err(refusal) => {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                let (code, message) = match refusal {
                    Refusal::NotFound => (code::NOT_FOUND, "File not found"),
                    _ => (code::ACCESS, "Access violation"),
                };
                tracing::warn!(%peer, file = %shown.escape_debug(), "refused: {refusal}");
                return self.error(&socket, peer, code, message).await;
            }
        };
        let client = peer.ip();
        if !self.acquire(client) {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%peer, "refused: too many transfers from this client");
            return self
                .error(
                    &socket,
                    peer,
                    code::UNDEFINED,
                    "Too many transfers from this client",
                )
                .await;
        }
        let end = self.send_file(&socket, peer, &path, &mode, &options).await;
        self.release(client);
        match &end {
            End::Complete { bytes, .. } => {
                self.stats.completed.fetch_add(1, Ordering::Relaxed);
                self.stats.bytes.fetch_add(*bytes, Ordering::Relaxed);
                tracing::info!(%peer, file = %shown, bytes, "sent");
            }
            End::ClientError { code: 8, .. } => {
                tracing::debug!(%peer, file = %shown, "client ended after option negotiation");
            }
            other => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%peer, file = %shown, "transfer ended: {other:?}");
            }
        }
    }

    async fn send_file(
        &self,
        socket: &UdpSocket,
        peer: SocketAddr,
        path: &std::path::Path,
        mode: &str,
        options: &[(String, String)],
    ) -> End {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.error(socket, peer, code::ACCESS, "Access violation")
                    .await;
                return End::ReadFailed(e.to_string());
            }
        };
        let size = file.metadata().map(|m| m.len()).ok();
        let reader = BufReader::with_capacity(256 * 1024, file);
        let (source, size): (Box<dyn Source>, Option<u64>) = if mode == "netascii" {
            (
                Box::new(Netascii {
                    inner: reader,
                    pending: None,
                }),
                None,
            )
        } else {
            (Box::new(reader), size)
        };
        if socket.connect(peer).await.is_err() {
            return End::ReadFailed("cannot address the client".into());
        }
        let (mut session, sends) =
            ReadSession::start(Instant::now(), source, size, options, &self.config.limits);
        for p in sends {
            let _ = socket.send(&p.encode()).await;
        }
        let mut buf = vec![0u8; 65536];
        while let Some(deadline) = session.deadline() {
            let sends = tokio::select! {
                r = socket.recv(&mut buf) => match r.ok().and_then(|n| Packet::decode(&buf[..n]).ok()) {
                    Some(p) => session.on_packet(Instant::now(), &p),
                    None => Vec::new(),
                },
                _ = tokio::time::sleep_until(deadline.into()) => session.on_timeout(Instant::now()),
            };
            for p in sends {
                let _ = socket.send(&p.encode()).await;
            }
        }
        session.end().cloned().unwrap_or(End::TimedOut)
    }
}
