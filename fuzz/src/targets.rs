//! The targets. Each builds its fixed context (a config, a TFTP root) once per process, so
//! that AFL's persistent mode spends its time in the parser, and keeps no state between
//! inputs (stability: the same input takes the same path).

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bootsim::firmware::ipxe::packets::{Build, Identity};
use bootsim::firmware::ipxe::Ipxe;
use bootsim::identify::Machine;
use bootsim::net::embedded::{build, ServerSpec, SIMULATION_EPOCH};
use bootsim::net::lan::Lan;
use netbootd::dhcp::engine::{Engine, Incoming, Outcome};
use netbootd::dhcp::lease::{Durability, Header, LeaseRow, LeaseTable, Memfile};
use netbootd::kea::check::check_document;
use netbootd::kea::expr::{self, ClassLookup, ClassSet, OptionLookup, Packet};
use netbootd::kea::json::parse_bytes;
use netbootd::kea::model::Config;
use netbootd::kea::system::System;
use netbootd::kea::KeaVersion;
use netbootd::tftp::config::{Limits, TftpConfig};
use netbootd::tftp::engine::TftpEngine;
use netbootd::tftp::files::{Cached, Files, Reader, Upload};
use netbootd::tftp::remap::{Direction, RemapRules};
use netbootd::time::{Epoch, Instant};
use netbootd::wire::dhcp::Message;
use netbootd::wire::frame::Datagram;
use netbootd::wire::MacAddr;

use crate::records;

/// The repository's fixtures directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// A machine where every interface exists and no file does: the semantic checks run deep
/// and never depend on this host.
struct Everywhere;

impl System for Everywhere {
    fn interface_exists(&self, _: &str) -> bool {
        true
    }
    fn file_exists(&self, _: &Path) -> bool {
        false
    }
}

fn config(path: &str) -> Arc<Config> {
    let bytes = std::fs::read(fixtures().join(path)).expect("fixture config");
    let outcome = check_document(&parse_bytes(path, bytes), KeaVersion::V3_0, &Everywhere);
    Arc::new(outcome.config.expect("fixture config is valid"))
}

/// The guide's config and the relay fixture (shared networks, relayed subnets).
fn dhcp_configs() -> &'static [Arc<Config>; 2] {
    static CONFIGS: OnceLock<[Arc<Config>; 2]> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        [
            config("seed/kea-dhcp4.conf"),
            config("relay/kea-dhcp4.conf"),
        ]
    })
}

const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);

/// DHCP datagrams into the engine, as the shell hands them over. Each record's first byte:
/// bit 0 the rest is a whole Ethernet frame (else a UDP payload), bit 1 unicast to the
/// server, bits 2-7 seconds since the previous record; the input's first byte picks the
/// config. Replies are encoded as the shell would send them; leases expire and are
/// reclaimed as time passes.
pub fn dhcp_engine(data: &[u8]) {
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let config = dhcp_configs()[usize::from(pick & 1)].clone();
    let Ok(mut engine) = Engine::new(config, LeaseTable::new(), Epoch::UNIX) else {
        return;
    };
    let mut now = Instant::from_secs(1_000);
    for record in records(data, 64) {
        let Some((&flags, bytes)) = record.split_first() else {
            continue;
        };
        now += Duration::from_secs(u64::from(flags >> 2) * 97);
        let (source, payload) = if flags & 1 == 1 {
            match Datagram::from_frame(bytes) {
                Ok(Some(d)) => (d.src, d.payload.into()),
                _ => continue,
            }
        } else {
            (SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68), bytes.to_vec())
        };
        let Ok(msg) = Message::decode(&payload) else {
            continue;
        };
        let q = Incoming {
            len: payload.len(),
            msg: Box::new(msg),
            iface: "eth1".into(),
            iface_addr: SERVER,
            source,
            destination: if flags & 2 == 2 {
                SERVER
            } else {
                Ipv4Addr::BROADCAST
            },
            direct_response: true,
        };
        if let Ok(Outcome::Reply { msg, .. }) = engine.handle(now, &q) {
            let wire = msg.encode();
            assert!(Message::decode(&wire).is_ok(), "a reply decodes: {msg:?}");
        }
        engine.take_changes();
        engine.reclaim(now);
    }
}

/// A TFTP root with a few files, made once per process.
fn tftp_root() -> &'static Path {
    static ROOT: OnceLock<tempfile::TempDir> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("ipxe.efi"), vec![0x5a; 5000]).expect("file");
        std::fs::write(dir.path().join("a.txt"), b"line\nline\r\n\0end").expect("file");
        std::fs::write(dir.path().join("empty"), b"").expect("file");
        std::fs::create_dir(dir.path().join("boot")).expect("dir");
        std::fs::write(dir.path().join("boot/grub.cfg"), vec![b'g'; 1024]).expect("file");
        dir
    })
    .path()
}

/// Reads the root as the simulation does; uploads go to memory and vanish, so that no input
/// leaves a file behind for the next one.
struct Sandbox(Cached);

