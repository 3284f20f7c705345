//! netbootd's TFTP server against real clients (tftp-hpa's `tftp`, `curl tftp://`) and a
//! client of ours for what those cannot do (windowsize, EDK2's probe-and-abort, lost packets,
//! hostile names), all on loopback.

mod support;

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::tftp::serve;

/// Deterministic, incompressible-looking content.
fn content(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn root_with(files: &[(&str, usize)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tftp");
    std::fs::create_dir(&root).unwrap();
    for (name, len) in files {
        std::fs::write(root.join(name), content(*len)).unwrap();
    }
    (dir, root)
}

const SIZES: [(&str, usize); 6] = [
    ("empty", 0),
    ("f511", 511),
    ("f512", 512),
    ("f513", 513),
    ("ipxe.efi", 1 << 20),
    ("big.img", 40 << 20),
];

#[test]
fn tftp_hpa_client_downloads_byte_exact_including_rollover() {
    if !support::require_tool("tftp") {
        return;
    }
    let (dir, root) = root_with(&SIZES);
    let server = serve(&root, &[]);
    for (name, len) in SIZES {
        let out = dir.path().join(format!("{name}.got"));
        let status = Command::new("tftp")
            .args([
                "-m",
                "binary",
                "127.0.0.1",
                &server.addr.port().to_string(),
                "-c",
                "get",
                name,
            ])
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success(), "tftp get {name}");
        let got = std::fs::read(&out).unwrap();
        assert_eq!(got.len(), len, "{name}");
        assert!(got == content(len), "{name} differs");
    }
}

#[test]
fn curl_downloads_byte_exact_with_blksize() {
    if !support::require_tool("curl") {
        return;
    }
    let (dir, root) = root_with(&SIZES);
    let server = serve(&root, &[]);
    // Debian 12's curl 7.88 fails on an empty file against in.tftpd as well ("getpeername()
    // failed with errno 107"): a curl bug, so the empty file is left to tftp-hpa's client.
    for (name, len) in SIZES.into_iter().filter(|(_, len)| *len > 0) {
        for blksize in ["512", "1468"] {
            let out = dir.path().join(format!("{name}.{blksize}"));
            let status = Command::new("curl")
                .args(["-sS", "--tftp-blksize", blksize, "-o"])
                .arg(&out)
                .arg(format!("tftp://{}/{name}", server.addr))
                .status()
                .unwrap();
            assert!(status.success(), "curl {name} blksize {blksize}");
            let got = std::fs::read(&out).unwrap();
            assert!(
                got.len() == len && got == content(len),
                "{name} at {blksize}"
            );
        }
    }
}

mod client {
    //! A TFTP client for tests: options, windows, deliberate loss.
    use std::net::{SocketAddr, UdpSocket};
    use std::time::Duration;

    use netbootd::tftp::packet::Packet;

    pub struct Download {
        pub data: Vec<u8>,
        pub oack: Vec<(String, String)>,
        /// DATA packets that arrived, duplicates included.
        pub arrivals: usize,
    }

    /// Downloads `name`; `lose` says which DATA packets (by arrival count) to ignore.
    pub fn get(
        server: SocketAddr,
        name: &[u8],
        options: &[(&str, &str)],
        lose: impl Fn(usize) -> bool,
    ) -> Result<Download, (u16, String)> {
        get_with(server, name, options, lose, 1)
    }

    /// As [`get`], sending every ACK `ack_copies` times (a network that duplicates them).
    pub fn get_with(
        server: SocketAddr,
        name: &[u8],
        options: &[(&str, &str)],
        lose: impl Fn(usize) -> bool,
        ack_copies: usize,
    ) -> Result<Download, (u16, String)> {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        let rrq = Packet::Rrq {
            filename: name.to_vec(),
            mode: "octet".into(),
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        socket.send_to(&rrq.encode(), server).unwrap();
        // The transfer ID: the first port that answers (RFC 1350 4); until then the RRQ is
        // sent again every second, as real clients do when a request is lost.
        let mut peer: Option<SocketAddr> = None;
        let mut silent_seconds = 0;
        let mut blksize = 512usize;
        let mut window = 1usize;
        let mut data = Vec::new();
        let mut expected: u16 = 1;
        let mut in_window = 0;
        let mut arrivals = 0usize;
        let mut oack = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            let (n, from) = match socket.recv_from(&mut buf) {
                Ok(x) => x,
                Err(_) if silent_seconds < 10 => {
                    silent_seconds += 1;
                    if peer.is_none() {
                        socket.send_to(&rrq.encode(), server).unwrap();
                    }
                    continue;
                }
                Err(e) => return Err((999, e.to_string())),
            };
            if *peer.get_or_insert(from) != from {
                let stray = Packet::Error {
                    code: 5,
                    message: "Unknown transfer ID".into(),
                };
                socket.send_to(&stray.encode(), from).unwrap();
                continue;
            }
            match Packet::decode(&buf[..n]).map_err(|e| (998, e.to_string()))? {
                Packet::Oack { options } => {
                    for (k, v) in &options {
                        match k.as_str() {
                            "blksize" => blksize = v.parse().unwrap(),
                            "windowsize" => window = v.parse().unwrap(),
                            _ => {}
                        }
                    }
                    oack = options;
                    socket
                        .send_to(&Packet::Ack { block: 0 }.encode(), from)
                        .unwrap();
                }
                Packet::Data { block, data: chunk } => {
                    arrivals += 1;
                    if lose(arrivals) {
                        continue;
                    }
                    if block != expected {
                        // Out of order or repeated: re-acknowledge what we have (RFC 7440).
                        let ack = Packet::Ack {
                            block: expected.wrapping_sub(1),
                        };
                        socket.send_to(&ack.encode(), from).unwrap();
                        in_window = 0;
                        continue;
                    }
                    data.extend_from_slice(&chunk);
                    in_window += 1;
                    let last = chunk.len() < blksize;
                    if last || in_window == window {
                        for _ in 0..ack_copies {
                            socket
                                .send_to(&Packet::Ack { block }.encode(), from)
                                .unwrap();
                        }
                        in_window = 0;
                    }
                    expected = expected.wrapping_add(1);
                    if last {
                        return Ok(Download {
                            data,
                            oack,
                            arrivals,
                        });
                    }
                }
                Packet::Error { code, message } => return Err((code, message)),
                _ => {}
            }
        }
    }

    /// EDK2's size probe: RRQ with tsize, read the OACK, answer ERROR 8 (firmware.md A.7).
    pub fn probe(server: SocketAddr, name: &[u8]) -> (Vec<(String, String)>, bool) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(1500)))
            .unwrap();
        let rrq = Packet::Rrq {
            filename: name.to_vec(),
            mode: "octet".into(),
            options: vec![
                ("tsize".into(), "0".into()),
                ("blksize".into(), "1468".into()),
                ("windowsize".into(), "4".into()),
            ],
        };
        socket.send_to(&rrq.encode(), server).unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = socket.recv_from(&mut buf).unwrap();
        let Ok(Packet::Oack { options }) = Packet::decode(&buf[..n]) else {
            panic!("no OACK")
        };
        let abort = Packet::Error {
            code: 8,
            message: "User aborted the transfer".into(),
        };
        socket.send_to(&abort.encode(), from).unwrap();
        // The server must stay quiet now (no DATA, no retransmitted OACK).
        let quiet = socket.recv_from(&mut buf).is_err();
        (options, quiet)
    }

    pub fn write(server: SocketAddr, name: &[u8]) -> Result<(), (u16, String)> {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let wrq = Packet::Wrq {
            filename: name.to_vec(),
            mode: "octet".into(),
            options: vec![],
        };
        socket.send_to(&wrq.encode(), server).unwrap();
        let mut buf = [0u8; 2048];
        let (n, _) = socket.recv_from(&mut buf).unwrap();
        match Packet::decode(&buf[..n]).unwrap() {
            Packet::Error { code, message } => Err((code, message)),
            _ => Ok(()),
        }
    }
}

