//! `netbootd serve`: DHCPv4 from a Kea config on the interfaces it names, TFTP from a root
//! directory (or tftpd-hpa's /etc/default file), either or both. SIGHUP re-reads the Kea config
//! (a broken one is refused with its errors and the old one keeps serving); SIGTERM and SIGINT
//! stop cleanly after the current packet.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use netbootd::control::commands::Control;
use netbootd::control::stats::Statistics;
use netbootd::dhcp::engine::Engine;
use netbootd::dhcp::journal;
use netbootd::dhcp::lease::{Durability, LeaseTable, Memfile};
use netbootd::dhcp::service::{DhcpService, Stats};
use netbootd::dhcp::stats::{self as dhcp_stats, Shared};
use netbootd::kea::check::check_file;
use netbootd::kea::model::{Config, SocketType};
use netbootd::kea::system::LocalSystem;
use netbootd::kea::KeaVersion;
use netbootd::tftp::config::{Limits, TftpConfig, Upload, MAX_TRANSFERS};
use netbootd::tftp::defaults;
use netbootd::tftp::engine::TftpEngine;
use netbootd::tftp::files::Disk;
use netbootd::tftp::remap::RemapRules;
use netbootd::tftp::shell;
use netbootd::time::Clock;
use netbootd::wire::pcap::CaptureWriter;
use netbootd::wire::transport::raw::RawPort;
use netbootd::wire::transport::udp::{all_interfaces, UdpPort};

use super::check::kea_line;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LeaseSync {
    /// One write(2) per lease change before the answer: survives kill -9, not power loss
    /// (what Kea's memfile does: leases acknowledged since the kernel last wrote the file
    /// back are lost with the power, tests/lease_powercut.rs).
    Write,
    /// write(2) and fdatasync(2) before the answer: survives power loss, at one disk flush
    /// per batch of answers.
    Fsync,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The kea-dhcp4.conf to serve DHCPv4 from (no DHCP without it). With neither this nor
    /// a TFTP option, /etc/kea/kea-dhcp4.conf and /etc/default/tftpd-hpa, where they exist.
    #[arg(long)]
    pub config: Option<PathBuf>,
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
    /// Serve the statistics to Prometheus on this address (e.g. 127.0.0.1:9547).
    #[arg(long)]
    pub metrics: Option<std::net::SocketAddr>,
    /// UDP port to listen on (67; tests may use another).
    #[arg(long, default_value_t = 67)]
    pub dhcp_port: u16,
    /// Serve TFTP from this directory.
    #[arg(long)]
    pub tftp_root: Option<PathBuf>,
    /// Address and port TFTP listens on.
    #[arg(long, default_value = "0.0.0.0:69")]
    pub tftp_address: std::net::SocketAddr,
    /// Confine names to the root as tftpd-hpa --secure does (absolute names inside the root).
    #[arg(long)]
    pub secure: bool,
    /// Largest blksize granted (tftpd-hpa -B).
    #[arg(long, default_value_t = 65464)]
    pub blocksize: u16,
    /// Ports for transfer sockets, LOW:HIGH (tftpd-hpa -R).
    #[arg(long, value_parser = parse_range)]
    pub port_range: Option<(u16, u16)>,
    /// Retransmission timeout in milliseconds when the client asks for none.
    #[arg(long, default_value_t = 1000)]
    pub retransmit: u64,
    /// Largest RFC 7440 windowsize granted.
    #[arg(long, default_value_t = 64)]
    pub max_windowsize: u16,
    /// Concurrent transfers allowed per client address.
    #[arg(long, default_value_t = 64)]
    pub tftp_per_client: usize,
    /// Concurrent transfers allowed in all; requests beyond get ERROR 0 "Too many transfers".
    #[arg(long, default_value_t = MAX_TRANSFERS)]
    pub tftp_max_transfers: usize,
    /// Rewrite requested names with tftpd-hpa's remap rules (in.tftpd --map-file).
    #[arg(long)]
    pub map_file: Option<PathBuf>,
    /// Accept uploads (WRQ) into this directory, as new files only; without it the server
    /// is read-only.
    #[arg(long)]
    pub upload_dir: Option<PathBuf>,
    /// Largest upload accepted, in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    pub max_upload: u64,
    /// Read TFTP settings from tftpd-hpa's /etc/default/tftpd-hpa; as root, drop to its
    /// TFTP_USERNAME after binding.
    #[arg(long)]
    pub tftpd_hpa: Option<PathBuf>,
    /// As root, become this user before serving, keeping only CAP_NET_RAW and
    /// CAP_NET_BIND_SERVICE (the lease file's directory must be writable by it).
    #[arg(long)]
    pub user: Option<String>,
}

