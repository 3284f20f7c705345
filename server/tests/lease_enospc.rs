//! A full disk under the lease file, in a private mount namespace with a 64 KiB tmpfs: a
//! write that fails with ENOSPC is reported and leaves no torn row behind (the file is cut
//! back to its last whole row), later writes succeed once there is room again, and every
//! lease whose write succeeded is read back with no errors. The service above drops the
//! query whose lease could not be written, as Kea does (its memfile throws from
//! CSVFile::append, the packet is dropped with DHCP4_PACKET_PROCESS_STD_EXCEPTION).

use std::net::Ipv4Addr;
use std::path::Path;

use netbootd::dhcp::lease::{Durability, Lease, LeaseChange, LeaseState, Memfile};

fn lease(n: u32) -> Lease {
    Lease {
        address: Ipv4Addr::from(0x0a00_0000 + n),
        hwaddr: vec![0x52, 0x54, 0, 0, (n >> 8) as u8, n as u8],
        client_id: Some(vec![1, 0x52, 0x54, 0, 0, (n >> 8) as u8, n as u8]),
        valid_lifetime: 3600,
        cltt: 1_700_000_000 + u64::from(n),
        subnet_id: 1,
        fqdn_fwd: false,
        fqdn_rev: false,
        hostname: format!("host-{n}.example.org"),
        state: LeaseState::Default,
        user_context: None,
        pool_id: 0,
    }
}

/// Runs `f` on a thread in a mount namespace of its own where `dir` is a tmpfs of `size`.
fn on_small_tmpfs<T: Send + 'static>(
    dir: &Path,
    size: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    use nix::sched::{unshare, CloneFlags};
    let (dir, size) = (dir.to_path_buf(), size.to_string());
    // mount(8), run from the thread, acts in the thread's namespace.
    let run = |args: &[&std::ffi::OsStr]| {
        std::process::Command::new("mount")
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    };
    std::thread::spawn(move || {
        if unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_FS).is_err() {
            return None;
        }
        let options = format!("size={size}");
        let private = run(&["--make-rprivate".as_ref(), "/".as_ref()]);
        let mounted = run(&[
            "-t".as_ref(),
            "tmpfs".as_ref(),
            "-o".as_ref(),
            options.as_ref(),
            "tmpfs".as_ref(),
            dir.as_os_str(),
        ]);
        (private && mounted).then(f)
    })
    .join()
    .expect("namespace thread")
}

#[test]
fn a_full_disk_fails_the_write_leaves_no_torn_row_and_recovers() {
    if !nix::unistd::Uid::effective().is_root() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "needs root under CI=true"
        );
        eprintln!("skipping: mounting a tmpfs needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().to_path_buf();
    let outcome = on_small_tmpfs(&mount.clone(), "64k", move || {
        let path = mount.join("kea-leases4.csv");
        let (mut file, _, _) = Memfile::open(&path, Durability::Write).unwrap();
        // Something else on the disk, freed later.
        std::fs::write(mount.join("filler"), vec![0u8; 16 * 1024]).unwrap();
        let mut written = Vec::new();
        let mut failure = None;
        for n in 1..5000 {
            match file.persist(&[LeaseChange::Upsert(lease(n))]) {
                Ok(()) => written.push(n),
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
            }
        }
        let failure = failure.expect("the disk filled up");
        let full = std::fs::read_to_string(&path).unwrap();
        // Room again: the next writes succeed.
        std::fs::remove_file(mount.join("filler")).unwrap();
        for n in 6000..6010 {
            file.persist(&[LeaseChange::Upsert(lease(n))]).unwrap();
            written.push(n);
        }
        drop(file);
        let (_, table, report) = Memfile::open(&path, Durability::Write).unwrap();
        (failure, full, written, table.len(), report.errors)
    });
    let Some((failure, full, written, loaded, errors)) = outcome else {
        panic!("could not make a private mount namespace with a tmpfs");
    };
    println!("ENOSPC after {} leases: {failure}", written.len() - 10);
    assert!(failure.contains("No space left on device"), "{failure}");
    assert!(
        full.ends_with('\n'),
        "no torn row left by the failed write: {:?}",
        &full[full.len() - 80..]
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(loaded, written.len(), "every lease written is read back");
}
