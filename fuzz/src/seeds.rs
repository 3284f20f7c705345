//! Seed inputs for every target: built from the repository's fixtures and from messages the
//! firmware models send, plus (when given) the shared corpus of real public files, read where
//! it lies and never copied into the repository.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::time::Duration;

use netbootd::wire::dhcp::Message;
use netbootd::wire::frame::Datagram;
use netbootd::wire::pcap::CaptureWriter;
use netbootd::wire::MacAddr;

use crate::targets::fixtures;
use crate::{join, SEPARATOR};

/// One seed: a name (its file name in AFL's input directory) and its bytes.
pub type Seed = (String, Vec<u8>);

/// The seeds of `target` from the repository alone.
pub fn builtin(target: &str) -> Vec<Seed> {
    match target {
        "dhcp_engine" => dhcp(),
        "tftp_engine" => tftp(),
        "kea_config" => files(&[
            "seed",
            "broken",
            "relay",
            "storm",
            "kea/public",
            "kea/cases",
        ]),
        "kea_expr" => expressions(),
        "tftpd_defaults" => defaults(),
        "tftp_remap" => remap(),
        "ipxe_script" => {
            let mut seeds = files(&["ipxe"]);
            seeds.retain(|(name, _)| name.ends_with(".ipxe"));
            seeds.extend(read(&fixtures().join("seed/refind.pxe")));
            seeds
        }
        "refind_conf" => read(&fixtures().join("seed/refind.conf"))
            .into_iter()
            .collect(),
        "capture" => vec![("dora.pcap".into(), dora_pcap())],
        "lease_csv" => leases(),
        _ => Vec::new(),
    }
}

/// The seeds of `target` from the shared corpus at `corpus` (files up to 256 KiB: AFL
/// mutates small inputs faster).
pub fn from_corpus(target: &str, corpus: &Path) -> Vec<Seed> {
    let dir = match target {
        "kea_config" => "kea-configs",
        "ipxe_script" => "ipxe-scripts",
        "refind_conf" => "refind-confs",
        "capture" => "field-pcaps",
        "dhcp_engine" => return dhcp_from_captures(&corpus.join("field-pcaps")),
        _ => return Vec::new(),
    };
    let mut seeds = listing(&corpus.join(dir));
    seeds.retain(|(name, bytes)| !name.ends_with(".tsv") && bytes.len() <= 256 << 10);
    seeds
}

/// Every file under `dirs` (relative to fixtures/), named by its path.
fn files(dirs: &[&str]) -> Vec<Seed> {
    dirs.iter()
        .flat_map(|d| listing(&fixtures().join(d)))
        .filter(|(name, _)| !name.ends_with(".md"))
        .collect()
}

fn listing(dir: &Path) -> Vec<Seed> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    paths
        .iter()
        .filter(|p| p.is_file())
        .flat_map(|p| read(p))
        .collect()
}

fn read(path: &Path) -> Option<Seed> {
    let bytes = std::fs::read(path).ok()?;
    let parent = path.parent()?.file_name()?.to_string_lossy();
    let name = path.file_name()?.to_string_lossy();
    Some((format!("{parent}-{name}"), bytes))
}

const MAC: MacAddr = MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]);

fn query(kind: u8, options: &[(u8, &[u8])], edit: impl FnOnce(&mut Message)) -> Vec<u8> {
    let mut m = Message {
        xid: 0x1234,
        flags: 0x8000,
        ..Message::default()
    };
    m.chaddr[..6].copy_from_slice(MAC.as_bytes());
    m.options.push(53, &[kind]);
    for (code, data) in options {
        m.options.push(*code, data);
    }
    edit(&mut m);
    m.options.end();
    m.encode()
}

const UEFI: &[(u8, &[u8])] = &[
    (55, &[1, 3, 6, 66, 67]),
    (60, b"PXEClient:Arch:00007:UNDI:003016"),
    (93, &[0, 7]),
    (94, &[1, 3, 16]),
    (97, &[0, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7]),
];
const IPXE: &[(u8, &[u8])] = &[
    (55, &[1, 3, 6, 66, 67, 175]),
    (60, b"PXEClient:Arch:00007:UNDI:003010"),
    (77, b"iPXE"),
    (93, &[0, 7]),
    (175, &[177, 5, 1, 128, 134, 16, 14]),
];
const BIOS: &[(u8, &[u8])] = &[(60, b"PXEClient:Arch:00000:UNDI:002001"), (93, &[0, 0])];
const OFFERED: [u8; 4] = [192, 168, 1, 2];

/// A record of `dhcp_engine`: flags (payload, broadcast, no time) and the bytes.
fn record(flags: u8, bytes: Vec<u8>) -> Vec<u8> {
    let mut r = vec![flags];
    r.extend(bytes);
    r
}

