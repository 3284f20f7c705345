//! The sans-IO TFTP engine alone, on a virtual clock: the admission, caps, uploads and timers
//! that netbootd's tokio shell and bootsim's segment both run. (The shell against real
//! clients is tests/tftp_clients.rs.)

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use netbootd::tftp::config::{Limits, TftpConfig, Upload};
use netbootd::tftp::engine::{Event, Outgoing, TftpEngine};
use netbootd::tftp::files::{Cached, Disk};
use netbootd::tftp::packet::{code, Packet};
use netbootd::tftp::transfer::End;
use netbootd::time::Instant;

fn config(root: &Path, upload: Option<&Path>) -> TftpConfig {
    TftpConfig {
        root: root.canonicalize().unwrap(),
        listen: "192.168.1.1:69".parse().unwrap(),
        secure: true,
        limits: Limits::default(),
        port_range: None,
        per_client: 2,
        max_transfers: 3,
        remap: None,
        upload: upload.map(|dir| Upload {
            dir: dir.canonicalize().unwrap(),
            max_bytes: 10_000,
        }),
    }
}

fn client(n: u8) -> SocketAddr {
    SocketAddr::from(([192, 168, 1, n], 1568))
}

fn rrq(name: &str) -> Vec<u8> {
    Packet::Rrq {
        filename: name.as_bytes().to_vec(),
        mode: "octet".into(),
        options: vec![],
    }
    .encode()
}

fn only(out: &[Outgoing]) -> &Packet {
    assert_eq!(out.len(), 1, "{out:?}");
    &out[0].packet
}

#[test]
fn an_upload_is_stored_before_its_last_ack_and_never_over_a_file() {
    let root = tempfile::tempdir().unwrap();
    let uploads = tempfile::tempdir().unwrap();
    std::fs::write(uploads.path().join("taken.log"), b"old").unwrap();
    let config = config(root.path(), Some(uploads.path()));
    let disk = Disk::new(&config.root, Some(&config.upload.as_ref().unwrap().dir)).unwrap();
    let mut e = TftpEngine::new(config, Box::new(disk));
    let now = Instant::ZERO;
    let wrq = |name: &str| {
        Packet::Wrq {
            filename: name.as_bytes().to_vec(),
            mode: "octet".into(),
            options: vec![],
        }
        .encode()
    };
    let out = e.on_request(now, client(2), 50000, &wrq("boot.log"));
    assert_eq!(only(&out), &Packet::Ack { block: 0 });
    assert_eq!(out[0].src_port, 50000);
    let data = |block, n| Packet::Data {
        block,
        data: vec![b'x'; n],
    };
    let out = e.on_transfer_packet(now, client(2), 50000, &data(1, 512).encode());
    assert_eq!(only(&out), &Packet::Ack { block: 1 });
    assert!(!uploads.path().join("boot.log").exists());
    let out = e.on_transfer_packet(now, client(2), 50000, &data(2, 10).encode());
    assert_eq!(only(&out), &Packet::Ack { block: 2 });
    assert_eq!(
        std::fs::read(uploads.path().join("boot.log"))
            .unwrap()
            .len(),
        522
    );
    assert!(!e.is_running(50000));

    let out = e.on_request(now, client(2), 50001, &wrq("taken.log"));
    assert_eq!(
        only(&out),
        &Packet::Error {
            code: code::EXISTS,
            message: "File already exists".into()
        }
    );
    assert_eq!(
        std::fs::read(uploads.path().join("taken.log")).unwrap(),
        b"old"
    );
}

#[test]
fn writes_are_refused_without_an_upload_directory() {
    let root = tempfile::tempdir().unwrap();
    let mut e = TftpEngine::new(config(root.path(), None), Box::new(Cached::default()));
    let wrq = Packet::Wrq {
        filename: b"x".to_vec(),
        mode: "octet".into(),
        options: vec![],
    };
    let out = e.on_request(Instant::ZERO, client(2), 50000, &wrq.encode());
    assert!(matches!(
        only(&out),
        Packet::Error {
            code: code::ACCESS,
            ..
        }
    ));
    assert!(matches!(
        &e.drain_events()[..],
        [Event::Refused { port: 50000, .. }]
    ));
}