struct Sink;

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Upload for Sink {
    fn commit(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}

impl Files for Sandbox {
    fn open(&mut self, path: &Path) -> io::Result<(Reader, u64)> {
        self.0.open(path)
    }
    fn create(&mut self, _: &Path) -> io::Result<Box<dyn Upload>> {
        Ok(Box::new(Sink))
    }
}

pub(crate) const TFTP_MAP: &str = "rg \\\\ /\nr ^/ \nri ^PXE ipxe.efi\ne ^ipxe\\.efi$\na ^deny access\\ denied\nr ^(.*)\\.old$ \\1\n";

/// TFTP datagrams into the engine. The input's first byte picks the config (bit 0
/// `--secure`, bit 1 the map file, bit 2 uploads); each record's first byte: bits 0-2 the
/// port (0 the listening port, n the n-th transfer port), bits 3-4 which of two clients,
/// bits 5-7 time passing. Timers fire as time passes, and at the end until every
/// transfer has ended.
pub fn tftp_engine(data: &[u8]) {
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let root = tftp_root().to_path_buf();
    let remap = (pick & 2 == 2)
        .then(|| RemapRules::parse("fuzz.map", TFTP_MAP).ok())
        .flatten();
    let config = TftpConfig {
        root: root.clone(),
        listen: "192.168.1.1:69".parse().expect("address"),
        secure: pick & 1 == 1,
        limits: Limits::default(),
        port_range: None,
        per_client: 3,
        max_transfers: 4,
        remap: remap.map(Arc::new),
        upload: (pick & 4 == 4).then(|| netbootd::tftp::config::Upload {
            dir: root.join("boot"),
            max_bytes: 4096,
        }),
    };
    let mut host = TftpEngine::new(config, Box::new(Sandbox(Cached::default())));
    let clients = [
        SocketAddr::from(SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 2), 1568)),
        SocketAddr::from(SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 3), 2070)),
    ];
    let mut ports = Vec::new();
    let mut now = Instant::ZERO;
    for record in records(data, 96) {
        let Some((&flags, bytes)) = record.split_first() else {
            continue;
        };
        now += Duration::from_millis(u64::from(flags >> 5) * 700);
        let client = clients[usize::from(flags >> 3 & 1)];
        let port = match usize::from(flags & 7) {
            0 => host.port(),
            n => ports.get(n - 1).copied().unwrap_or(49152),
        };
        for out in host.on_datagram(now, client, port, bytes) {
            if !ports.contains(&out.src_port) {
                ports.push(out.src_port);
            }
            out.packet.encode();
        }
        host.on_timeout(now);
    }
    for _ in 0..200 {
        let Some(deadline) = host.next_deadline() else {
            break;
        };
        now = deadline.max(now);
        host.on_timeout(now);
    }
    assert_eq!(
        host.active(),
        0,
        "every transfer ends once its timers run out"
    );
}

/// A Kea config through the JSON dialect, the grammar and the semantic checks of every Kea
/// version; a config they accept must start an engine that answers a DISCOVER.
pub fn kea_config(data: &[u8]) {
    for version in KeaVersion::ALL {
        let doc = parse_bytes("fuzz.conf", data.to_vec());
        let outcome = check_document(&doc, version, &Everywhere);
        if let Some(error) = &outcome.error {
            assert!(!error.to_string().is_empty());
            continue;
        }
        let Some(config) = outcome.config else {
            continue;
        };
        if let Ok(mut engine) = Engine::new(Arc::new(config), LeaseTable::new(), Epoch::UNIX) {
            let _ = engine.handle(Instant::from_secs(1_000), &discover());
        }
    }
}

fn discover() -> Incoming {
    let mut m = Message {
        xid: 7,
        flags: 0x8000,
        ..Message::default()
    };
    m.chaddr[..6].copy_from_slice(&[0x52, 0x54, 0, 0, 0, 1]);
    m.options.push(53, &[1]);
    m.options.push(55, &[1, 3, 6, 66, 67]);
    m.options.push(60, b"PXEClient:Arch:00007:UNDI:003016");
    m.options.push(77, b"iPXE");
    m.options.push(93, &[0, 7]);
    m.options.end();
    Incoming {
        len: m.encode().len(),
        msg: Box::new(m),
        iface: "eth1".into(),
        iface_addr: SERVER,
        source: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
        destination: Ipv4Addr::BROADCAST,
        direct_response: true,
    }
}

/// Names option codes by length and defines every class: the parser takes every path.
struct Lookups;

impl OptionLookup for Lookups {
    fn option_code(&self, name: &str) -> Option<u16> {
        (name.len() < 20).then_some(name.len() as u16)
    }
}

impl ClassLookup for Lookups {
    fn is_defined(&self, _: &str) -> bool {
        true
    }
}

