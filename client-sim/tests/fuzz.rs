//! Hostile input never panics a firmware model or the in-process server: random bytes,
//! truncations and mutations of real DHCP and TFTP packets, on every port the models listen
//! on, at random times.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use bootsim::firmware::ipxe::packets::{Build, Identity as IpxeId};
use bootsim::firmware::ipxe::Ipxe;
use bootsim::firmware::uefi_pxe::packets::{Arch, Identity, Undi};
use bootsim::firmware::uefi_pxe::UefiPxe;
use bootsim::net::lan::Station;
use netbootd::tftp::config::{Limits, TftpConfig};
use netbootd::tftp::engine::TftpEngine;
use netbootd::tftp::files::Cached;
use netbootd::time::Instant;
use netbootd::wire::frame::Datagram;
use netbootd::wire::MacAddr;
use proptest::prelude::*;

const MAC: MacAddr = MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]);

fn stations() -> Vec<Box<dyn Station>> {
    let uuid = [7u8; 16];
    let mut pxe = UefiPxe::new(
        Identity {
            mac: MAC,
            arch: Arch::X64,
            undi: Undi::default(),
            uuid,
        },
        9,
        Duration::from_millis(300),
    );
    pxe.start(Instant::ZERO);
    let mut ipxe = Ipxe::new(
        IpxeId {
            mac: MAC,
            build: Build::EfiX64,
            uuid: Some(uuid),
        },
        9,
    );
    ipxe.start(Instant::ZERO);
    vec![Box::new(pxe), Box::new(ipxe)]
}

/// A real OFFER-looking reply to mutate.
fn offer() -> Vec<u8> {
    let mut m = netbootd::wire::dhcp::Message {
        op: 2,
        htype: 1,
        hlen: 6,
        xid: 9,
        yiaddr: Ipv4Addr::new(192, 168, 1, 2),
        siaddr: Ipv4Addr::new(192, 168, 1, 1),
        ..Default::default()
    };
    m.chaddr[..6].copy_from_slice(MAC.as_bytes());
    m.options.push(53, &[2]);
    m.options.push(54, &[192, 168, 1, 1]);
    m.options.push(60, b"PXEClient");
    m.options.push(67, b"ipxe.efi");
    m.options.end();
    m.encode()
}

fn port() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(67u16),
        Just(68),
        Just(69),
        Just(4011),
        Just(1568),
        Just(1569),
        Just(49152),
        any::<u16>()
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn models_survive_garbage(
        frames in proptest::collection::vec(
            (port(), port(), prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..600),
                (0usize..400, any::<u8>(), 0usize..400).prop_map(|(at, b, cut)| {
                    let mut o = offer();
                    if at < o.len() { o[at] = b; }
                    o.truncate(cut.max(1));
                    o
                }),
                Just(vec![0, 6, b't', b's', b'i', b'z', b'e', 0]),
                Just(vec![0, 3, 0, 1]),
                Just(vec![0, 5, 0, 1]),
            ], 0u64..20_000),
            1..30,
        )
    ) {
        for mut s in stations() {
            for (src, dst, payload, ms) in &frames {
                let d = Datagram::new(
                    MacAddr([2, 0, 0, 0, 0, 1]),
                    MAC,
                    SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 1), *src),
                    SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 2), *dst),
                    payload.clone(),
                );
                let now = Instant::from_millis(*ms);
                s.handle(now, &d);
                s.handle_timeout(now);
                while s.poll_transmit().is_some() {}
            }
        }
    }

    #[test]
    fn the_tftp_host_survives_garbage(
        packets in proptest::collection::vec((port(), proptest::collection::vec(any::<u8>(), 0..200)), 1..40)
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ipxe.efi"), vec![1u8; 5000]).unwrap();
        let upload = tempfile::tempdir().unwrap();
        let config = TftpConfig {
            root: dir.path().canonicalize().unwrap(),
            listen: "192.168.1.1:69".parse().unwrap(),
            secure: true,
            limits: Limits::default(),
            port_range: None,
            per_client: 4,
            max_transfers: 8,
            remap: None,
            upload: Some(netbootd::tftp::config::Upload {
                dir: upload.path().canonicalize().unwrap(),
                max_bytes: 4096,
            }),
        };
        let mut host = TftpEngine::new(config, Box::new(Cached::default()));
        let start = Instant::ZERO;
        let client = SocketAddr::from(SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 2), 1568));
        // A real request first, so transfer ports exist to be fed garbage.
        host.on_datagram(start, client, 69, b"\0\x01ipxe.efi\0octet\0blksize\x001468\0");
        host.on_datagram(start, client, 69, b"\0\x02upload.log\0octet\0");
        for (i, (port, bytes)) in packets.iter().enumerate() {
            let now = start + Duration::from_millis(i as u64 * 700);
            host.on_datagram(now, client, *port, bytes);
            host.on_datagram(now, client, 49152, bytes);
            host.on_timeout(now);
        }
    }
}
