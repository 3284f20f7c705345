//! The DHCP phase against scripted servers, on a virtual clock.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use netbootd::wire::dhcp::Message;
use netbootd::wire::frame::Datagram;

use super::dhcp::{DhcpPhase, Event};
use super::packets::{Arch, Identity, Undi};
use super::PxeError;

const SERVER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);

fn client() -> Identity {
    Identity {
        mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
        arch: Arch::X64,
        undi: Undi::default(),
        uuid: [7; 16],
    }
}

/// A reply from the scripted server to `query`.
fn reply(query: &Message, kind: u8, yiaddr: [u8; 4], extra: &[(u8, &[u8])]) -> Datagram {
    let mut m = Message {
        op: 2,
        xid: query.xid,
        flags: query.flags,
        yiaddr: Ipv4Addr::from(yiaddr),
        siaddr: SERVER,
        chaddr: query.chaddr,
        ..Message::default()
    };
    m.options.push(53, &[kind]);
    m.options.push(54, &SERVER.octets());
    for (code, data) in extra {
        m.options.push(*code, data);
    }
    m.options.end();
    Datagram::new(
        SERVER_MAC,
        [0xff; 6],
        SocketAddrV4::new(SERVER, 67),
        SocketAddrV4::new(Ipv4Addr::BROADCAST, 68),
        m.encode(),
    )
}

/// Runs the phase to its end; `server` answers each datagram the client sends.
fn run(
    server: impl Fn(&Message, &Datagram) -> Vec<Datagram>,
) -> (DhcpPhase, Vec<(Duration, String, u16)>) {
    let mut phase = DhcpPhase::new(client(), 0x1000, Duration::from_millis(120));
    let mut now = Duration::ZERO;
    let mut sent = Vec::new();
    phase.start(now);
    for _ in 0..100 {
        while let Some(d) = phase.poll_transmit() {
            let m = Message::decode(&d.payload).unwrap();
            let kind = match (m.message_type(), d.dst.port()) {
                (_, 4011) => "BINL".to_string(),
                (Some(1), _) => "DISCOVER".to_string(),
                (Some(3), _) => "REQUEST".to_string(),
                (t, _) => format!("{t:?}"),
            };
            sent.push((now, kind, m.secs));
            for r in server(&m, &d) {
                phase.handle(now, &r);
            }
        }
        if phase.outcome().is_some() {
            break;
        }
        let Some(t) = phase.poll_timeout() else { break };
        now = t;
        phase.handle_timeout(now);
    }
    (phase, sent)
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

#[test]
fn guide_server_boots_with_one_dora_and_edk2_timing() {
    let (mut phase, sent) = run(|m, _| match m.message_type() {
        Some(1) => vec![reply(m, 2, [192, 168, 1, 2], &[(67, b"ipxe.efi")])],
        Some(3) => vec![reply(m, 5, [192, 168, 1, 2], &[(67, b"ipxe.efi")])],
        _ => vec![],
    });
    let info = phase.outcome().unwrap().clone().unwrap();
    assert_eq!(info.file, "ipxe.efi");
    assert_eq!(info.server, SERVER);
    assert_eq!(info.station, Ipv4Addr::new(192, 168, 1, 2));
    // OBSERVED: the REQUEST leaves 3.12 s after the DISCOVER, with the DISCOVER's secs.
    assert_eq!(
        sent,
        [
            (ms(0), "DISCOVER".to_string(), 0),
            (ms(3120), "REQUEST".to_string(), 0)
        ]
    );
    let console: Vec<String> = phase
        .drain_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Console { line, .. } => Some(line),
            _ => None,
        })
        .collect();
    assert_eq!(
        console,
        [
            ">>Start PXE over IPv4.",
            "  Station IP address is 192.168.1.2",
            "  Server IP address is 192.168.1.1",
            "  NBP filename is ipxe.efi"
        ]
    );
}

#[test]
fn silence_retransmits_at_0_4_12_28_then_e18_at_60() {
    let (mut phase, sent) = run(|_, _| vec![]);
    let times: Vec<(Duration, u16)> = sent.iter().map(|(t, _, s)| (*t, *s)).collect();
    assert_eq!(
        times,
        [(ms(0), 0), (ms(3120), 4), (ms(11120), 12), (ms(27120), 28)]
    );
    assert_eq!(phase.outcome(), Some(&Err(PxeError::E18)));
    assert_eq!(phase.poll_timeout(), None);
    let last = phase.drain_events().pop().unwrap();
    assert_eq!(
        last,
        Event::Console {
            at: ms(59120),
            line: "  PXE-E18: Server response timeout.".into()
        }
    );
}

#[test]
fn an_offer_without_boot_file_keeps_it_waiting_then_e16() {
    let (phase, sent) = run(|m, _| match m.message_type() {
        Some(1) => vec![reply(m, 2, [192, 168, 1, 2], &[])],
        _ => vec![],
    });
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert_eq!(phase.outcome(), Some(&Err(PxeError::E16)));
}

#[test]
fn echoed_pxeclient_leads_to_4011_and_e16() {
    // firmware.md A.6 OBSERVED (capD): requests at +0, +1, +3, +6 s, then PXE-E16.
    let (phase, sent) = run(|m, _| match m.message_type() {
        Some(1) => vec![reply(
            m,
            2,
            [192, 168, 1, 2],
            &[(60, b"PXEClient"), (67, b"ipxe.efi")],
        )],
        Some(3) if m.secs == 0 && m.ciaddr.is_unspecified() => {
            vec![reply(
                m,
                5,
                [192, 168, 1, 2],
                &[(60, b"PXEClient"), (67, b"ipxe.efi")],
            )]
        }
        _ => vec![],
    });
    let binl: Vec<(Duration, u16)> = sent
        .iter()
        .filter(|(_, k, _)| k == "BINL")
        .map(|(t, _, s)| (*t - ms(3120), *s))
        .collect();
    assert_eq!(
        binl,
        [(ms(0), 0), (ms(1000), 1), (ms(3000), 2), (ms(6000), 3)]
    );
    assert_eq!(phase.outcome(), Some(&Err(PxeError::E16)));
}

#[test]
fn nak_is_e07() {
    let (phase, _) = run(|m, _| match m.message_type() {
        Some(1) => vec![reply(m, 2, [192, 168, 1, 2], &[(67, b"x")])],
        Some(3) => vec![reply(m, 6, [0, 0, 0, 0], &[])],
        _ => vec![],
    });
    assert!(matches!(phase.outcome(), Some(Err(PxeError::E07(_)))));
}

#[test]
fn an_ack_for_another_address_is_declined() {
    let (phase, _) = run(|m, _| match m.message_type() {
        Some(1) => vec![reply(m, 2, [192, 168, 1, 2], &[(67, b"x")])],
        Some(3) => vec![reply(m, 5, [192, 168, 1, 9], &[(67, b"x")])],
        _ => vec![],
    });
    assert!(matches!(phase.outcome(), Some(Err(PxeError::E07(_)))));
}