/// A Kea class expression (first record, as text) parsed by every Kea version and evaluated
/// against a packet (the second record decoded as DHCP, else a PXE DISCOVER).
pub fn kea_expr(data: &[u8]) {
    let parts = records(data, 2);
    let text = String::from_utf8_lossy(parts[0]);
    let msg = parts
        .get(1)
        .and_then(|b| Message::decode(b).ok())
        .unwrap_or_else(|| *discover().msg);
    for version in KeaVersion::ALL {
        if let Ok(e) = expr::parse(&text, version, &Lookups, &Lookups) {
            let pkt = Packet::broadcast(&msg, "eth1", 300);
            let _ = expr::evaluate(&e, &pkt, &ClassSet::default());
        }
    }
}

/// `/etc/default/tftpd-hpa`: refusals name the file and a line.
pub fn tftpd_defaults(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = netbootd::tftp::defaults::parse("tftpd-hpa", &text) {
        assert!(e.to_string().starts_with("tftpd-hpa:"), "{e}");
    }
}

/// A tftpd-hpa map file (first record), then names rewritten by it (the other records; a
/// name's first byte picks the direction and the client).
pub fn tftp_remap(data: &[u8]) {
    let parts = records(data, 16);
    let text = String::from_utf8_lossy(parts[0]);
    let Ok(rules) = RemapRules::parse("fuzz.map", &text) else {
        return;
    };
    for name in &parts[1..] {
        let Some((&how, name)) = name.split_first() else {
            continue;
        };
        let direction = if how & 1 == 0 {
            Direction::Read
        } else {
            Direction::Write
        };
        let client = IpAddr::V4(Ipv4Addr::new(192, 168, 1, how >> 1));
        let _ = rules.rewrite(&String::from_utf8_lossy(name), direction, client);
    }
}

/// A TFTP root holding the guide's config, where `ipxe_script` writes its script.
fn ipxe_root() -> &'static Path {
    static ROOT: OnceLock<tempfile::TempDir> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = std::fs::read_to_string(fixtures().join("seed/kea-dhcp4.conf"))
            .expect("guide")
            .replace("refind.pxe", "fuzz.ipxe");
        std::fs::write(dir.path().join("kea-dhcp4.conf"), text).expect("config");
        std::fs::write(dir.path().join("ipxe.efi"), vec![0x5a; 4096]).expect("file");
        dir
    })
    .path()
}

/// An iPXE script run by the iPXE model as the boot file the guide's "iPXE script" class
/// hands out, with netbootd serving it in-process: every command the interpreter knows, in
/// virtual time (at most two virtual minutes).
pub fn ipxe_script(data: &[u8]) {
    let root = ipxe_root();
    std::fs::write(root.join("fuzz.ipxe"), data).expect("script");
    let Ok(server) = build(&ServerSpec {
        config: root.join("kea-dhcp4.conf"),
        kea_version: KeaVersion::V3_0,
        tftp_root: Some(root.to_path_buf()),
        server_addr: None,
        epoch: SIMULATION_EPOCH,
    }) else {
        panic!("the guide's config builds a server");
    };
    let mut lan = Lan::new(server);
    let mut ipxe = Ipxe::new(
        Identity {
            mac: MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
            build: Build::EfiX64,
            uuid: None,
        },
        42,
    );
    ipxe.start(netbootd::time::Instant::ZERO);
    lan.run(&mut ipxe, Duration::from_secs(120));
}

/// A refind.conf read and run by the rEFInd model (no disks: the menu is what the config
/// makes of nothing).
pub fn refind_conf(data: &[u8]) {
    let _ = bootsim::firmware::refind::run(Some(data), &[], Machine::X64);
}

/// A pcap or pcapng file read and audited; the report and JUnit render.
pub fn capture(data: &[u8]) {
    let Ok(capture) = bootsim::capture::read::read_bytes("fuzz.pcap", data) else {
        return;
    };
    let audit = bootsim::capture::audit(&capture, None);
    bootsim::capture::report::render(&audit);
    bootsim::junit::audit(&[audit]);
}

/// A directory for `lease_csv`'s files, made once per process.
fn lease_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
}

/// A Kea lease file: each row as the CSV reader takes it (a row read and written back reads
/// back the same), then the whole file loaded as `Memfile::open` does at start-up, whose
/// complaints name the file and the line.
pub fn lease_csv(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines();
    if let Some(Ok(header)) = lines.next().map(Header::parse) {
        for (i, line) in lines.enumerate() {
            if let Ok(lease) = LeaseRow::decode(&header, i + 2, line) {
                let written = LeaseRow::encode(&header, &lease);
                let again = LeaseRow::decode(&header, i + 2, &written)
                    .unwrap_or_else(|e| panic!("{written:?} does not read back: {e}"));
                assert_eq!(LeaseRow::encode(&header, &again), written);
            }
        }
    }
    let path = lease_dir().join("kea-leases4.csv");
    std::fs::write(&path, data).expect("lease file");
    if let Ok((_, _, report)) = Memfile::open(&path, Durability::Write) {
        for e in &report.errors {
            assert!(e.starts_with(&path.display().to_string()), "{e}");
        }
    }
    let _ = std::fs::remove_file(&path);
}
