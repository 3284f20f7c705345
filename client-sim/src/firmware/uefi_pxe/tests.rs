//! The DHCP phase against scripted servers, on a virtual clock.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use netbootd::time::Instant;

use netbootd::wire::dhcp::Message;
use netbootd::wire::frame::Datagram;
use netbootd::wire::MacAddr;

use super::dhcp::{DhcpPhase, Event};
use super::packets::{Arch, Identity, Undi};
use super::PxeError;

const SERVER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);

fn client() -> Identity {
    Identity {
        mac: MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
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
        MacAddr::BROADCAST,
        SocketAddrV4::new(SERVER, 67),
        SocketAddrV4::new(Ipv4Addr::BROADCAST, 68),
        m.encode(),
    )
}

/// Runs the phase to its end; `server` answers each datagram the client sends.
fn run(
    server: impl Fn(&Message, &Datagram) -> Vec<Datagram>,
) -> (DhcpPhase, Vec<(Instant, String, u16)>) {
    let mut phase = DhcpPhase::new(client(), 0x1000, Duration::from_millis(120));
    let mut now = Instant::ZERO;
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

fn ms(v: u64) -> Instant {
    Instant::from_millis(v)
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
    let times: Vec<(Instant, u16)> = sent.iter().map(|(t, _, s)| (*t, *s)).collect();
    assert_eq!(
        times,
        [(ms(0), 0), (ms(3120), 4), (ms(11120), 12), (ms(27120), 28)]
    );
    assert_eq!(phase.outcome(), Some(&Err(PxeError::E18)));
    assert_eq!(phase.poll_timeout(), None);
    let last = phase.drain_events().next_back().unwrap();
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
    let binl: Vec<(Instant, u16)> = sent
        .iter()
        .filter(|(_, k, _)| k == "BINL")
        .map(|(t, _, s)| (Instant::ZERO + (*t - ms(3120)), *s))
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

mod tftp {
    use super::*;
    use crate::firmware::uefi_pxe::tftp::{Endpoints, Event as TftpEvent, TftpPhase};

    const STATION: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 2);

    fn phase() -> TftpPhase {
        let ep = Endpoints {
            mac: MacAddr([2, 0, 0, 0, 0, 2]),
            station: STATION,
            server: SERVER,
            server_mac: SERVER_MAC,
            first_port: 1568,
            server_port: 69,
        };
        TftpPhase::new(ep, "ipxe.efi".into(), None)
    }

    fn from_server(port: u16, to: u16, payload: Vec<u8>) -> Datagram {
        Datagram::new(
            SERVER_MAC,
            MacAddr([2, 0, 0, 0, 0, 2]),
            SocketAddrV4::new(SERVER, port),
            SocketAddrV4::new(STATION, to),
            payload,
        )
    }

    fn oack(options: &[(&str, &str)]) -> Vec<u8> {
        let mut p = vec![0, 6];
        for (k, v) in options {
            p.extend_from_slice(k.as_bytes());
            p.push(0);
            p.extend_from_slice(v.as_bytes());
            p.push(0);
        }
        p
    }

    fn data(block: u16, len: usize) -> Vec<u8> {
        let mut p = vec![0, 3];
        p.extend_from_slice(&block.to_be_bytes());
        p.extend(std::iter::repeat_n(block as u8, len));
        p
    }

    fn sent(p: &mut TftpPhase) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| p.poll_transmit())
            .map(|d| d.payload.into())
            .collect()
    }

    #[test]
    fn probe_and_window_of_four_as_ovmf_sends_them() {
        let mut p = phase();
        p.start(ms(0));
        let rrq = sent(&mut p);
        assert_eq!(
            rrq,
            [b"\x00\x01ipxe.efi\0octet\0tsize\x000\0blksize\x001468\0windowsize\x004\0".to_vec()]
        );
        p.handle(
            ms(1),
            &from_server(
                4000,
                1568,
                oack(&[("tsize", "5000"), ("blksize", "1468"), ("windowsize", "4")]),
            ),
        );
        let out = sent(&mut p);
        assert_eq!(
            out[0],
            b"\x00\x05\x00\x08User aborted the transfer\0".to_vec()
        );
        assert_eq!(
            out[1],
            b"\x00\x01ipxe.efi\0octet\0blksize\x001468\0windowsize\x004\0".to_vec()
        );
        p.handle(
            ms(2),
            &from_server(
                4001,
                1569,
                oack(&[("blksize", "1468"), ("windowsize", "4")]),
            ),
        );
        assert_eq!(sent(&mut p), [vec![0, 4, 0, 0]]);
        // 5000 bytes = 3 full blocks + 596: one window of 4, ACKed once at the last block.
        for b in 1..=3 {
            p.handle(ms(3), &from_server(4001, 1569, data(b, 1468)));
            assert!(sent(&mut p).is_empty(), "no ACK inside the window");
        }
        p.handle(ms(4), &from_server(4001, 1569, data(4, 596)));
        assert_eq!(sent(&mut p), [vec![0, 4, 0, 4]]);
        assert_eq!(p.outcome().unwrap().as_ref().unwrap().len(), 5000);
    }

    #[test]
    fn an_out_of_order_block_is_acked_back_at_once() {
        let mut p = phase();
        p.start(ms(0));
        p.handle(ms(1), &from_server(4000, 1568, oack(&[("tsize", "9000")])));
        sent(&mut p);
        p.handle(
            ms(2),
            &from_server(4001, 1569, oack(&[("blksize", "1468")])),
        );
        sent(&mut p);
        p.handle(ms(3), &from_server(4001, 1569, data(2, 1468)));
        assert_eq!(sent(&mut p), [vec![0, 4, 0, 0]]);
    }

    #[test]
    fn an_oack_with_tsize_on_the_download_is_malformed() {
        let mut p = phase();
        p.start(ms(0));
        p.handle(ms(1), &from_server(4000, 1568, oack(&[("tsize", "10")])));
        sent(&mut p);
        p.handle(ms(2), &from_server(4001, 1569, oack(&[("tsize", "10")])));
        assert_eq!(
            sent(&mut p),
            [b"\x00\x05\x00\x08Malformatted OACK packet\0".to_vec()]
        );
        assert!(matches!(p.outcome(), Some(Err(PxeError::E23(_)))));
    }

    #[test]
    fn an_oack_without_tsize_is_e53_and_data_to_the_probe_is_e99() {
        let mut p = phase();
        p.start(ms(0));
        p.handle(
            ms(1),
            &from_server(4000, 1568, oack(&[("blksize", "1468")])),
        );
        assert_eq!(p.outcome(), Some(&Err(PxeError::E53)));

        let mut p = phase();
        p.start(ms(0));
        p.handle(ms(1), &from_server(4000, 1568, data(1, 10)));
        assert_eq!(
            sent(&mut p)[1],
            b"\x00\x05\x00\x04User aborted download\0".to_vec()
        );
        assert!(matches!(p.outcome(), Some(Err(PxeError::E99(_)))));
    }

    #[test]
    fn silence_is_six_tries_four_seconds_apart_then_e18() {
        let mut p = phase();
        p.start(ms(0));
        let mut times = vec![];
        while p.outcome().is_none() {
            let t = p.poll_timeout().unwrap();
            p.handle_timeout(t);
            times.push(t);
        }
        assert_eq!(times.last(), Some(&ms(24_000)));
        let resent = p
            .drain_events()
            .filter(|e| matches!(e, TftpEvent::Sent { what, .. } if what.to_string() == "retransmission"))
            .count();
        assert_eq!(resent, 5);
        assert_eq!(p.outcome(), Some(&Err(PxeError::E18)));
    }
}