#[test]
fn edk2_probe_then_windowed_download() {
    let (_dir, root) = root_with(&[("ipxe.efi", 850_528)]);
    let server = serve(&root, &[]);
    let (oack, quiet) = client::probe(server.addr, b"ipxe.efi");
    assert_eq!(oack[0], ("tsize".to_string(), "850528".to_string()));
    assert!(quiet, "the server answered after ERROR 8");
    for window in ["1", "4", "16", "64"] {
        let d = client::get(
            server.addr,
            b"ipxe.efi",
            &[("blksize", "1468"), ("windowsize", window)],
            |_| false,
        )
        .unwrap();
        assert_eq!(
            d.oack,
            vec![
                ("blksize".to_string(), "1468".to_string()),
                ("windowsize".to_string(), window.to_string())
            ]
        );
        assert!(d.data == content(850_528), "windowsize {window}");
    }
}

#[test]
fn lost_data_is_retransmitted_on_the_timer() {
    let (_dir, root) = root_with(&[("f", 200_000)]);
    let server = serve(&root, &["--retransmit", "200"]);
    for window in ["1", "8"] {
        let d = client::get(server.addr, b"f", &[("windowsize", window)], |n| {
            n % 37 == 5
        })
        .unwrap();
        assert!(d.data == content(200_000), "windowsize {window}");
    }
}

