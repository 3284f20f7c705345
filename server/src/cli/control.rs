//! Starting the control channel and the metrics endpoint beside the DHCP service: the unix
//! socket the config's `control-socket` names (bound before privileges are dropped, as Kea
//! binds it at start-up) and, with `--metrics ADDR`, the Prometheus endpoint.

use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use netbootd::control::commands::{node_json, Control};
use netbootd::control::{metrics, socket};
use netbootd::dhcp::service::DhcpService;
use netbootd::dhcp::stats::Shared;
use netbootd::kea::model::ControlSocket;
use netbootd::kea::system::LocalSystem;

use super::serve::ServeArgs;

/// Listens on the control socket; the returned control also serves SIGHUP reloads.
pub fn start(
    args: &ServeArgs,
    config_path: &Path,
    service: Arc<DhcpService>,
    socket: &ControlSocket,
    stop: Arc<watch::Sender<bool>>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Result<Arc<Control>, String> {
    if socket.socket_type != "unix" {
        return Err(format!(
            "control-socket: socket-type {:?} is not supported (Kea's is \"unix\")",
            socket.socket_type
        ));
    }
    let running = netbootd::kea::json::read_file(config_path)
        .ok()
        .and_then(|doc| doc.root.as_ref().map(node_json))
        .unwrap_or(serde_json::Value::Null);
    let path = Path::new(&socket.socket_name);
    let listener =
        socket::bind(path).map_err(|e| format!("control socket {}: {e}", path.display()))?;
    tracing::info!(socket = %path.display(), "control channel listening");
    let stop_rx = stop.subscribe();
    let control = Arc::new(Control {
        service,
        config_path: config_path.to_path_buf(),
        kea_version: args.kea_version,
        system: Box::new(LocalSystem),
        running: Mutex::new(running),
        started: std::time::Instant::now(),
        reloaded: Mutex::new(std::time::Instant::now()),
        stop,
        shutting_down: Default::default(),
    });
    let served = control.clone();
    tasks.push(tokio::spawn(async move {
        socket::serve(listener, served, stop_rx).await
    }));
    Ok(control)
}

/// Serves the statistics to Prometheus on `addr`.
pub async fn start_metrics(
    addr: std::net::SocketAddr,
    statistics: Shared,
    stop: watch::Receiver<bool>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("--metrics {addr}: {e}"))?;
    tracing::info!(%addr, "metrics endpoint listening");
    tasks.push(tokio::spawn(metrics::serve(listener, statistics, stop)));
    Ok(())
}
