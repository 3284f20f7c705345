//! Differential test: real Kea 2.2 and netbootd, each serving the guide's kea-dhcp4.conf on a
//! veth in a namespace, answer the same DISCOVERs (EDK2 UEFI x64, iPXE, BIOS); the OFFERs must
//! agree field by field and option by option.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use netbootd::wire::dhcp::Message;
use support::netns::{self, Netns};

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config(dir: &Path, iface: &str, logger_key: &str, edit: fn(String) -> String) -> PathBuf {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/seed/kea-dhcp4.conf");
    let text = edit(std::fs::read_to_string(seed).unwrap())
        .replace("\"eth1\"", &format!("\"{iface}\""))
        .replace("output-options", logger_key)
        .replace(
            "\"type\": \"memfile\",",
            &format!(
                "\"type\": \"memfile\", \"name\": \"{}\",",
                dir.join("kea-leases4.csv").display()
            ),
        )
        .replace(
            "\"kea4-ctrl-socket\"",
            &format!("\"{}\"", dir.join("kea4-ctrl-socket").display()),
        );
    let path = dir.join(format!("{logger_key}.conf"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts a server in `ns` and waits until a line of its output contains `ready`.
fn start(ns: &Netns, program: &str, args: &[&str], env_dir: &Path, ready: &str) -> Guard {
    let mut child = ns
        .command(program)
        .args(args)
        .env("KEA_LOCKFILE_DIR", env_dir)
        .env("KEA_PIDFILE_DIR", env_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("server starts");
    let (tx, rx) = std::sync::mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        let ready = ready.to_string();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if line.contains(&ready) {
                    let _ = tx.send(());
                }
            }
        });
    }
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{program} never said {ready}"));
    std::thread::sleep(Duration::from_millis(300));
    Guard(child)
}

fn discover(mac: u8, options: &[(u8, &[u8])]) -> Message {
    let mut m = Message {
        xid: 0xabc0_0000 + u32::from(mac),
        flags: 0x8000,
        secs: 4,
        ..Message::default()
    };
    m.chaddr[..6].copy_from_slice(&[0x52, 0x54, 0, 0x99, 0, mac]);
    m.options.push(53, &[1]);
    for (code, data) in options {
        m.options.push(*code, data);
    }
    m.options.end();
    m
}

/// EDK2's DISCOVER identity options (firmware.md A.3), iPXE's, a BIOS PXE ROM's.
fn clients() -> Vec<(&'static str, Message)> {
    let prl: &[u8] = &[
        1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60,
        66, 67, 128, 129, 130, 131, 132, 133, 134, 135,
    ];
    vec![
        (
            "uefi-x64",
            discover(
                1,
                &[
                    (57, &[5, 192]),
                    (55, prl),
                    (97, &[0; 17]),
                    (94, &[1, 3, 16]),
                    (93, &[0, 7]),
                    (60, b"PXEClient:Arch:00007:UNDI:003016"),
                ],
            ),
        ),
        (
            "ipxe-efi",
            discover(
                2,
                &[
                    (57, &[5, 192]),
                    (93, &[0, 7]),
                    (94, &[1, 3, 10]),
                    (60, b"PXEClient:Arch:00007:UNDI:003010"),
                    (77, b"iPXE"),
                    (
                        55,
                        &[
                            1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131,
                            132, 133, 134, 135, 175, 203,
                        ],
                    ),
                    (175, &[177, 5, 1, 128, 134, 16, 14]),
                ],
            ),
        ),
        (
            "bios",
            discover(
                3,
                &[
                    (57, &[4, 236]),
                    (93, &[0, 0]),
                    (94, &[1, 2, 1]),
                    (60, b"PXEClient:Arch:00000:UNDI:002001"),
                    (55, prl),
                ],
            ),
        ),
    ]
}

/// Sends each DISCOVER from the client namespace and collects the OFFER.
fn exchange(client: &Netns, iface: &'static str) -> Vec<(String, Message)> {
    client.enter(move || {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        socket.set_reuse_address(true).unwrap();
        socket.set_broadcast(true).unwrap();
        socket.bind_device(Some(iface.as_bytes())).unwrap();
        socket
            .bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68).into())
            .unwrap();
        let socket: UdpSocket = socket.into();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut out = Vec::new();
        for (name, msg) in clients() {
            socket
                .send_to(&msg.encode(), SocketAddrV4::new(Ipv4Addr::BROADCAST, 67))
                .unwrap();
            let mut buf = [0u8; 1500];
            loop {
                let (n, _) = socket.recv_from(&mut buf).expect("an OFFER");
                let reply = Message::decode(&buf[..n]).unwrap();
                if reply.op == 2 && reply.xid == msg.xid {
                    out.push((name.to_string(), reply));
                    break;
                }
            }
        }
        out
    })
}