fn parse_range(text: &str) -> Result<(u16, u16), String> {
    text.split_once(':')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .filter(|(a, b)| a <= b)
        .ok_or_else(|| format!("{text}: expected LOW:HIGH"))
}

/// The TFTP settings from flags, or from tftpd-hpa's file.
fn tftp_config(args: &ServeArgs) -> Result<Option<(TftpConfig, Option<String>)>, String> {
    let mut limits = Limits {
        max_blksize: args.blocksize,
        max_windowsize: args.max_windowsize,
        timeout: std::time::Duration::from_millis(args.retransmit),
        ..Limits::default()
    };
    let mut map_file = args.map_file.clone();
    let mut upload_dir = args.upload_dir.clone();
    let (root, listen, secure, port_range, user) = match (&args.tftpd_hpa, &args.tftp_root) {
        (Some(file), _) => {
            let d = defaults::read(file).map_err(|e| e.to_string())?;
            if let Some(b) = d.blocksize {
                limits.max_blksize = b;
            }
            if let Some(us) = d.retransmit_us {
                limits.timeout = std::time::Duration::from_micros(us);
            }
            limits.refused = d.refused.clone();
            map_file = map_file.or(d.map_file.clone());
            if d.create {
                // in.tftpd -c: uploads create files in the served directory itself.
                upload_dir = upload_dir.or(Some(d.directory.clone()));
            }
            (d.directory, d.address, d.secure, d.port_range, d.username)
        }
        (None, Some(root)) => (
            root.clone(),
            args.tftp_address,
            args.secure,
            args.port_range,
            None,
        ),
        (None, None) => return Ok(None),
    };
    let root = root
        .canonicalize()
        .map_err(|e| format!("TFTP root {}: {e}", root.display()))?;
    let remap = match map_file {
        Some(path) => Some(std::sync::Arc::new(
            RemapRules::load(&path).map_err(|e| e.to_string())?,
        )),
        None => None,
    };
    let upload = match upload_dir {
        Some(dir) => Some(Upload {
            dir: dir
                .canonicalize()
                .map_err(|e| format!("upload directory {}: {e}", dir.display()))?,
            max_bytes: args.max_upload,
        }),
        None => None,
    };
    Ok(Some((
        TftpConfig {
            root,
            listen,
            secure,
            limits,
            port_range,
            per_client: args.tftp_per_client,
            max_transfers: args.tftp_max_transfers,
            remap,
            upload,
        },
        user,
    )))
}

fn load(args: &ServeArgs) -> Result<Config, String> {
    let Some(path) = &args.config else {
        return Err("no --config".into());
    };
    let outcome = check_file(path, args.kea_version, &LocalSystem).map_err(|e| e.to_string())?;
    for w in &outcome.warnings {
        tracing::warn!(
            logger = "kea-dhcp4.dhcp4",
            id = "DHCP4_CONFIG_SYNTAX_WARNING",
            "configuration syntax warning: {}",
            kea_line(w)
        );
    }
    match (outcome.config, outcome.error) {
        (Some(config), None) => Ok(config),
        (_, Some(e)) => Err(kea_line(&e)),
        (None, None) => Err("configuration has no Dhcp4 section".into()),
    }
}

