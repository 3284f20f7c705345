//! `netbootd serve`: DHCPv4 from a Kea config on the interfaces it names. SIGHUP re-reads the
//! config (a broken one is refused with its errors and the old one keeps serving); SIGTERM
//! and SIGINT stop cleanly after the current packet.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use netbootd::dhcp::engine::Engine;
use netbootd::dhcp::lease::{Durability, Memfile};
use netbootd::dhcp::service::{DhcpService, Stats};
use netbootd::kea::check::check_file;
use netbootd::kea::model::Config;
use netbootd::kea::system::LocalSystem;
use netbootd::kea::KeaVersion;
use netbootd::wire::pcap::CaptureWriter;
use netbootd::wire::transport::udp::{all_interfaces, UdpPort};

use super::check::kea_line;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LeaseSync {
    /// One write(2) per lease change: survives kill -9.
    Write,
    /// write(2) and fdatasync(2): survives power loss.
    Fsync,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The kea-dhcp4.conf to serve DHCPv4 from.
    #[arg(long)]
    pub config: PathBuf,
    /// Read the config with this Kea release's keywords and expression tokens.
    #[arg(long, default_value_t = KeaVersion::default())]
    pub kea_version: KeaVersion,
    /// The lease file (default: lease-database.name, else /var/lib/kea/kea-leases4.csv).
    #[arg(long)]
    pub lease_file: Option<PathBuf>,
    /// When a lease change is on disk before the reply leaves.
    #[arg(long, value_enum, default_value_t = LeaseSync::Write)]
    pub lease_sync: LeaseSync,
    /// Record every datagram received and sent to this pcap file.
    #[arg(long)]
    pub pcap: Option<PathBuf>,
    /// UDP port to listen on (67; tests may use another).
    #[arg(long, default_value_t = 67)]
    pub dhcp_port: u16,
}

fn load(args: &ServeArgs) -> Result<Config, String> {
    let outcome =
        check_file(&args.config, args.kea_version, &LocalSystem).map_err(|e| e.to_string())?;
    for w in &outcome.warnings {
        tracing::warn!("{}", kea_line(w));
    }
    match (outcome.config, outcome.error) {
        (Some(config), None) => Ok(config),
        (_, Some(e)) => Err(kea_line(&e)),
        (None, None) => Err("configuration has no Dhcp4 section".into()),
    }
}

/// Kea's logger severity for kea-dhcp4 as a tracing filter.
fn log_filter(config: &Config) -> &'static str {
    let severity = config
        .loggers
        .iter()
        .find(|l| l.name == "kea-dhcp4")
        .map(|l| l.severity.to_ascii_uppercase())
        .unwrap_or_else(|| "INFO".into());
    match severity.as_str() {
        "FATAL" | "ERROR" => "error",
        "WARN" => "warn",
        "DEBUG" => "debug",
        _ => "info",
    }
}

pub fn run(args: ServeArgs) -> ExitCode {
    let config = match load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(log_filter(&config))),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve(args, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

async fn serve(args: ServeArgs, config: Config) -> Result<(), String> {
    let store = if config.lease_database.persist && config.lease_database.kind == "memfile" {
        let path = args
            .lease_file
            .clone()
            .or_else(|| config.lease_database.name.clone().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/var/lib/kea/kea-leases4.csv"));
        let sync = match args.lease_sync {
            LeaseSync::Write => Durability::Write,
            LeaseSync::Fsync => Durability::Fsync,
        };
        let (store, report) = Memfile::open(&path, sync).map_err(|e| e.to_string())?;
        for e in &report.errors {
            tracing::warn!("lease file row skipped: {e}");
        }
        tracing::info!(leases = store.len(), file = %path.display(), "leases loaded");
        store
    } else {
        Memfile::in_memory()
    };
    let mut names: Vec<String> = Vec::new();
    for name in &config.interfaces.names {
        let iface = name.split('/').next().unwrap_or(name);
        if iface == "*" {
            names.extend(all_interfaces());
        } else {
            names.push(iface.to_string());
        }
    }
    let engine = Engine::new(Arc::new(config), store).map_err(|e| e.to_string())?;
    let capture = match &args.pcap {
        Some(path) => {
            let file =
                std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let writer = CaptureWriter::new(file).map_err(|e| e.to_string())?;
            Some(Arc::new(Mutex::new((Instant::now(), writer))))
        }
        None => None,
    };
    let service = Arc::new(DhcpService {
        engine: Arc::new(Mutex::new(engine)),
        stats: Arc::new(Stats::default()),
        capture,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    for name in &names {
        let port = UdpPort::bind(name, args.dhcp_port).map_err(|e| format!("{name}: {e}"))?;
        tracing::info!(iface = %name, addr = %port.addr, port = args.dhcp_port, "serving DHCPv4");
        let service = service.clone();
        let stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move { service.serve(port, stop).await }));
    }
    if tasks.is_empty() {
        return Err("no interface to serve: interfaces-config.interfaces is empty".into());
    }
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut reclaim = tokio::time::interval(std::time::Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = hup.recv() => match load(&args) {
                Ok(config) => {
                    if let Ok(mut engine) = service.engine.lock() {
                        match engine.reconfigure(Arc::new(config)) {
                            Ok(()) => tracing::info!("configuration reloaded"),
                            Err(e) => tracing::error!("reload refused: {e}"),
                        }
                    }
                }
                Err(e) => tracing::error!("reload refused, old configuration kept: {e}"),
            },
            _ = reclaim.tick() => {
                if let Ok(mut engine) = service.engine.lock() {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    if let Err(e) = engine.reclaim(now) {
                        tracing::error!("lease reclamation failed: {e}");
                    }
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    let stats = &service.stats;
    tracing::info!(
        received = stats.received.load(std::sync::atomic::Ordering::Relaxed),
        answered = stats.answered.load(std::sync::atomic::Ordering::Relaxed),
        malformed = stats.malformed.load(std::sync::atomic::Ordering::Relaxed),
        "stopped"
    );
    Ok(())
}