/// The OFFERs real Kea and netbootd give the three firmware for the seed config changed by
/// `edit`, and every difference between them.
type Offers = Vec<(String, Message)>;

fn offers(edit: fn(String) -> String) -> (Offers, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let server = Netns::new("s");
    let client = Netns::new("c");
    netns::veth(
        &server,
        "nbs1",
        Some("192.168.1.1/28"),
        &client,
        "nbc1",
        None,
    );

    let kea_conf = config(dir.path(), "nbs1", "output_options", edit);
    let kea = start(
        &server,
        "kea-dhcp4",
        &["-c", kea_conf.to_str().unwrap()],
        dir.path(),
        "DHCP4_STARTED",
    );
    let from_kea = exchange(&client, "nbc1");
    drop(kea);

    let ours_dir = tempfile::tempdir().unwrap();
    let our_conf = config(ours_dir.path(), "nbs1", "output-options", edit);
    let ours = start(
        &server,
        env!("CARGO_BIN_EXE_netbootd"),
        &["serve", "--config", our_conf.to_str().unwrap()],
        ours_dir.path(),
        "DHCP4_STARTED",
    );
    let from_us = exchange(&client, "nbc1");
    drop(ours);

    let mut differences = Vec::new();
    for ((name, k), (_, o)) in from_kea.iter().zip(&from_us) {
        let fields = |m: &Message| {
            format!(
                "op={} htype={} hlen={} hops={} secs={} flags={:#x} ciaddr={} yiaddr={} siaddr={} giaddr={} sname={:?} file={:?}",
                m.op, m.htype, m.hlen, m.hops, m.secs, m.flags, m.ciaddr, m.yiaddr, m.siaddr, m.giaddr,
                m.server_name(), m.file_name()
            )
        };
        if fields(k) != fields(o) {
            differences.push(format!("{name}:\n  kea {}\n  our {}", fields(k), fields(o)));
        }
        let options = |m: &Message| {
            m.options
                .codes()
                .into_iter()
                .map(|c| format!("{c}={:02x?}", m.option(c).unwrap_or_default()))
                .collect::<Vec<_>>()
        };
        eprintln!("{name}: {}\n  {:?}", fields(k), options(k));
        if options(k) != options(o) {
            differences.push(format!(
                "{name} options:\n  kea {:?}\n  our {:?}",
                options(k),
                options(o)
            ));
        }
    }
    assert_eq!(from_kea.len(), 3);
    assert_eq!(from_us.len(), 3);
    (from_kea, differences)
}

#[test]
fn offers_match_real_kea_field_by_field() {
    if !support::require_tool("kea-dhcp4") || !netns::available() {
        return;
    }
    let (from_kea, differences) = offers(|text| text);
    assert_eq!(from_kea[0].1.file_name().as_deref(), Some("ipxe.efi"));
    assert_eq!(from_kea[1].1.file_name().as_deref(), Some("refind.pxe"));
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// A class the subnet requires (only-if-required, require-client-classes) is evaluated once
/// the address is chosen and its options join the answer, as Kea's requiredClassify does.
#[test]
fn required_classes_answer_as_real_kea_does() {
    if !support::require_tool("kea-dhcp4") || !netns::available() {
        return;
    }
    let (from_kea, differences) = offers(|text| {
        text.replace(
            "\"client-classes\": [",
            "\"client-classes\": [ { \"name\": \"uefi-required\", \"only-if-required\": true, \
             \"test\": \"option[client-system].hex == 0x0007\", \
             \"option-data\": [ { \"name\": \"domain-name\", \"data\": \"required.example\" } ] },",
        )
        .replace(
            "\"subnet\": \"192.168.1.0/28\",",
            "\"subnet\": \"192.168.1.0/28\", \"require-client-classes\": [ \"uefi-required\" ],",
        )
    });
    // Kea gives the UEFI machines (client-system 7) the required class's option, not BIOS.
    assert_eq!(
        from_kea[0].1.option(15).as_deref(),
        Some(&b"required.example"[..])
    );
    assert_eq!(from_kea[2].1.option(15), None);
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
