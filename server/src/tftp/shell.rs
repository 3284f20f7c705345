//! The tokio shell: one listening socket; each read request gets its own task and its own
//! socket (its transfer ID, from a port range when configured), driven by a [`ReadSession`].
//! Files are streamed through a buffered reader, never loaded whole.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::admit::{admit, open_source, Admitted, Request};
use super::packet::{code, Packet};
use super::receive::WriteSession;
use super::remap::{Direction, RemapRules};
use super::session::{End, Limits, ReadSession, Sends};

/// Where uploads go, when writes are enabled at all.
#[derive(Clone, Debug)]
pub struct Upload {
    /// Canonical directory; uploaded names resolve inside it.
    pub dir: PathBuf,
    /// Largest upload accepted, in bytes.
    pub max_bytes: u64,
}

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
    /// tftpd-hpa's --map-file rules, applied to every requested name first.
    pub remap: Option<Arc<RemapRules>>,
    /// None: read-only (the default).
    pub upload: Option<Upload>,
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
        let request = match Packet::decode(bytes) {
            Ok(p) => match Request::from_packet(p) {
                Some(r) => r,
                None => return,
            },
            Err(e) => {
                tracing::info!(%peer, "malformed TFTP request: {e}");
                return self
                    .error(&socket, peer, code::ILLEGAL, "Illegal TFTP operation")
                    .await;
            }
        };
        let direction = request.direction;
        let shown = String::from_utf8_lossy(&request.filename)
            .escape_debug()
            .to_string();
        let Admitted { path, name: shown } = match admit(&self.config, &request, peer.ip()) {
            Ok(a) => a,
            Err(refused) => {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%peer, file = %shown, "refused: {}: {}", refused.reason, refused.message);
                return self
                    .error(&socket, peer, refused.code, &refused.message)
                    .await;
            }
        };
        let (mode, options) = (request.mode, request.options);
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
        let end = match direction {
            Direction::Read => self.send_file(&socket, peer, &path, &mode, &options).await,
            Direction::Write => self.receive_file(&socket, peer, &path, &options).await,
        };
        self.release(client);
        match &end {
            End::Complete { bytes, .. } => {
                self.stats.completed.fetch_add(1, Ordering::Relaxed);
                self.stats.bytes.fetch_add(*bytes, Ordering::Relaxed);
                let verb = if direction == Direction::Read {
                    "sent"
                } else {
                    "received"
                };
                tracing::info!(%peer, file = %shown, bytes, "{verb}");
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

    /// Receives an upload into a hidden temporary file next to `target`; only a complete
    /// upload, synced to disk, is linked under its name (never over an existing file), so a
    /// crash or an abandoned transfer leaves no partial file behind under the real name.
    async fn receive_file(
        &self,
        socket: &UdpSocket,
        peer: SocketAddr,
        target: &std::path::Path,
        options: &[(String, String)],
    ) -> End {
        let Some(upload) = &self.config.upload else {
            return End::WriteFailed("read-only".into());
        };
        let file_name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp =
            target.with_file_name(format!(".{file_name}.netbootd-{}", rand::random::<u32>()));
        let file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
        {
            Ok(f) => f,
            Err(e) => {
                self.error(socket, peer, code::ACCESS, "Access violation")
                    .await;
                return End::WriteFailed(e.to_string());
            }
        };
        if socket.connect(peer).await.is_err() {
            let _ = std::fs::remove_file(&temp);
            return End::WriteFailed("cannot address the client".into());
        }
        let sink = io::BufWriter::with_capacity(256 * 1024, file);
        let (mut session, sends) = WriteSession::start(
            Instant::now(),
            sink,
            options,
            &self.config.limits,
            upload.max_bytes,
        );
        send_all(socket, sends).await;
        let mut buf = vec![0u8; 65536];
        let mut final_ack = Vec::new();
        while let Some(deadline) = session.deadline() {
            let sends = tokio::select! {
                r = socket.recv(&mut buf) => match r.ok().and_then(|n| Packet::decode(&buf[..n]).ok()) {
                    Some(p) => session.on_packet(Instant::now(), &p),
                    None => Vec::new(),
                },
                _ = tokio::time::sleep_until(deadline.into()) => session.on_timeout(Instant::now()),
            };
            if matches!(session.end(), Some(End::Complete { .. })) {
                // The last ACK tells the client its file is stored: commit first.
                final_ack = sends;
                break;
            }
            send_all(socket, sends).await;
        }
        let end = session.end().cloned().unwrap_or(End::TimedOut);
        let committed = match (&end, session.into_sink().into_inner()) {
            (End::Complete { .. }, Ok(file)) => file
                .sync_all()
                .and_then(|()| std::fs::hard_link(&temp, target)),
            (End::Complete { .. }, Err(e)) => Err(e.into_error()),
            _ => Ok(()),
        };
        let _ = std::fs::remove_file(&temp);
        match committed {
            Ok(()) => {
                send_all(socket, final_ack).await;
                end
            }
            Err(e) => {
                let message = if e.kind() == io::ErrorKind::AlreadyExists {
                    (code::EXISTS, "File already exists".to_string())
                } else {
                    (code::UNDEFINED, e.to_string())
                };
                self.error(socket, peer, message.0, &message.1).await;
                End::WriteFailed(format!("{}: {e}", target.display()))
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
        let (source, size) = match open_source(path, mode) {
            Ok(x) => x,
            Err(e) => {
                self.error(socket, peer, code::ACCESS, "Access violation")
                    .await;
                return End::ReadFailed(e.to_string());
            }
        };
        if socket.connect(peer).await.is_err() {
            return End::ReadFailed("cannot address the client".into());
        }
        let (mut session, sends) =
            ReadSession::start(Instant::now(), source, size, options, &self.config.limits);
        send_all(socket, sends).await;
        let mut buf = vec![0u8; 65536];
        while let Some(deadline) = session.deadline() {
            let sends = tokio::select! {
                r = socket.recv(&mut buf) => match r.ok().and_then(|n| Packet::decode(&buf[..n]).ok()) {
                    Some(p) => session.on_packet(Instant::now(), &p),
                    None => Vec::new(),
                },
                _ = tokio::time::sleep_until(deadline.into()) => session.on_timeout(Instant::now()),
            };
            send_all(socket, sends).await;
        }
        session.end().cloned().unwrap_or(End::TimedOut)
    }
}

async fn send_all(socket: &UdpSocket, sends: Sends) {
    for p in sends {
        let _ = socket.send(&p.encode()).await;
    }
}
