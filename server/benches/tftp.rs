//! TFTP benchmark: netbootd beside tftpd-hpa (Debian's in.tftpd) on loopback, in one run,
//! with one client for both (ours, async, so both servers see the same requests):
//! one 64 MiB file at blksize 1468 (netbootd at windowsize 1 and 16; in.tftpd 5.2 has no
//! windowsize and answers lock-step), then 200 concurrent downloads of a 1 MiB file;
//! medians of 5 runs taken in turn.
//! Prints times, throughput and ratios. Run through ci/bench-tftp.sh (as root: in.tftpd drops
//! to `nobody`, so the files are world-readable).

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netbootd::tftp::packet::Packet;
use tokio::net::UdpSocket;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Downloads `name` and returns its length; retransmits the RRQ and ACKs on silence.
async fn get(server: SocketAddr, name: &str, windowsize: Option<u16>) -> Result<u64, String> {
    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let mut options = vec![("blksize".to_string(), "1468".to_string())];
    if let Some(w) = windowsize {
        options.push(("windowsize".into(), w.to_string()));
    }
    let rrq = Packet::Rrq {
        filename: name.as_bytes().to_vec(),
        mode: "octet".into(),
        options,
    }
    .encode();
    socket
        .send_to(&rrq, server)
        .await
        .map_err(|e| e.to_string())?;
    let (mut blksize, mut window) = (512usize, 1u64);
    let (mut expected, mut in_window, mut total) = (1u16, 0u64, 0u64);
    let mut peer: Option<SocketAddr> = None;
    let mut last_ack: Option<Vec<u8>> = None;
    let mut silences = 0;
    let mut buf = vec![0u8; 65536];
    loop {
        let received =
            tokio::time::timeout(Duration::from_secs(1), socket.recv_from(&mut buf)).await;
        let (n, from) = match received {
            Ok(r) => r.map_err(|e| e.to_string())?,
            Err(_) => {
                silences += 1;
                if std::env::var("BENCH_TFTP_DEBUG").is_ok() {
                    eprintln!("silence at block {expected}");
                }
                if silences > 10 {
                    return Err(format!("{name}: no answer"));
                }
                match (&peer, &last_ack) {
                    (Some(p), Some(ack)) => socket.send_to(ack, p).await,
                    _ => socket.send_to(&rrq, server).await,
                }
                .map_err(|e| e.to_string())?;
                continue;
            }
        };
        if *peer.get_or_insert(from) != from {
            continue;
        }
        let mut ack = |block: u16| {
            let bytes = Packet::Ack { block }.encode();
            last_ack = Some(bytes.clone());
            bytes
        };
        match Packet::decode(&buf[..n]).map_err(|e| e.to_string())? {
            Packet::Oack { options } => {
                for (k, v) in options {
                    match k.as_str() {
                        "blksize" => blksize = v.parse().unwrap_or(512),
                        "windowsize" => window = v.parse().unwrap_or(1),
                        _ => {}
                    }
                }
                let a = ack(0);
                socket.send_to(&a, from).await.map_err(|e| e.to_string())?;
            }
            Packet::Data { block, data } => {
                if block != expected {
                    let a = ack(expected.wrapping_sub(1));
                    socket.send_to(&a, from).await.map_err(|e| e.to_string())?;
                    in_window = 0;
                    continue;
                }
                total += data.len() as u64;
                in_window += 1;
                let last = data.len() < blksize;
                if last || in_window == window {
                    let a = ack(block);
                    socket.send_to(&a, from).await.map_err(|e| e.to_string())?;
                    in_window = 0;
                }
                expected = expected.wrapping_add(1);
                if last {
                    return Ok(total);
                }
            }
            Packet::Error { code, message } => {
                return Err(format!("{name}: ERROR {code} {message}"))
            }
            _ => {}
        }
    }
}

/// Seconds for `count` concurrent downloads of `name` (each checked for its length).
async fn run(
    server: SocketAddr,
    name: &str,
    len: u64,
    count: usize,
    windowsize: Option<u16>,
) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let name = name.to_string();
            tokio::spawn(async move { get(server, &name, windowsize).await })
        })
        .collect();
    for t in tasks {
        let got = t.await.expect("task").expect("download");
        assert_eq!(got, len, "short download");
    }
    start.elapsed().as_secs_f64()
}

/// Runs of each server and window, taken in turn.
const RUNS: usize = 5;

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn write_file(path: &Path, len: usize) {
    let mut x: u32 = 0x9e37_79b9;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would too: both just run.
    if Command::new("in.tftpd").arg("-V").output().is_err() {
        eprintln!("bench tftp: in.tftpd missing (apt-get install tftpd-hpa)");
        std::process::exit(2);
    }
    let quick = std::env::var("BENCH_TFTP_QUICK").is_ok();
    let big_len: usize = if quick { 8 << 20 } else { 64 << 20 };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    for p in [dir.path(), root.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    write_file(&root.join("big.img"), big_len);
    write_file(&root.join("ipxe.efi"), 1 << 20);

    let theirs_port = free_port();
    let _tftpd = Killed(
        Command::new("in.tftpd")
            .args(["-L", "-s", "-a", &format!("127.0.0.1:{theirs_port}")])
            .arg(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let ours_port = free_port();
    let _ours = Killed(
        Command::new(env!("CARGO_BIN_EXE_netbootd"))
            .args([
                "serve",
                "--secure",
                "--tftp-per-client",
                "1000",
                "--tftp-root",
            ])
            .arg(&root)
            .args(["--tftp-address", &format!("127.0.0.1:{ours_port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(500));
    let theirs: SocketAddr = ([127, 0, 0, 1], theirs_port).into();
    let ours: SocketAddr = ([127, 0, 0, 1], ours_port).into();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mib = big_len as f64 / (1 << 20) as f64;
    println!("one {mib:.0} MiB file, blksize 1468 (medians of {RUNS} alternating runs):");
    // The servers take turns run by run, so drift in the machine's load reaches each alike.
    let alternate = |name: &str, len: u64, count: usize| {
        let mut times = [Vec::new(), Vec::new(), Vec::new()];
        for _ in 0..RUNS {
            for (i, (server, window)) in [(theirs, None), (ours, Some(1)), (ours, Some(16))]
                .into_iter()
                .enumerate()
            {
                times[i].push(rt.block_on(run(server, name, len, count, window)));
            }
        }
        times.map(median)
    };
    let [hpa, ws1, ws16] = alternate("big.img", big_len as u64, 1);
    println!(
        "  tftpd-hpa               {hpa:7.3} s  {:7.1} MiB/s",
        mib / hpa
    );
    println!(
        "  netbootd windowsize 1   {ws1:7.3} s  {:7.1} MiB/s  x{:.2} tftpd-hpa",
        mib / ws1,
        hpa / ws1
    );
    println!(
        "  netbootd windowsize 16  {ws16:7.3} s  {:7.1} MiB/s  x{:.2} tftpd-hpa",
        mib / ws16,
        hpa / ws16
    );

    let count = 200;
    println!("{count} concurrent downloads of 1 MiB, blksize 1468 (medians of {RUNS}):");
    let [hpa, ws1, ws16] = alternate("ipxe.efi", 1 << 20, count);
    println!("  tftpd-hpa               {hpa:7.3} s");
    println!(
        "  netbootd windowsize 1   {ws1:7.3} s  x{:.2} tftpd-hpa",
        hpa / ws1
    );
    println!(
        "  netbootd windowsize 16  {ws16:7.3} s  x{:.2} tftpd-hpa",
        hpa / ws16
    );
}