fn dhcp() -> Vec<Seed> {
    let dora = |opts: &'static [(u8, &[u8])]| {
        vec![
            record(0, query(1, opts, |_| {})),
            record(0, query(3, opts, |m| m.options.push(50, &OFFERED))),
            record(
                4 | 2,
                query(3, opts, |m| m.ciaddr = Ipv4Addr::from(OFFERED)),
            ),
            record(2, query(7, &[], |m| m.ciaddr = Ipv4Addr::from(OFFERED))),
        ]
    };
    let relayed = vec![record(
        0,
        query(1, UEFI, |m| {
            m.giaddr = Ipv4Addr::new(10, 1, 0, 1);
            m.hops = 1;
            m.options
                .push(82, &[1, 4, 0, 0, 0, 1, 2, 6, 1, 2, 3, 4, 5, 6]);
        }),
    )];
    let decline = vec![
        record(0, query(1, BIOS, |_| {})),
        record(
            0,
            query(4, &[(50, &OFFERED), (54, &[192, 168, 1, 1])], |_| {}),
        ),
        record(0, query(8, &[], |m| m.ciaddr = Ipv4Addr::from(OFFERED))),
    ];
    let frame = Datagram::new(
        MAC,
        MacAddr::BROADCAST,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
        SocketAddrV4::new(Ipv4Addr::BROADCAST, 67),
        query(1, IPXE, |_| {}),
    )
    .to_frame();
    let mut seeds = Vec::new();
    for pick in [0u8, 1] {
        let with = |records: Vec<Vec<u8>>| {
            let mut input = vec![pick];
            input.extend(join(&records));
            input
        };
        seeds.push((format!("uefi-dora-{pick}"), with(dora(UEFI))));
        seeds.push((format!("ipxe-dora-{pick}"), with(dora(IPXE))));
        seeds.push((format!("bios-decline-{pick}"), with(decline.clone())));
        seeds.push((format!("relayed-{pick}"), with(relayed.clone())));
        seeds.push((
            format!("frame-{pick}"),
            with(vec![record(1, frame.clone())]),
        ));
    }
    seeds
}

/// DHCP payloads of real captures, each capture one input of up to 64 records.
fn dhcp_from_captures(dir: &Path) -> Vec<Seed> {
    let mut seeds = Vec::new();
    for (name, bytes) in listing(dir) {
        let Ok(capture) = bootsim::capture::read::read_bytes(&name, &bytes) else {
            continue;
        };
        let records: Vec<Vec<u8>> = capture
            .packets
            .iter()
            .filter_map(|p| match &p.ip.body {
                bootsim::capture::read::Transport::Udp {
                    dst_port: 67 | 4011,
                    payload,
                    ..
                } => Some(record(0, payload.clone())),
                _ => None,
            })
            .take(64)
            .collect();
        if !records.is_empty() {
            let mut input = vec![0];
            input.extend(join(&records));
            seeds.push((format!("dhcp-{name}"), input));
        }
    }
    seeds
}

/// A `tftp_engine` record: port selector and time bits in `flags`, then the packet.
fn tftp_record(flags: u8, packet: &[u8]) -> Vec<u8> {
    record(flags, packet.to_vec())
}

fn tftp() -> Vec<Seed> {
    let ack = |block: u16| {
        let mut p = vec![0, 4];
        p.extend(block.to_be_bytes());
        p
    };
    let mut read = vec![tftp_record(
        0,
        b"\0\x01ipxe.efi\0octet\0blksize\x001468\0tsize\x000\0windowsize\x004\0",
    )];
    read.push(tftp_record(1, &ack(0)));
    read.extend((1..=4).map(|b| tftp_record(1, &ack(b))));
    let mut small = vec![tftp_record(0, b"\0\x01ipxe.efi\0octet\0")];
    small.extend((1..=10).map(|b| tftp_record(1, &ack(b))));
    let mut write = vec![tftp_record(0, b"\0\x02upload.log\0octet\0tsize\x00600\0")];
    let mut data = vec![0, 3, 0, 1];
    data.extend(vec![b'u'; 512]);
    write.push(tftp_record(1, &data));
    write.push(tftp_record(1, &[0, 3, 0, 2, b'e', b'n', b'd']));
    let mixed = vec![
        tftp_record(0, b"\0\x01/boot/grub.cfg\0netascii\0"),
        tftp_record(8, b"\0\x01a.txt\0netascii\0timeout\x001\0"),
        tftp_record(1, &ack(1)),
        tftp_record(2, &[0, 5, 0, 0, b'x', 0]),
        tftp_record(0x20, b"\0\x01missing\0octet\0"),
        tftp_record(0, b"\0\x01PXElinux\0octet\0"),
        tftp_record(0, b"\0\x01../etc/passwd\0octet\0"),
        tftp_record(0xe0, b"\0\x01empty\0mail\0"),
    ];
    let mut seeds = Vec::new();
    for pick in [0u8, 7] {
        for (name, records) in [
            ("read", &read),
            ("small", &small),
            ("write", &write),
            ("mixed", &mixed),
        ] {
            let mut input = vec![pick];
            input.extend(join(records));
            seeds.push((format!("{name}-{pick}"), input));
        }
    }
    seeds
}

