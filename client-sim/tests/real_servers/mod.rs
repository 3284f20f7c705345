//! Servers this project did not write, started in a test's own network namespace: Debian's
//! Kea 2.2 running a fixture config rewritten for the namespace's interface, tftpd-hpa
//! serving the guide's TFTP root (built by ci/seed-root.sh from Debian's packages), each held
//! by a [`Guard`] that kills it by its own PID when the test ends. Shared by iface_kea.rs,
//! qemu_iface.rs and replay_kea.rs (each uses part of it); needs the including test to
//! declare `mod support;`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::support::netns::Netns;

/// Kills the server it holds when the test ends (by its own PID).
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures")).join(path)
}

/// The guide's TFTP root from Debian's packages (ci/seed-root.sh, cached between runs).
pub fn seed_root() -> PathBuf {
    crate::support::script_path(&fixture("../ci/seed-root.sh"))
}

/// Fixture `source` rewritten for Kea 2.2 on `iface` (`output_options`, the lease file and
/// control socket in `dir`), written to `dir/name`.
pub fn kea_config(source: &str, dir: &Path, iface: &str, name: &str) -> PathBuf {
    let text = std::fs::read_to_string(fixture(source))
        .unwrap()
        .replace("\"eth1\"", &format!("\"{iface}\""))
        .replace("output-options", "output_options")
        .replace(
            "\"type\": \"memfile\",",
            &format!(
                "\"type\": \"memfile\", \"name\": \"{}\",",
                dir.join("leases.csv").display()
            ),
        )
        .replace(
            "\"kea4-ctrl-socket\"",
            &format!("\"{}\"", dir.join("kea4-ctrl").display()),
        );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// kea-dhcp4 in `ns`, once it has logged DHCP4_STARTED (30 s at most).
pub fn start_kea(ns: &Netns, config: &Path, dir: &Path) -> Guard {
    let mut child = ns
        .command("kea-dhcp4")
        .arg("-c")
        .arg(config)
        .env("KEA_LOCKFILE_DIR", dir)
        .env("KEA_PIDFILE_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kea-dhcp4 starts");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains("DHCP4_STARTED") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("Kea started");
    Guard(child)
}

/// tftpd-hpa in `ns` on `address:69`, serving `root` (`-L` in the foreground, `-s` chroot).
pub fn start_tftpd(ns: &Netns, address: &str, root: &Path) -> Guard {
    Guard(
        ns.command("in.tftpd")
            .args(["-L", "-s", "-a", &format!("{address}:69")])
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// Whether Kea, tftpd-hpa, apt-get (for the seed root) and network namespaces are here
/// (`require_tool` fails under CI=true when one is missing, and says why elsewhere).
pub fn kea_and_tftpd_available() -> bool {
    crate::support::require_tool("kea-dhcp4")
        && crate::support::require_tool("in.tftpd")
        && crate::support::require_tool("apt-get")
        && crate::support::netns::available()
}

/// The guide's network: a server namespace (`<prefix>0`, 192.168.1.1/28) running Kea with
/// the guide's config and tftpd-hpa with its root, joined by a veth pair to a client
/// namespace whose end (`<prefix>1`) has no address, for bootsim `--iface`.
pub struct GuideNetwork {
    pub client: Netns,
    pub client_if: String,
    /// Kea's config, lease file and control socket, and whatever the test writes.
    pub dir: tempfile::TempDir,
    /// The config Kea runs (the guide's, rewritten for the segment).
    pub config: PathBuf,
    /// The TFTP root tftpd-hpa serves.
    pub root: PathBuf,
    // Dropped in this order: the servers are killed before their namespace goes.
    _tftpd: Guard,
    _kea: Guard,
    _server: Netns,
}

impl GuideNetwork {
    pub fn start(prefix: &str) -> GuideNetwork {
        let root = seed_root();
        let dir = tempfile::tempdir().unwrap();
        let server = Netns::new("s");
        let client = Netns::new("c");
        let (server_if, client_if) = (format!("{prefix}0"), format!("{prefix}1"));
        crate::support::netns::veth(
            &server,
            &server_if,
            Some("192.168.1.1/28"),
            &client,
            &client_if,
            None,
        );
        let config = kea_config(
            "seed/kea-dhcp4.conf",
            dir.path(),
            &server_if,
            "kea-dhcp4.conf",
        );
        let kea = start_kea(&server, &config, dir.path());
        let tftpd = start_tftpd(&server, "192.168.1.1", &root);
        // tftpd-hpa has no readiness line to wait for.
        std::thread::sleep(Duration::from_millis(500));
        GuideNetwork {
            client,
            client_if,
            dir,
            config,
            root,
            _tftpd: tftpd,
            _kea: kea,
            _server: server,
        }
    }
}
