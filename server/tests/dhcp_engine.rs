//! The DHCPv4 engine on the guide's kea-dhcp4.conf: what each firmware is offered, the whole
//! DORA, renewals, releases, NAKs and a full pool, as Kea 2.2 answers them.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::sync::Arc;

use netbootd::dhcp::engine::{Engine, Incoming, Outcome, Silence, ACK, NAK, OFFER};
use netbootd::dhcp::lease::{Durability, LeaseState, LeaseTable, Memfile};
use netbootd::kea::check::check_document;
use netbootd::kea::json::parse_bytes;
use netbootd::kea::model::Config;
use netbootd::kea::system::System;
use netbootd::kea::KeaVersion;
use netbootd::time::{Epoch, Instant};
use netbootd::wire::dhcp::Message;

struct Node0;

impl System for Node0 {
    fn interface_exists(&self, name: &str) -> bool {
        name == "eth1"
    }
    fn file_exists(&self, _: &Path) -> bool {
        false
    }
}

/// The guide's config as Kea 2.6+ reads it (2.6 accepts `output-options`).
fn guide() -> Arc<Config> {
    let bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/seed/kea-dhcp4.conf"),
    )
    .unwrap();
    let doc = parse_bytes("kea-dhcp4.conf", bytes);
    let outcome = check_document(&doc, KeaVersion::V2_6, &Node0);
    assert!(outcome.is_valid(), "{:?}", outcome.error);
    Arc::new(outcome.config.unwrap())
}

const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);

fn incoming(msg: Message) -> Incoming {
    Incoming {
        len: msg.encode().len(),
        msg: Box::new(msg),
        iface: "eth1".into(),
        iface_addr: SERVER,
        source: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
        destination: Ipv4Addr::BROADCAST,
        direct_response: true,
    }
}

fn query(kind: u8, mac: u8, options: &[(u8, &[u8])]) -> Message {
    let mut m = Message {
        xid: 0x1000 + u32::from(mac),
        flags: 0x8000,
        ..Message::default()
    };
    m.chaddr[..6].copy_from_slice(&[0x52, 0x54, 0, 0, 0, mac]);
    m.options.push(53, &[kind]);
    for (code, data) in options {
        m.options.push(*code, data);
    }
    m.options.end();
    m
}

const UEFI: &[(u8, &[u8])] = &[
    (55, &[1, 3, 6, 66, 67]),
    (60, b"PXEClient:Arch:00007:UNDI:003016"),
    (93, &[0, 7]),
];
const IPXE: &[(u8, &[u8])] = &[
    (55, &[1, 3, 6, 66, 67]),
    (60, b"PXEClient:Arch:00007:UNDI:003010"),
    (77, b"iPXE"),
    (93, &[0, 7]),
];
const BIOS: &[(u8, &[u8])] = &[(60, b"PXEClient:Arch:00000:UNDI:002001"), (93, &[0, 0])];

fn engine() -> Engine {
    Engine::new(guide(), LeaseTable::new(), Epoch::UNIX).unwrap()
}

fn reply(engine: &mut Engine, now: u64, msg: Message) -> (Message, Vec<String>) {
    match engine
        .handle(Instant::from_secs(now), &incoming(msg))
        .unwrap()
    {
        Outcome::Reply { msg, classes, .. } => (*msg, classes.into_names()),
        Outcome::Silent(s) => panic!("no reply: {s:?}"),
    }
}