/// Where Debian's Kea and tftpd-hpa packages keep their configurations: what `netbootd
/// serve` with no arguments serves (the systemd unit runs it so).
pub const KEA_CONFIG: &str = "/etc/kea/kea-dhcp4.conf";
pub const TFTPD_HPA_DEFAULTS: &str = "/etc/default/tftpd-hpa";

/// With nothing named, the Debian paths that exist.
fn with_defaults(mut args: ServeArgs) -> ServeArgs {
    if args.config.is_none() && args.tftp_root.is_none() && args.tftpd_hpa.is_none() {
        args.config = Some(PathBuf::from(KEA_CONFIG)).filter(|p| p.exists());
        args.tftpd_hpa = Some(PathBuf::from(TFTPD_HPA_DEFAULTS)).filter(|p| p.exists());
    }
    args
}

pub fn run(args: ServeArgs) -> ExitCode {
    let args = with_defaults(args);
    let config = match &args.config {
        Some(_) => match load(&args) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    let tftp = match tftp_config(&args) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if config.is_none() && tftp.is_none() {
        eprintln!(
            "nothing to serve: give --config (DHCPv4) and/or --tftp-root or --tftpd-hpa (TFTP)"
        );
        return ExitCode::from(2);
    }
    let loggers = config
        .as_ref()
        .map(|c| c.loggers.clone())
        .unwrap_or_default();
    if let Err(e) = netbootd::log::install(&loggers) {
        eprintln!("{e}");
        return ExitCode::from(1);
    }
    raise_fd_limit();
    // Before the runtime's threads exist: they inherit the credentials, the bounding set and
    // no_new_privs (the last two are per thread).
    {
        use super::privileges::{become_user, confine, CAP_NET_BIND_SERVICE, CAP_NET_RAW};
        let keep: &[u32] = match &args.user {
            Some(_) => &[CAP_NET_RAW, CAP_NET_BIND_SERVICE],
            None => &[],
        };
        let tftp_user = tftp.as_ref().is_some_and(|(_, user)| user.is_some());
        if args.user.is_some() || tftp_user {
            if let Err(e) = confine(keep) {
                eprintln!("{e}");
                return ExitCode::from(1);
            }
        }
        if let Some(user) = &args.user {
            if let Err(e) = become_user(user, keep) {
                eprintln!("{e}");
                return ExitCode::from(1);
            }
        }
    }
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
    match runtime.block_on(serve(args, config, tftp)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

async fn serve(
    args: ServeArgs,
    config: Option<Config>,
    tftp: Option<(TftpConfig, Option<String>)>,
) -> Result<(), String> {
    tracing::info!(
        logger = "kea-dhcp4.dhcp4",
        id = "DHCP4_STARTING",
        "netbootd DHCPv4 server version {} starting",
        env!("CARGO_PKG_VERSION")
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let statistics: Shared = Arc::new(Mutex::new(Statistics::default()));
    let mut tasks = Vec::new();
    let mut drop_to = None;
    if let Some((tftp, user)) = tftp {
        let socket = std::net::UdpSocket::bind(tftp.listen)
            .map_err(|e| format!("TFTP {}: {e}", tftp.listen))?;
        let local = socket.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(
            logger = "in.tftpd",
            id = "",
            "serving TFTP from {} on {local}{}",
            tftp.root.display(),
            if tftp.secure { " (secure)" } else { "" }
        );
        let disk = Disk::new(&tftp.root, tftp.upload.as_ref().map(|u| u.dir.as_path()))
            .map_err(|e| format!("TFTP root {}: {e}", tftp.root.display()))?;
        let engine = TftpEngine::new(tftp, Box::new(disk));
        let thread = shell::spawn(engine, socket, stop_rx.clone(), Some(statistics.clone()))
            .map_err(|e| format!("TFTP: {e}"))?;
        tasks.push(tokio::task::spawn_blocking(move || {
            if let Ok(stats) = thread.join() {
                tracing::info!(
                    requests = stats.requests,
                    completed = stats.completed,
                    refused = stats.refused,
                    failed = stats.failed,
                    bytes = stats.bytes,
                    "TFTP stopped"
                );
            }
        }));
        drop_to = user;
    }
    let control_socket = config.as_ref().and_then(|c| c.control_socket.clone());
    let service = match config {
        Some(config) => {
            Some(start_dhcp(&args, config, &stop_rx, &mut tasks, statistics.clone()).await?)
        }
        None => None,
    };
    let control = match (&service, control_socket, &args.config) {
        (Some(service), Some(socket), Some(path)) => Some(super::control::start(
            &args,
            path,
            service.clone(),
            &socket,
            stop_tx.clone(),
            &mut tasks,
        )?),
        _ => None,
    };
    if let Some(addr) = args.metrics {
        super::control::start_metrics(addr, statistics.clone(), stop_rx.clone(), &mut tasks)
            .await?;
    }
    if let Some(user) = drop_to {
        drop_privileges(&user)?;
    }
    signals(
        &args,
        service.as_deref(),
        control.as_deref(),
        stop_rx.clone(),
    )
    .await?;
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    if let Some(service) = service {
        let stats = &service.stats;
        tracing::info!(
            logger = "kea-dhcp4.dhcp4",
            id = "DHCP4_SHUTDOWN",
            "server shutdown (received {}, answered {}, malformed {})",
            stats.received.load(std::sync::atomic::Ordering::Relaxed),
            stats.answered.load(std::sync::atomic::Ordering::Relaxed),
            stats.malformed.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
    Ok(())
}

/// Each TFTP transfer holds two descriptors (its socket and its file): the default global cap
/// of 4096 transfers needs more than the usual soft limit of 1024, which a request flood
/// would hit first (no transfer socket), so the soft limit goes up to the hard one (65536 at
/// most), as a server expecting many peers does.
fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let want = hard.min(65536);
        if soft < want {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, want, hard);
        }
    }
}

/// tftpd-hpa's -u: after every socket is bound, give up root for TFTP_USERNAME. setuid
/// without PR_SET_KEEPCAPS empties the permitted set; the bounding set and no_new_privs
/// were already set by `privileges::confine` before the first thread.
fn drop_privileges(user: &str) -> Result<(), String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Ok(());
    }
    let u = nix::unistd::User::from_name(user)
        .map_err(|e| format!("TFTP_USERNAME {user}: {e}"))?
        .ok_or_else(|| format!("TFTP_USERNAME {user}: no such user"))?;
    nix::unistd::setgroups(&[u.gid]).map_err(|e| format!("setgroups: {e}"))?;
    nix::unistd::setgid(u.gid).map_err(|e| format!("setgid: {e}"))?;
    nix::unistd::setuid(u.uid).map_err(|e| format!("setuid: {e}"))?;
    tracing::info!(user, "dropped privileges");
    Ok(())
}

async fn start_dhcp(
    args: &ServeArgs,
    config: Config,
    stop_rx: &watch::Receiver<bool>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    statistics: Shared,
) -> Result<Arc<DhcpService>, String> {
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
        let (file, leases, report) = Memfile::open(&path, sync).map_err(|e| e.to_string())?;
        for e in &report.errors {
            tracing::warn!(
                logger = "kea-dhcp4.dhcpsrv",
                id = "DHCPSRV_MEMFILE_LEASE_LOAD_ROW_ERROR",
                "discarding row: {e}"
            );
        }
        tracing::info!(
            logger = "kea-dhcp4.dhcpsrv",
            id = "DHCPSRV_MEMFILE_LEASE_FILE_LOAD",
            "loading leases from file {} ({} leases)",
            path.display(),
            leases.len()
        );
        (Some(Arc::new(Mutex::new(file))), leases, sync)
    } else {
        (None, LeaseTable::new(), Durability::Write)
    };
    let (lease_file, leases, durability) = store;
    let clock = Clock::start();
    let mut names: Vec<String> = Vec::new();
    for name in &config.interfaces.names {
        let iface = name.split('/').next().unwrap_or(name);
        if iface == "*" {
            names.extend(all_interfaces());
        } else {
            names.push(iface.to_string());
        }
    }
    let socket_type = config.interfaces.socket_type;
    let engine = Engine::new(Arc::new(config), leases, clock.epoch()).map_err(|e| e.to_string())?;
    if let Ok(mut s) = statistics.lock() {
        dhcp_stats::initialise(&mut s, engine.config(), engine.leases());
    }
    journal::config_complete(engine.config());
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
        lease_file,
        durability,
        clock,
        stats: Arc::new(Stats::default()),
        statistics,
        capture,
    });
    for name in &names {
        let service = service.clone();
        let stop = stop_rx.clone();
        // Each port on a thread of its own (see dhcp::service), joined at shutdown.
        let serving = std::thread::Builder::new().name(format!("dhcp {name}"));
        let thread = match socket_type {
            SocketType::Udp => {
                let port =
                    UdpPort::bind(name, args.dhcp_port).map_err(|e| format!("{name}: {e}"))?;
                listening(name, port.addr, args.dhcp_port, "udp");
                serving.spawn(move || service.serve(port, stop))
            }
            SocketType::Raw => {
                let port =
                    RawPort::bind(name, args.dhcp_port).map_err(|e| format!("{name}: {e}"))?;
                listening(name, port.addr, args.dhcp_port, "raw");
                serving.spawn(move || service.serve_raw(port, stop))
            }
        }
        .map_err(|e| format!("{name}: {e}"))?;
        tasks.push(tokio::task::spawn_blocking(move || {
            let _ = thread.join();
        }));
    }
    if names.is_empty() {
        return Err("no interface to serve: interfaces-config.interfaces is empty".into());
    }
    tracing::info!(
        logger = "kea-dhcp4.dhcp4",
        id = "DHCP4_STARTED",
        "netbootd DHCPv4 server version {} started",
        env!("CARGO_PKG_VERSION")
    );
    Ok(service)
}