#[test]
fn duplicated_acks_never_double_the_data() {
    // The sorcerer's apprentice (RFC 1123 4.2.3.1): a server that answers every ACK with
    // DATA doubles its traffic for the rest of the transfer once one ACK is duplicated.
    let (_dir, root) = root_with(&[("f", 512 * 300 + 7)]);
    let server = serve(&root, &[]);
    for window in ["1", "4"] {
        let d =
            client::get_with(server.addr, b"f", &[("windowsize", window)], |_| false, 2).unwrap();
        assert!(d.data == content(512 * 300 + 7), "windowsize {window}");
        assert_eq!(d.arrivals, 301, "windowsize {window}: DATA sent twice");
    }
}

#[test]
fn atftp_downloads_with_windowsize() {
    if !support::require_tool("atftp") {
        return;
    }
    let (dir, root) = root_with(&[("ipxe.efi", 3_000_000)]);
    let server = serve(&root, &[]);
    for window in ["1", "8", "32"] {
        let out = dir.path().join(format!("got{window}"));
        let run = Command::new("atftp")
            .args(["--option", "blksize 1468", "--option"])
            .arg(format!("windowsize {window}"))
            .args([
                "--option", "tsize 0", "--trace", "-g", "-r", "ipxe.efi", "-l",
            ])
            .arg(&out)
            .arg("127.0.0.1")
            .arg(server.addr.port().to_string())
            .output()
            .unwrap();
        // atftp erases its trailing ", " with backspaces; drop them with what they erase.
        let trace = (String::from_utf8_lossy(&run.stdout).to_string()
            + &String::from_utf8_lossy(&run.stderr))
            .replace(", \u{8}\u{8}", "");
        assert!(
            trace.contains(&format!(
                "received OACK <tsize: 3000000, windowsize: {window}, blksize: 1468>"
            )),
            "{trace}"
        );
        assert!(
            std::fs::read(&out).unwrap() == content(3_000_000),
            "windowsize {window}"
        );
    }
}