#[test]
fn each_firmware_gets_what_the_guide_intends() {
    let mut e = engine();
    let (offer, classes) = reply(&mut e, 1000, query(1, 1, UEFI));
    assert_eq!(offer.message_type(), Some(OFFER));
    assert_eq!(offer.yiaddr, Ipv4Addr::new(192, 168, 1, 2));
    assert_eq!(offer.siaddr, SERVER);
    assert_eq!(offer.file_name().as_deref(), Some("ipxe.efi"));
    assert!(classes.contains(&"PXE UEFI".to_string()), "{classes:?}");
    assert_eq!(offer.option(54), Some(SERVER.octets().to_vec()));
    assert_eq!(offer.option(51), Some(3600u32.to_be_bytes().to_vec()));
    assert_eq!(offer.option(58), Some(900u32.to_be_bytes().to_vec()));
    assert_eq!(offer.option(59), Some(1800u32.to_be_bytes().to_vec()));
    assert_eq!(offer.option(1), Some(vec![255, 255, 255, 240]));
    assert_eq!(offer.option(3), Some(SERVER.octets().to_vec()));
    assert_eq!(
        offer.option(60),
        None,
        "echoing PXEClient sends EDK2 to port 4011"
    );
    assert_eq!(offer.option(67), None, "Kea sends 67 only from option-data");
    assert_eq!(offer.options.codes()[0], 53);

    let (offer, _) = reply(&mut e, 1000, query(1, 2, IPXE));
    assert_eq!(offer.file_name().as_deref(), Some("refind.pxe"));
    assert_eq!(offer.siaddr, SERVER);
    assert_eq!(
        offer.yiaddr,
        Ipv4Addr::new(192, 168, 1, 3),
        "the allocator moved on"
    );

    let (offer, classes) = reply(&mut e, 1000, query(1, 3, BIOS));
    assert_eq!(offer.file_name(), None);
    assert_eq!(offer.siaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(
        classes,
        [
            "ALL",
            "VENDOR_CLASS_PXEClient:Arch:00000:UNDI:002001",
            "UNKNOWN"
        ]
    );
}

fn request(mac: u8, addr: Ipv4Addr, server: Option<Ipv4Addr>) -> Message {
    let a = addr.octets();
    let s = server.map(|s| s.octets());
    let mut opts: Vec<(u8, &[u8])> = vec![(50, &a)];
    if let Some(s) = &s {
        opts.push((54, s));
    }
    // EDK2 repeats its identity in the REQUEST (firmware.md A.3).
    opts.extend_from_slice(UEFI);
    query(3, mac, &opts)
}

#[test]
fn dora_renew_release_and_nak() {
    let mut e = engine();
    let (offer, _) = reply(&mut e, 1000, query(1, 1, UEFI));
    let (ack, _) = reply(&mut e, 1001, request(1, offer.yiaddr, Some(SERVER)));
    assert_eq!(ack.message_type(), Some(ACK));
    assert_eq!(ack.file_name().as_deref(), Some("ipxe.efi"));
    let lease = e.leases().get(offer.yiaddr).expect("lease stored").clone();
    assert_eq!(lease.cltt, 1001);
    assert_eq!(lease.valid_lifetime, 3600);
    assert_eq!(lease.subnet_id, 1);

    // Another server was chosen: silence.
    let other = reply_or_silence(
        &mut e,
        request(1, offer.yiaddr, Some(Ipv4Addr::new(10, 9, 9, 9))),
    );
    assert_eq!(other, Err(Silence::OtherServer(Ipv4Addr::new(10, 9, 9, 9))));

    // RENEWING: unicast with ciaddr.
    let mut renew = query(3, 1, &[]);
    renew.ciaddr = offer.yiaddr;
    let mut q = incoming(renew);
    q.source = SocketAddrV4::new(offer.yiaddr, 68);
    q.destination = SERVER;
    let Outcome::Reply { msg: ack, dest, .. } = e.handle(Instant::from_secs(2000), &q).unwrap()
    else {
        panic!("renew unanswered")
    };
    assert_eq!(ack.message_type(), Some(ACK));
    assert_eq!(
        *dest.to.ip(),
        offer.yiaddr,
        "unicast to ciaddr (RFC 2131 4.1)"
    );
    assert_eq!(e.leases().get(offer.yiaddr).unwrap().cltt, 2000);

    // Another client asking for that address is refused.
    let (nak, _) = reply(&mut e, 2001, request(9, offer.yiaddr, Some(SERVER)));
    assert_eq!(nak.message_type(), Some(NAK));
    assert_eq!(nak.yiaddr, Ipv4Addr::UNSPECIFIED);

    // RELEASE frees it; no answer.
    let mut release = query(7, 1, &[(54, &SERVER.octets())]);
    release.ciaddr = offer.yiaddr;
    assert_eq!(
        reply_or_silence(&mut e, release),
        Err(Silence::NoReplyExpected)
    );
    assert!(e.leases().get(offer.yiaddr).is_none());
}

/// RELEASE and DECLINE of an address leased to someone else are ignored (Kea's
/// Dhcpv4Srv::processRelease and declineLease check Lease::belongsToClient first); the owner's
/// DECLINE takes the address out of the pool for decline-probation-period.
#[test]
fn release_and_decline_of_anothers_lease_are_refused() {
    let mut e = engine();
    let (offer, _) = reply(&mut e, 1000, query(1, 1, UEFI));
    reply(&mut e, 1001, request(1, offer.yiaddr, Some(SERVER)));
    let addr = offer.yiaddr;

    let mut release = query(7, 2, &[(54, &SERVER.octets())]);
    release.ciaddr = addr;
    assert_eq!(
        reply_or_silence(&mut e, release),
        Err(Silence::NotOwned {
            address: addr,
            leased: true
        })
    );
    let decline = query(4, 2, &[(50, &addr.octets()), (54, &SERVER.octets())]);
    assert_eq!(
        reply_or_silence(&mut e, decline),
        Err(Silence::NotOwned {
            address: addr,
            leased: true
        })
    );
    let lease = e.leases().get(addr).expect("the owner keeps its lease");
    assert_eq!(lease.state, LeaseState::Default);
    assert_eq!(lease.hwaddr, vec![0x52, 0x54, 0, 0, 0, 1]);

    let free = Ipv4Addr::new(192, 168, 1, 9);
    let decline = query(4, 2, &[(50, &free.octets())]);
    assert_eq!(
        reply_or_silence(&mut e, decline),
        Err(Silence::NotOwned {
            address: free,
            leased: false
        })
    );
    assert!(e.leases().get(free).is_none());

    let decline = query(4, 1, &[(50, &addr.octets()), (54, &SERVER.octets())]);
    assert_eq!(
        reply_or_silence(&mut e, decline),
        Err(Silence::NoReplyExpected)
    );
    let lease = e.leases().get(addr).expect("declined, kept");
    assert_eq!(lease.state, LeaseState::Declined);
    assert_eq!(
        lease.valid_lifetime, 86400,
        "Kea's default decline-probation-period"
    );
    assert!(lease.hwaddr.is_empty());
}

fn reply_or_silence(e: &mut Engine, msg: Message) -> Result<Message, Silence> {
    match e.handle(Instant::from_secs(3000), &incoming(msg)).unwrap() {
        Outcome::Reply { msg, .. } => Ok(*msg),
        Outcome::Silent(s) => Err(s),
    }
}

#[test]
fn a_full_pool_leaves_the_fourteenth_client_unanswered() {
    let dir = tempfile::tempdir().unwrap();
    let (mut file, leases, _) =
        Memfile::open(&dir.path().join("leases.csv"), Durability::Write).unwrap();
    let mut e = Engine::new(guide(), leases, Epoch::UNIX).unwrap();
    for mac in 1..=13u8 {
        let (offer, _) = reply(&mut e, 10, query(1, mac, BIOS));
        let (ack, _) = reply(&mut e, 11, request(mac, offer.yiaddr, Some(SERVER)));
        assert_eq!(ack.message_type(), Some(ACK), "client {mac}");
        file.persist(&e.take_changes()).unwrap();
    }
    assert_eq!(e.leases().len(), 13);
    assert_eq!(
        reply_or_silence(&mut e, query(1, 14, BIOS)),
        Err(Silence::NoAddress)
    );
    // The leases are Kea's CSV on disk.
    let text = std::fs::read_to_string(dir.path().join("leases.csv")).unwrap();
    assert_eq!(text.lines().count(), 14);
    assert!(
        text.contains("192.168.1.14,52:54:00:00:00:0d,,3600,3611,1,0,0,,0,"),
        "{text}"
    );
}

#[test]
fn expired_leases_are_reclaimed_kept_for_affinity_then_flushed() {
    use netbootd::dhcp::lease::LeaseState;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kea-leases4.csv");
    let (mut file, leases, _) = Memfile::open(&path, Durability::Write).unwrap();
    let mut e = Engine::new(guide(), leases, Epoch::UNIX).unwrap();
    let (offer, _) = reply(&mut e, 100, query(1, 1, BIOS));
    reply(&mut e, 100, request(1, offer.yiaddr, Some(SERVER)));
    // valid-lifetime 3600: nothing to reclaim before it runs out.
    assert_eq!(e.reclaim(Instant::from_secs(3699)), 0);
    assert_eq!(e.reclaim(Instant::from_secs(3700)), 1);
    file.persist(&e.take_changes()).unwrap();
    let lease = e.leases().get(offer.yiaddr).unwrap().clone();
    assert_eq!(lease.state, LeaseState::ExpiredReclaimed);
    // The lease file says so (Kea's state column, 2 = expired-reclaimed).
    let csv = std::fs::read_to_string(&path).unwrap();
    let last = csv.lines().last().unwrap();
    assert_eq!(last.split(',').nth(9), Some("2"), "{csv}");
    // Affinity: the same client gets the same address back while the lease is held.
    let (again, _) = reply(&mut e, 4000, query(1, 1, BIOS));
    assert_eq!(again.yiaddr, offer.yiaddr);
    // hold-reclaimed-time 3600 after expiry, the flush removes it.
    assert_eq!(e.flush_reclaimed(Instant::from_secs(3700 + 3600)), 0);
    assert_eq!(e.flush_reclaimed(Instant::from_secs(3700 + 3601)), 1);
    assert!(e.leases().get(offer.yiaddr).is_none());
}

/// The in-memory port (dhcp::link): frames in, frames out, addressed at layer 2 as Kea's raw
/// sockets address them.
mod link {
    use super::*;
    use netbootd::dhcp::link::{FrameAnswer, Link};
    use netbootd::wire::frame::{Datagram, BROADCAST_MAC};
    use netbootd::wire::MacAddr;

    const SERVER_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 1]);

    fn node0() -> Link {
        Link {
            iface: "eth1".into(),
            addr: SERVER,
            mac: SERVER_MAC,
            port: 67,
        }
    }

    fn frame(msg: &Message, src_mac: MacAddr, src: SocketAddrV4, dst: SocketAddrV4) -> Vec<u8> {
        Datagram::new(src_mac, BROADCAST_MAC, src, dst, msg.encode()).to_frame()
    }

    fn answer(e: &mut Engine, f: &[u8]) -> Datagram {
        match node0().answer(e, Instant::from_secs(10), f).unwrap() {
            FrameAnswer::Reply { frame, .. } => Datagram::from_frame(&frame).unwrap().unwrap(),
            other => panic!("no reply: {other:?}"),
        }
    }

    #[test]
    fn offers_go_to_chaddr_broadcast_or_the_relay_as_kea_addresses_them() {
        let mut e = engine();
        let client_mac = MacAddr([0x52, 0x54, 0, 0, 0, 7]);
        let from_client = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68);
        let to_server = SocketAddrV4::new(Ipv4Addr::BROADCAST, 67);
        // No broadcast flag: unicast to yiaddr at chaddr (RFC 2131 4.1), no ARP needed.
        let mut d = query(1, 7, UEFI);
        d.flags = 0;
        let offer = answer(&mut e, &frame(&d, client_mac, from_client, to_server));
        assert_eq!(offer.dst_mac, client_mac);
        assert_eq!(
            offer.dst,
            SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 2), 68)
        );
        assert_eq!(offer.src, SocketAddrV4::new(SERVER, 67));
        assert_eq!(offer.src_mac, SERVER_MAC);
        // The broadcast flag: to everyone.
        let offer = answer(
            &mut e,
            &frame(
                &query(1, 8, UEFI),
                MacAddr([0x52, 0x54, 0, 0, 0, 8]),
                from_client,
                to_server,
            ),
        );
        assert_eq!(offer.dst_mac, BROADCAST_MAC);
        assert_eq!(*offer.dst.ip(), Ipv4Addr::BROADCAST);
        // Relayed: to the relay's address and the relay's hardware address, port 67.
        let relay_mac = MacAddr([0x02, 0, 0, 0, 0, 0x99]);
        let mut r = query(1, 9, BIOS);
        r.giaddr = Ipv4Addr::new(192, 168, 1, 14);
        r.hops = 1;
        let relay = SocketAddrV4::new(r.giaddr, 67);
        let offer = answer(
            &mut e,
            &frame(&r, relay_mac, relay, SocketAddrV4::new(SERVER, 67)),
        );
        assert_eq!(offer.dst_mac, relay_mac);
        assert_eq!(offer.dst, relay);
    }

    #[test]
    fn other_traffic_and_garbage_are_passed_over_or_reported() {
        let mut e = engine();
        let mac = MacAddr([0x52, 0x54, 0, 0, 0, 1]);
        let link = node0();
        // Our own frame echoed back, a frame to another port, an ARP frame.
        let ours = frame(
            &query(1, 1, UEFI),
            SERVER_MAC,
            SocketAddrV4::new(SERVER, 67),
            SocketAddrV4::new(Ipv4Addr::BROADCAST, 67),
        );
        assert!(matches!(
            link.answer(&mut e, Instant::from_secs(1), &ours).unwrap(),
            FrameAnswer::NotForUs
        ));
        let dns = Datagram::new(
            mac,
            BROADCAST_MAC,
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
            SocketAddrV4::new(Ipv4Addr::BROADCAST, 53),
            vec![0; 40],
        )
        .to_frame();
        assert!(matches!(
            link.answer(&mut e, Instant::from_secs(1), &dns).unwrap(),
            FrameAnswer::NotForUs
        ));
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&mac.octets());
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        assert!(matches!(
            link.answer(&mut e, Instant::from_secs(1), &arp).unwrap(),
            FrameAnswer::NotForUs
        ));
        // A truncated DHCP payload and a truncated frame: reported, not fatal.
        let short = Datagram::new(
            mac,
            BROADCAST_MAC,
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
            SocketAddrV4::new(Ipv4Addr::BROADCAST, 67),
            vec![1, 1, 6, 0, 1, 2],
        )
        .to_frame();
        assert!(matches!(
            link.answer(&mut e, Instant::from_secs(1), &short).unwrap(),
            FrameAnswer::Malformed(_)
        ));
        assert!(matches!(
            link.answer(&mut e, Instant::from_secs(1), &short[..20])
                .unwrap(),
            FrameAnswer::Malformed(_)
        ));
    }
}

/// A lease the shell could not write is taken back, so memory agrees with the file (Kea
/// writes first and inserts after); a lease changed again since is left alone.
#[test]
fn changes_the_shell_could_not_record_are_undone() {
    let mut e = engine();
    let (offer, _) = reply(&mut e, 10, query(1, 1, BIOS));
    e.take_changes();
    reply(&mut e, 11, request(1, offer.yiaddr, Some(SERVER)));
    let failed = e.take_changes();
    assert_eq!(failed.len(), 1);
    e.undo(&failed);
    assert!(
        e.leases().get(offer.yiaddr).is_none(),
        "the ACKed lease went back"
    );
    // Stored this time; then a renewal that cannot be written leaves the stored lease.
    reply(&mut e, 12, request(1, offer.yiaddr, Some(SERVER)));
    let stored = e.leases().get(offer.yiaddr).cloned().expect("stored");
    e.take_changes();
    reply(&mut e, 500, request(1, offer.yiaddr, Some(SERVER)));
    let renewal = e.take_changes();
    assert_eq!(e.leases().get(offer.yiaddr).unwrap().cltt, 500);
    e.undo(&renewal);
    assert_eq!(e.leases().get(offer.yiaddr), Some(&stored));
}