/// Kea's lines for an interface it listens on (CfgIface::openSockets).
fn listening(iface: &str, addr: std::net::Ipv4Addr, port: u16, socket: &str) {
    tracing::info!(
        logger = "kea-dhcp4.dhcpsrv",
        id = "DHCPSRV_CFGMGR_SOCKET_TYPE_SELECT",
        "using socket type {socket}"
    );
    tracing::info!(
        logger = "kea-dhcp4.dhcpsrv",
        id = "DHCPSRV_CFGMGR_ADD_IFACE",
        "listening on interface {iface} ({addr}:{port}, serving DHCPv4)"
    );
}

/// Kea's lease file cleanup every lfc-interval seconds (Memfile_LeaseMgr::lfcCallback, which
/// runs kea-lfc): the same .1/.2/.output/.completed files. Only the rotation of the live file
/// holds the file's lock; the merge runs on a blocking thread while leases are written on,
/// as kea-lfc runs beside Kea (one cleanup at a time: the caller awaits this).
async fn lease_file_cleanup(service: &DhcpService) {
    let Some(file) = &service.lease_file else {
        return;
    };
    tracing::info!(
        logger = "kea-dhcp4.dhcpsrv",
        id = "DHCPSRV_MEMFILE_LFC_START",
        "starting Lease File Cleanup"
    );
    let rotated = match file.lock() {
        Ok(mut f) => f.rotate(),
        Err(_) => return,
    };
    let result = match rotated {
        Ok(cleanup) => match tokio::task::spawn_blocking(move || cleanup.run()).await {
            Ok(merged) => merged.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(()) => tracing::info!(
            logger = "kea-dhcp4.dhcpsrv",
            id = "DHCPSRV_MEMFILE_LFC_EXECUTE",
            "Lease File Cleanup completed"
        ),
        Err(e) => tracing::error!(
            logger = "kea-dhcp4.dhcpsrv",
            id = "DHCPSRV_MEMFILE_LFC_SPAWN_FAIL",
            "lease file cleanup failed: {e}"
        ),
    }
}

/// SIGHUP: the configuration file again, as Kea re-reads it; a broken one is refused and the
/// old one serves on. Through the control channel when there is one, so config-get and the
/// statistics follow; the file is read and checked once either way.
fn reload(args: &ServeArgs, service: Option<&DhcpService>, control: Option<&Control>) {
    let Some(service) = service else {
        tracing::info!("SIGHUP: no DHCP configuration to reload");
        return;
    };
    if let Some(control) = control {
        if let Err(a) = control.reload() {
            reload_failed(args, &a.text.unwrap_or_default());
        }
        return;
    }
    match load(args) {
        Ok(config) => {
            if let Ok(mut engine) = service.engine.lock() {
                match engine.reconfigure(Arc::new(config)) {
                    Ok(()) => journal::config_complete(engine.config()),
                    Err(e) => reload_failed(args, &e.to_string()),
                }
            }
        }
        Err(e) => reload_failed(args, &e),
    }
}

/// A SIGHUP whose configuration was refused; the old one serves on (Kea's
/// DHCP4_DYNRECONF_FAIL).
fn reload_failed(args: &ServeArgs, why: &str) {
    let file = args
        .config
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    tracing::error!(
        logger = "kea-dhcp4.dhcp4",
        id = "DHCP4_DYNRECONF_FAIL",
        "dynamic server reconfiguration failed with file: {file}: {why}"
    );
}

async fn signals(
    args: &ServeArgs,
    service: Option<&DhcpService>,
    control: Option<&Control>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    // expired-leases-processing: a reclamation cycle every reclaim-timer-wait-time seconds
    // and a flush every flush-reclaimed-timer-wait-time (0 turns either off), read from the
    // configuration in force, so a reload changes them.
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let (mut since_reclaim, mut since_flush, mut since_lfc) = (0u32, 0u32, 0u32);
    loop {
        tokio::select! {
            _ = hup.recv() => reload(args, service, control),
            _ = tick.tick() => {
                let Some(service) = service else { continue };
                let Ok((timers, lfc_interval)) = service.engine.lock().map(|e| {
                    (e.config().expired_leases.clone(), e.config().lease_database.lfc_interval)
                }) else {
                    continue;
                };
                since_reclaim += 1;
                since_flush += 1;
                since_lfc += 1;
                if lfc_interval > 0 && since_lfc >= lfc_interval {
                    since_lfc = 0;
                    lease_file_cleanup(service).await;
                }
                let reclaim = timers.reclaim_timer_wait_time > 0 && since_reclaim >= timers.reclaim_timer_wait_time;
                let flush = timers.flush_reclaimed_timer_wait_time > 0
                    && since_flush >= timers.flush_reclaimed_timer_wait_time;
                if reclaim {
                    since_reclaim = 0;
                }
                if flush {
                    since_flush = 0;
                }
                let epoch = service.clock.epoch();
                let reclaimed = service.decide_as(dhcp_stats::Cause::Reclaim, |engine, now| {
                    // A corrected wall clock reaches the lease file within a second.
                    engine.set_epoch(epoch);
                    Ok(if reclaim { engine.reclaim(now) } else { 0 })
                });
                let flushed = service.decide(|engine, now| {
                    Ok(if flush { engine.flush_reclaimed(now) } else { 0 })
                });
                let done = reclaimed.and_then(|r| flushed.map(|f| (r, f)));
                match done {
                    Ok((0, 0)) => {}
                    Ok((reclaimed, flushed)) => tracing::debug!(reclaimed, flushed, "expired leases processed"),
                    Err(e) => tracing::error!("expired lease processing failed: {e}"),
                }
            }
            _ = stop.changed() => break,
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    Ok(())
}