#[test]
fn hostile_names_and_writes_are_refused() {
    let (dir, root) = root_with(&[("ipxe.efi", 100)]);
    std::fs::write(dir.path().join("secret"), b"outside").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret"), root.join("escape")).unwrap();
    let server = serve(&root, &["--secure"]);
    let refused = |name: &[u8]| client::get(server.addr, name, &[], |_| false).err();
    assert_eq!(refused(b"../secret"), Some((2, "Access violation".into())));
    assert_eq!(
        refused(b"../../etc/passwd"),
        Some((2, "Access violation".into()))
    );
    assert_eq!(refused(b"/etc/passwd"), Some((1, "File not found".into())));
    assert_eq!(refused(b"escape"), Some((2, "Access violation".into())));
    assert_eq!(
        refused(b"ipxe\x07.efi"),
        Some((2, "Access violation".into()))
    );
    assert_eq!(refused(b"missing"), Some((1, "File not found".into())));
    assert_eq!(
        client::write(server.addr, b"upload"),
        Err((2, "Access violation".into()))
    );
    assert!(!root.join("upload").exists());
    // A name carrying a NUL: the request ends at the first NUL, so what follows is the mode.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
        .send_to(b"\x00\x01ipxe.efi\x00/../x\x00octet\x00", server.addr)
        .unwrap();
    let mut buf = [0u8; 1024];
    let (n, _) = socket.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..4], b"\x00\x05\x00\x04", "{:?}", &buf[..n]);
    // Still serving.
    assert_eq!(
        client::get(server.addr, b"/ipxe.efi", &[], |_| false)
            .unwrap()
            .data,
        content(100)
    );
}

#[test]
fn netascii_round_trips_through_tftp_hpa() {
    if !support::require_tool("tftp") {
        return;
    }
    let (dir, root) = root_with(&[]);
    let text = b"#!ipxe\nchain refind.pxe\r\n\nend\n".repeat(100);
    std::fs::write(root.join("boot.ipxe"), &text).unwrap();
    let server = serve(&root, &[]);
    let out = dir.path().join("got");
    let port = server.addr.port().to_string();
    let status = Command::new("tftp")
        .args([
            "-m",
            "netascii",
            "127.0.0.1",
            &port,
            "-c",
            "get",
            "boot.ipxe",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    // On the wire LF is CR LF and a lone CR is CR NUL; the client undoes both.
    assert_eq!(std::fs::read(&out).unwrap(), text);
}

#[test]
fn transfers_use_the_port_range_and_the_per_client_cap() {
    let (_dir, root) = root_with(&[("f", 4096)]);
    let server = serve(
        &root,
        &["--port-range", "40100:40103", "--tftp-per-client", "1"],
    );
    // First transfer: hold it open after its first DATA.
    let held = UdpSocket::bind("127.0.0.1:0").unwrap();
    held.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    held.send_to(b"\x00\x01f\x00octet\x00", server.addr)
        .unwrap();
    let mut buf = [0u8; 1024];
    let (_, from) = held.recv_from(&mut buf).unwrap();
    assert!(
        (40100..=40103).contains(&from.port()),
        "transfer port {from}"
    );
    // A second one from the same address is refused while the first is open.
    let refused = client::get(server.addr, b"f", &[], |_| false).err();
    assert_eq!(
        refused,
        Some((0, "Too many transfers from this client".into()))
    );
}

#[test]
fn five_hundred_concurrent_downloads_are_byte_exact() {
    let (_dir, root) = root_with(&[("ipxe.efi", 1 << 20)]);
    let server = serve(&root, &["--tftp-per-client", "1000"]);
    let addr = server.addr;
    let threads: Vec<_> = (0..500)
        .map(|_| {
            std::thread::spawn(move || {
                client::get(
                    addr,
                    b"ipxe.efi",
                    &[("blksize", "1468"), ("windowsize", "16")],
                    |_| false,
                )
                .map(|d| d.data)
            })
        })
        .collect();
    let expected = content(1 << 20);
    for t in threads {
        let data = t
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("download: {e:?}"));
        assert!(data == expected);
    }
}
