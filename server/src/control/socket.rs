//! The unix socket of Kea's control channel (src/lib/config/command_mgr.cc): a client
//! connects, writes one JSON command, reads one JSON answer, and the server closes the
//! connection, as `socat UNIX:/path -` and kea-shell's Control Agent expect. A command that
//! does not arrive whole within ten seconds is answered with Kea's timeout error.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

use super::commands::{Answer, Control};
use super::json::to_kea_string;

/// Kea's default connection timeout on the control socket (10 s).
const TIMEOUT: Duration = Duration::from_secs(10);
/// A command larger than this is refused rather than buffered without end.
const MAX_COMMAND: usize = 16 * 1024 * 1024;

/// Binds the socket, replacing a stale one left by a process that died.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if path.exists() && std::os::unix::net::UnixStream::connect(path).is_err() {
        std::fs::remove_file(path)?;
    }
    UnixListener::bind(path)
}

/// Serves commands until `stop` turns true.
pub async fn serve(listener: UnixListener, control: Arc<Control>, mut stop: watch::Receiver<bool>) {
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!("control socket accept failed: {e}");
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let control = control.clone();
        tokio::spawn(async move { connection(stream, &control).await });
    }
}

async fn connection(mut stream: UnixStream, control: &Control) {
    let mut request = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let read = tokio::time::timeout(TIMEOUT, async {
        loop {
            let n = stream.read(&mut buf).await?;
            request.extend_from_slice(&buf[..n]);
            let complete = match serde_json::from_slice::<serde_json::Value>(&request) {
                Ok(_) => true,
                Err(e) => !e.is_eof(),
            };
            if complete || n == 0 || request.len() > MAX_COMMAND {
                return Ok::<_, std::io::Error>(());
            }
        }
    })
    .await;
    let answer = match read {
        Ok(Ok(())) => {
            let started = std::time::Instant::now();
            let answer = tokio::task::block_in_place(|| control.answer(&request));
            tracing::debug!(elapsed = ?started.elapsed(), result = answer.result, "control command");
            answer
        }
        Ok(Err(e)) => {
            tracing::debug!("control connection failed: {e}");
            return;
        }
        Err(_) => Answer::error("Connection over control channel timed out".into()),
    };
    let text = to_kea_string(&answer.to_json());
    let _ = stream.write_all(text.as_bytes()).await;
    let _ = stream.shutdown().await;
    if control
        .shutting_down
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        let _ = control.stop.send(true);
    }
}
