//! The TFTP root against a symlink swapped in a loop while clients request it: a thread
//! replaces `swap` (atomically, by rename) with a link to a file inside the root and a link
//! to a secret outside it, thousands of times, while requests for `swap` arrive. Files are
//! opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) relative to the root's
//! descriptor, so whatever the name checks saw, no byte of the secret may ever leave.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One RRQ for `name`: the first DATA block's bytes, or the ERROR's code.
fn fetch(server: SocketAddr, name: &str) -> Result<Vec<u8>, u16> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut rrq = vec![0, 1];
    rrq.extend_from_slice(name.as_bytes());
    rrq.extend_from_slice(b"\0octet\0");
    s.send_to(&rrq, server).unwrap();
    let mut buf = [0u8; 1024];
    let Ok((n, from)) = s.recv_from(&mut buf) else {
        return Err(u16::MAX);
    };
    match buf[1] {
        3 => {
            let _ = s.send_to(&[0, 4, buf[2], buf[3]], from);
            Ok(buf[4..n].to_vec())
        }
        _ => Err(u16::from_be_bytes([buf[2], buf[3]])),
    }
}

fn swapper(root: &Path, secret: &Path, stop: Arc<AtomicBool>, swaps: Arc<AtomicUsize>) {
    let targets = [
        Path::new("inside.txt").to_path_buf(),
        secret.to_path_buf(),
        Path::new("../secret.txt").to_path_buf(),
    ];
    let tmp = root.join("swap.tmp");
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&targets[i % targets.len()], &tmp).unwrap();
        std::fs::rename(&tmp, root.join("swap")).unwrap();
        i += 1;
        swaps.store(i, Ordering::Relaxed);
    }
}

fn race(secure: bool) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let root = root.canonicalize().unwrap();
    std::fs::write(root.join("inside.txt"), b"inside the root").unwrap();
    std::fs::write(dir.path().join("secret.txt"), b"SECRET outside").unwrap();
    let secret = dir.path().join("secret.txt").canonicalize().unwrap();
    let extra: &[&str] = if secure { &["--secure"] } else { &[] };
    let server = support::tftp::serve(&root, extra);

    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicUsize::new(0));
    let thread = {
        let (root, secret, stop, swaps) =
            (root.clone(), secret.clone(), stop.clone(), swaps.clone());
        std::thread::spawn(move || swapper(&root, &secret, stop, swaps))
    };
    let (mut served, mut refused, mut leaked) = (0, 0, 0);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(4) {
        match fetch(server.addr, "swap") {
            Ok(bytes) if bytes == b"inside the root" => served += 1,
            Ok(bytes) => {
                leaked += 1;
                eprintln!("leaked: {:?}", String::from_utf8_lossy(&bytes));
            }
            Err(_) => refused += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
    println!(
        "symlink race (secure {secure}): {} swaps, {served} served from inside, {refused} refused, {leaked} leaked",
        swaps.load(Ordering::Relaxed)
    );
    assert_eq!(leaked, 0);
    assert!(
        served > 0 && refused > 0,
        "both kinds of link were met: {served} {refused}"
    );
}

#[test]
fn a_symlink_swapped_in_a_loop_never_leaks_outside_the_root() {
    race(false);
}

#[test]
fn a_symlink_swapped_in_a_loop_never_leaks_outside_the_root_with_secure() {
    race(true);
}