mod whole_boot {
    use super::*;
    use crate::firmware::uefi_pxe::UefiPxe;

    /// A DHCP server handing out ipxe.efi and a TFTP server with options support, scripted.
    fn network(image: &[u8], m: &Message, d: &Datagram) -> Vec<Datagram> {
        if d.dst.port() == 67 {
            return match m.message_type() {
                Some(1) => vec![reply(m, 2, [192, 168, 1, 2], &[(67, b"ipxe.efi")])],
                Some(3) => vec![reply(m, 5, [192, 168, 1, 2], &[(67, b"ipxe.efi")])],
                _ => vec![],
            };
        }
        let to = d.src;
        let from = SocketAddrV4::new(SERVER, 5000 + d.src.port());
        let out = |payload: Vec<u8>| {
            vec![Datagram::new(
                SERVER_MAC,
                MacAddr([2; 6]),
                from,
                to,
                payload,
            )]
        };
        let p = &d.payload;
        match u16::from_be_bytes([p[0], p[1]]) {
            1 if p.windows(5).any(|w| w == b"tsize") => {
                let mut o = b"\x00\x06tsize\x00".to_vec();
                o.extend_from_slice(image.len().to_string().as_bytes());
                o.extend_from_slice(b"\x00blksize\x001468\x00");
                out(o)
            }
            1 => out(b"\x00\x06blksize\x001468\x00windowsize\x004\x00".to_vec()),
            4 => {
                let acked = usize::from(u16::from_be_bytes([p[2], p[3]]));
                let mut replies = vec![];
                for block in acked + 1..=acked + 4 {
                    let start = (block - 1) * 1468;
                    if start > image.len() {
                        break;
                    }
                    let end = (start + 1468).min(image.len());
                    let mut data = vec![0, 3];
                    data.extend_from_slice(&(block as u16).to_be_bytes());
                    data.extend_from_slice(&image[start..end]);
                    replies.extend(out(data));
                    if end - start < 1468 {
                        break;
                    }
                }
                replies
            }
            _ => vec![],
        }
    }

    #[test]
    fn the_console_reads_as_ovmf_prints_it() {
        let image: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut pxe = UefiPxe::new(client(), 0x42, Duration::from_millis(120));
        let mut now = Instant::ZERO;
        pxe.start(now);
        for _ in 0..1000 {
            while let Some(d) = pxe.poll_transmit() {
                let m = Message::decode(&d.payload).unwrap_or_default();
                for r in network(&image, &m, &d) {
                    pxe.handle(now, &r);
                }
            }
            if pxe.outcome().is_some() {
                break;
            }
            now = pxe.poll_timeout().unwrap();
            pxe.handle_timeout(now);
        }
        let nbp = pxe.outcome().unwrap().as_ref().unwrap();
        assert_eq!(nbp.bytes, image.into());
        let console: Vec<&str> = pxe.console().iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            console,
            [
                ">>Start PXE over IPv4.",
                "  Station IP address is 192.168.1.2",
                "  Server IP address is 192.168.1.1",
                "  NBP filename is ipxe.efi",
                "  NBP filesize is 10000 Bytes",
                " Downloading NBP file...",
                "  NBP file downloaded successfully."
            ]
        );
        let sent: Vec<String> = pxe.sent().iter().map(|s| s.what.to_string()).collect();
        assert_eq!(
            sent,
            [
                "DHCPDISCOVER",
                "DHCPREQUEST",
                "RRQ (size probe)",
                "ERROR 8",
                "RRQ",
                "ACK 0",
                "ACK 4",
                "ACK 7"
            ]
        );
    }
}