fn expressions() -> Vec<Seed> {
    let text =
        std::fs::read_to_string(fixtures().join("kea/expr/expressions.txt")).unwrap_or_default();
    let packet = query(1, IPXE, |m| m.giaddr = Ipv4Addr::new(192, 0, 2, 1));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .enumerate()
        .map(|(i, l)| {
            let mut input = l.as_bytes().to_vec();
            input.extend_from_slice(SEPARATOR);
            input.extend_from_slice(&packet);
            (format!("expr-{i:03}"), input)
        })
        .collect()
}

fn defaults() -> Vec<Seed> {
    let mut seeds: Vec<Seed> = read(&fixtures().join("seed/tftpd-hpa"))
        .into_iter()
        .collect();
    seeds.push((
        "options".into(),
        b"TFTP_USERNAME=tftp\nTFTP_DIRECTORY='/srv/tftp'\nTFTP_ADDRESS=\"[::]:69\"\n\
          TFTP_OPTIONS=\"-s -c -l -B 1468 -R 4000:4100 -T 500000 -m /etc/map -r tsize -vvv\"\n"
            .to_vec(),
    ));
    seeds
}

fn remap() -> Vec<Seed> {
    let names: [&[u8]; 5] = [
        b"\0PXElinux.0",
        b"\x01upload",
        b"\0\\boot\\x.efi",
        b"\x02deny",
        b"\0a.old",
    ];
    let mut input = crate::targets::TFTP_MAP.as_bytes().to_vec();
    for n in names {
        input.extend_from_slice(SEPARATOR);
        input.extend_from_slice(n);
    }
    vec![("map".into(), input)]
}

/// A DORA of a UEFI client as netbootd's `--pcap` writes it.
fn dora_pcap() -> Vec<u8> {
    let mut writer = CaptureWriter::new(Vec::new()).expect("pcap header");
    let frames = [
        (MAC, MacAddr::BROADCAST, 68, 67, query(1, UEFI, |_| {})),
        (MacAddr([2, 0, 0, 0, 0, 1]), MAC, 67, 68, {
            let mut m = Message::decode(&query(
                2,
                &[(54, &[192, 168, 1, 1]), (67, b"ipxe.efi")],
                |_| {},
            ))
            .expect("offer");
            m.op = 2;
            m.yiaddr = Ipv4Addr::from(OFFERED);
            m.encode()
        }),
        (
            MAC,
            MacAddr::BROADCAST,
            68,
            67,
            query(3, UEFI, |m| m.options.push(50, &OFFERED)),
        ),
        (
            MAC,
            MacAddr([2, 0, 0, 0, 0, 1]),
            1568,
            69,
            b"\0\x01ipxe.efi\0octet\0tsize\x000\0".to_vec(),
        ),
    ];
    for (i, (src, dst, sport, dport, payload)) in frames.into_iter().enumerate() {
        let frame = Datagram::new(
            src,
            dst,
            SocketAddrV4::new(
                Ipv4Addr::new(192, 168, 1, if sport == 67 { 1 } else { 2 }),
                sport,
            ),
            SocketAddrV4::new(
                Ipv4Addr::new(192, 168, 1, if dport == 67 { 255 } else { 1 }),
                dport,
            ),
            payload,
        )
        .to_frame();
        writer
            .write(Duration::from_millis(i as u64 * 10), &frame)
            .expect("pcap record");
    }
    writer.into_inner()
}

fn leases() -> Vec<Seed> {
    let header = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context";
    let rows = [
        "192.168.1.2,52:54:00:12:34:56,01:52:54:00:12:34:56,3600,1700003600,1,0,0,,0,",
        "192.168.1.3,52:54:00:12:34:57,,3600,1700003600,1,1,1,host.example.org,1,{ \"ISC\": { \"x\": 1 } }",
        "192.168.1.3,52:54:00:12:34:57,,0,1700003600,1,0,0,,0,",
        "192.168.1.4,,,3600,1700007200,1,0,0,,2,",
    ];
    let file = format!("{header}\n{}\n", rows.join("\n"));
    vec![
        ("kea-2.2".into(), file.clone().into_bytes()),
        ("torn".into(), file.as_bytes()[..file.len() - 9].to_vec()),
        (
            "kea-1.x".into(),
            "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname\n\
             10.0.0.9,00:11:22:33:44:55,,7200,1700000000,3,0,0,\n"
                .as_bytes()
                .to_vec(),
        ),
    ]
}

/// The inputs that once crashed `target` (fuzz/regressions/TARGET/, each named after what it
/// found), kept as regression tests.
pub fn regressions(target: &str) -> Vec<Seed> {
    listing(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("regressions")
            .join(target),
    )
}
