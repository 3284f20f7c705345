//! The segment in real time with an external port: a "machine" on the far side of a UDP
//! socket pair (as QEMU's `-netdev dgram` is) speaks Ethernet frames, and netbootd in-process
//! answers it. Here the machine is the EDK2 model driven by its own real-time loop in a
//! thread, so the test needs no QEMU: the whole PXE step (DORA, TFTP size probe, download)
//! crosses the socket as frames, on the OS clock.

use std::net::{Ipv4Addr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bootsim::firmware::uefi_pxe::packets::{Arch, Identity, Undi};
use bootsim::firmware::uefi_pxe::UefiPxe;
use bootsim::net::embedded::{build, ServerSpec, SERVER_MAC};
use bootsim::net::lan::{Lan, Station};
use bootsim::net::realtime::{self, FramePort, Stopped};
use netbootd::kea::KeaVersion;
use netbootd::time::{Clock, Instant};
use netbootd::wire::frame::Datagram;
use netbootd::wire::MacAddr;

const MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

fn seed(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/seed")).join(name)
}

/// The EDK2 model as a machine behind a socket: its datagrams leave as frames, frames that
/// arrive are handed to it, its timers run on the OS clock.
fn machine(socket: UdpSocket, segment: std::net::SocketAddr) -> (UefiPxe, Instant) {
    let id = Identity {
        mac: MAC,
        arch: Arch::X64,
        undi: Undi::default(),
        uuid: [0x11; 16],
    };
    let clock = Clock::start();
    let mut pxe = UefiPxe::new(id, 0x1234_5678, Duration::from_millis(300));
    pxe.start(Instant::ZERO);
    let mut buf = vec![0u8; 65536];
    while !Station::finished(&pxe) && clock.now() < Instant::from_secs(60) {
        while let Some(d) = pxe.poll_transmit() {
            socket.send_to(&d.to_frame(), segment).unwrap();
        }
        let now = clock.now();
        match pxe.poll_timeout() {
            Some(t) if t <= now => {
                pxe.handle_timeout(now);
                continue;
            }
            Some(t) => socket.set_read_timeout(Some(t - now)).unwrap(),
            None => socket
                .set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap(),
        }
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            if let Ok(Some(d)) = Datagram::from_frame(&buf[..n]) {
                pxe.handle(clock.now(), &d);
            }
        }
    }
    (pxe, clock.now())
}

#[test]
fn a_machine_behind_a_udp_socket_gets_its_nbp_from_netbootd_in_real_time() {
    let dir = tempfile::tempdir().unwrap();
    let nbp: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("ipxe.efi"), &nbp).unwrap();
    let server = build(&ServerSpec {
        config: seed("kea-dhcp4.conf"),
        kea_version: KeaVersion::V3_0,
        tftp_root: Some(dir.path().to_path_buf()),
        server_addr: None,
        epoch: bootsim::net::embedded::SIMULATION_EPOCH,
    })
    .unwrap();
    let mut lan = Lan::new(server);
    let guest = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut port = FramePort::bind(
        "127.0.0.1:0".parse().unwrap(),
        guest.local_addr().unwrap(),
        Some(MAC),
    )
    .unwrap();
    port.answer_arp_for(vec![(lan.server_addr(), SERVER_MAC)]);
    let waiter = port.waiter().unwrap();
    let segment = port.local_addr().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let thread = std::thread::spawn(move || {
        let out = machine(guest, segment);
        flag.store(true, Ordering::SeqCst);
        out
    });
    let stopped = realtime::run(
        &mut lan,
        &mut [&mut port],
        0,
        &waiter,
        Duration::from_secs(60),
        &mut |_| !done.load(Ordering::SeqCst),
    )
    .unwrap();
    let (pxe, took) = thread.join().unwrap();
    assert_eq!(stopped, Stopped::Asked);
    let got = pxe.outcome().unwrap().as_ref().unwrap();
    assert_eq!(got.station, Ipv4Addr::new(192, 168, 1, 2));
    assert!(got.bytes == nbp.into(), "the NBP crossed the socket intact");
    // EDK2's offer collection waits for its first DISCOVER timer (firmware.md A.4): on a real
    // clock that wait is real, and the segment stamps frames with it.
    assert!(took >= Instant::from_secs(3), "{took:?}");
    let first_ack = lan
        .frames
        .iter()
        .find(|f| !f.from_client && f.datagram.src.port() == 67 && f.at > Instant::from_secs(2))
        .expect("an answer after the offer window");
    assert!(first_ack.at < took, "{:?} vs {took:?}", first_ack.at);
    assert_eq!(port.ignored.total(), 0);
}