#[test]
fn transfers_are_capped_per_client_and_in_all() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("ipxe.efi"), vec![1u8; 4000]).unwrap();
    let mut e = TftpEngine::new(config(root.path(), None), Box::new(Cached::default()));
    let now = Instant::ZERO;
    for port in [50000, 50001] {
        let out = e.on_request(now, client(2), port, &rrq("ipxe.efi"));
        // Cached files send their packets shared (Packet::SharedData).
        assert_eq!(only(&out).data_block(), Some(1));
    }
    let out = e.on_request(now, client(2), 50002, &rrq("ipxe.efi"));
    assert_eq!(
        only(&out),
        &Packet::Error {
            code: code::UNDEFINED,
            message: "Too many transfers from this client".into()
        }
    );
    assert!(only(&e.on_request(now, client(3), 50003, &rrq("ipxe.efi")))
        .data_block()
        .is_some());
    let out = e.on_request(now, client(4), 50004, &rrq("ipxe.efi"));
    assert_eq!(
        only(&out),
        &Packet::Error {
            code: code::UNDEFINED,
            message: "Too many transfers".into()
        }
    );
    assert_eq!(e.active(), 3);
    // A transfer that times out frees its place: six retransmissions a second apart.
    let mut t = now;
    for _ in 0..8 {
        t += Duration::from_secs(1);
        e.on_timeout(t);
    }
    assert_eq!(e.active(), 0);
    assert_eq!(e.stats().failed, 3);
    assert!(only(&e.on_request(t, client(2), 50005, &rrq("ipxe.efi")))
        .data_block()
        .is_some());
}

#[test]
fn a_stranger_on_a_transfer_port_gets_error_5_and_the_transfer_goes_on() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("a"), vec![1u8; 600]).unwrap();
    let mut e = TftpEngine::new(config(root.path(), None), Box::new(Cached::default()));
    let now = Instant::ZERO;
    e.on_request(now, client(2), 50000, &rrq("a"));
    let ack1 = Packet::Ack { block: 1 }.encode();
    let out = e.on_transfer_packet(now, client(9), 50000, &ack1);
    assert!(matches!(
        only(&out),
        Packet::Error {
            code: code::UNKNOWN_TID,
            ..
        }
    ));
    assert_eq!(out[0].dst, client(9));
    let out = e.on_transfer_packet(now, client(2), 50000, &ack1);
    assert_eq!(only(&out).data_block(), Some(2));
    e.on_transfer_packet(now, client(2), 50000, &Packet::Ack { block: 2 }.encode());
    let events = e.drain_events();
    assert!(
        matches!(
            events.last(),
            Some(Event::Ended {
                end: End::Complete {
                    bytes: 600,
                    blocks: 2
                },
                ..
            })
        ),
        "{events:?}"
    );
}

#[test]
fn garbage_on_the_listening_port_is_refused_and_a_stray_ack_ignored() {
    let root = tempfile::tempdir().unwrap();
    let mut e = TftpEngine::new(config(root.path(), None), Box::new(Cached::default()));
    let out = e.on_request(Instant::ZERO, client(2), 50000, b"\x00\x09junk");
    assert!(matches!(
        only(&out),
        Packet::Error {
            code: code::ILLEGAL,
            ..
        }
    ));
    let out = e.on_request(
        Instant::ZERO,
        client(2),
        50001,
        &Packet::Ack { block: 1 }.encode(),
    );
    assert!(out.is_empty());
    assert_eq!(e.active(), 0);
}

/// Files that swap a directory of the root with a symlink to outside it at the worst moment:
/// after the engine's name checks passed, just before the open.
struct SwapBeforeOpen {
    disk: Disk,
    sub: std::path::PathBuf,
    alt: std::path::PathBuf,
}

impl netbootd::tftp::files::Files for SwapBeforeOpen {
    fn open(&mut self, path: &Path) -> std::io::Result<(netbootd::tftp::files::Reader, u64)> {
        nix::fcntl::renameat2(
            None,
            &self.sub,
            None,
            &self.alt,
            nix::fcntl::RenameFlags::RENAME_EXCHANGE,
        )?;
        self.disk.open(path)
    }

    fn create(&mut self, target: &Path) -> std::io::Result<Box<dyn netbootd::tftp::files::Upload>> {
        self.disk.create(target)
    }
}

/// A symlink swapped in between the name checks and the open never leads outside the root:
/// the open (openat2 beneath the root's descriptor) refuses it.
#[test]
fn a_symlink_swapped_in_after_the_checks_never_leads_outside_the_root() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("root");
    let outside = base.path().join("outside");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(root.join("sub/a.bin"), b"inside").unwrap();
    std::fs::write(outside.join("a.bin"), b"SECRET").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("alt")).unwrap();
    let config = config(&root, None);
    let files = SwapBeforeOpen {
        disk: Disk::new(&config.root, None).unwrap(),
        sub: config.root.join("sub"),
        alt: config.root.join("alt"),
    };
    let mut e = TftpEngine::new(config, Box::new(files));
    // The checks see the directory, the open meets the symlink.
    let out = e.on_request(Instant::ZERO, client(2), 50000, &rrq("sub/a.bin"));
    assert!(
        matches!(
            only(&out),
            Packet::Error {
                code: code::ACCESS,
                ..
            }
        ),
        "{out:?}"
    );
    assert!(
        matches!(&e.drain_events()[..], [Event::Refused { refused, .. }] if refused.reason.contains("cross-device")),
        "openat2 refuses with EXDEV"
    );
}
