//! EDK2's TFTP phase against a real tftpd-hpa (`in.tftpd`) on loopback: the size probe, the
//! ERROR 8 abort, then a byte-exact download at window 1 (tftpd-hpa has no windowsize, so the
//! OACK omits it, as OBSERVED with dnsmasq in firmware.md A.9).

#[path = "../../server/tests/support/mod.rs"]
mod support;

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::{Child, Command};
use std::time::Duration;

use bootsim::firmware::uefi_pxe::tftp::{Endpoints, Event, TftpPhase};
use bootsim::firmware::uefi_pxe::PxeError;
use netbootd::time::{Clock, Instant};
use netbootd::wire::frame::Datagram;
use netbootd::wire::MacAddr;

struct Tftpd {
    child: Child,
    port: u16,
    _root: tempfile::TempDir,
}

impl Drop for Tftpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tftpd(files: &[(&str, Vec<u8>)]) -> Tftpd {
    let root = tempfile::tempdir().unwrap();
    for (name, data) in files {
        std::fs::write(root.path().join(name), data).unwrap();
    }
    let port = free_port();
    let child = Command::new("in.tftpd")
        .args(["-L", "-s", "-a"])
        .arg(format!("127.0.0.1:{port}"))
        .arg(root.path())
        .spawn()
        .expect("in.tftpd starts");
    std::thread::sleep(Duration::from_millis(200));
    Tftpd {
        child,
        port,
        _root: root,
    }
}

/// Two consecutive free client ports, as EDK2 uses (probe, then download).
fn port_pair() -> (UdpSocket, UdpSocket) {
    for _ in 0..50 {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if let Ok(b) = UdpSocket::bind(("127.0.0.1", p.wrapping_add(1))) {
            return (a, b);
        }
    }
    panic!("no two consecutive free UDP ports");
}

/// Drives the sans-IO phase over real sockets in real time.
fn run(server_port: u16, file: &str) -> (TftpPhase, Vec<String>) {
    let (a, b) = port_pair();
    for s in [&a, &b] {
        s.set_nonblocking(true).unwrap();
    }
    let first_port = a.local_addr().unwrap().port();
    let lo = Ipv4Addr::LOCALHOST;
    let ep = Endpoints {
        mac: MacAddr([2, 0, 0, 0, 0, 2]),
        station: lo,
        server: lo,
        server_mac: MacAddr([2, 0, 0, 0, 0, 1]),
        first_port,
        server_port,
    };
    let mut phase = TftpPhase::new(ep, file.to_string(), None);
    let clock = Clock::start();
    phase.start(Instant::ZERO);
    let mut sent = Vec::new();
    let mut buf = vec![0u8; 65536];
    while phase.outcome().is_none() && clock.now() < Instant::from_secs(60) {
        while let Some(d) = phase.poll_transmit() {
            let socket = if d.src.port() == first_port { &a } else { &b };
            socket.send_to(&d.payload, d.dst).unwrap();
        }
        let mut got = false;
        for socket in [&a, &b] {
            if let Ok((n, from)) = socket.recv_from(&mut buf) {
                let std::net::SocketAddr::V4(from) = from else {
                    continue;
                };
                let to = SocketAddrV4::new(lo, socket.local_addr().unwrap().port());
                let d = Datagram::new(
                    MacAddr([2, 0, 0, 0, 0, 1]),
                    MacAddr([2, 0, 0, 0, 0, 2]),
                    from,
                    to,
                    buf[..n].to_vec(),
                );
                phase.handle(clock.now(), &d);
                got = true;
            }
        }
        if !got {
            std::thread::sleep(Duration::from_millis(1));
        }
        phase.handle_timeout(clock.now());
    }
    for e in phase.drain_events() {
        match e {
            Event::Sent { what, .. } => sent.push(what.to_string()),
            Event::Console { line, .. } => sent.push(format!("console: {line}")),
        }
    }
    (phase, sent)
}

#[test]
fn probe_abort_then_download_is_byte_exact() {
    if !support::require_tool("in.tftpd") {
        return;
    }
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let server = tftpd(&[("ipxe.efi", data.clone())]);
    let (phase, sent) = run(server.port, "ipxe.efi");
    assert_eq!(phase.outcome(), Some(&Ok(data.into())));
    assert_eq!(phase.size(), Some(1_000_000));
    // 1_000_000 / 1468 = 681 full blocks + 1 short: one ACK per block at window 1.
    let acks = sent.iter().filter(|s| s.starts_with("ACK ")).count();
    assert_eq!(acks, 1 + 682, "ACK 0 plus one per block");
    assert_eq!(
        &sent[..4],
        [
            "RRQ (size probe)",
            "ERROR 8",
            "console:   NBP filesize is 1000000 Bytes",
            "console:  Downloading NBP file..."
        ]
    );
    assert_eq!(
        sent.last().unwrap(),
        "console:   NBP file downloaded successfully."
    );
}

#[test]
fn a_missing_file_is_pxe_e23() {
    if !support::require_tool("in.tftpd") {
        return;
    }
    let server = tftpd(&[]);
    let (phase, _) = run(server.port, "nope.efi");
    let Some(Err(PxeError::E23(text))) = phase.outcome() else {
        panic!("{:?}", phase.outcome());
    };
    assert_eq!(text, "error 1: File not found");
}
