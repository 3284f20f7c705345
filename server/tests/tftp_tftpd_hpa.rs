//! netbootd as a drop-in for tftpd-hpa: the same --map-file rules give the same answers as
//! Debian's in.tftpd for the same requests (a differential test over tftp-hpa's client),
//! uploads land byte-exact and never replace a file, and the guide's /etc/default file,
//! filled in, is served as tftpd-hpa would serve it.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::tftp::serve;

/// What tftp-hpa's client got for `name`: the file's bytes or the server's error line.
fn fetch(port: u16, name: &str, work: &Path) -> String {
    let out = work.join("fetched");
    let _ = std::fs::remove_file(&out);
    let run = Command::new("tftp")
        .args([
            "127.0.0.1",
            &port.to_string(),
            "-m",
            "binary",
            "-c",
            "get",
            name,
        ])
        .arg(&out)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&run.stdout).to_string() + &String::from_utf8_lossy(&run.stderr);
    match std::fs::read(&out) {
        Ok(bytes) if said.trim().is_empty() => {
            format!("file {:?}", String::from_utf8_lossy(&bytes))
        }
        _ => said.trim().to_string(),
    }
}

struct Tftpd(Child);

impl Drop for Tftpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A root readable by `nobody` (in.tftpd drops to it when started as root).
fn shared_root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("a.efi"), b"A").unwrap();
    std::fs::write(root.join("sub/b.cfg"), b"B").unwrap();
    std::fs::write(root.join("UP.TXT"), b"U").unwrap();
    for p in [dir.path(), &root, &root.join("sub")] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (dir, root)
}

/// A map file with the rules people use in front of PXE clients.
const MAP: &str = r"# DOS-style paths from old PXE ROMs
rg \\ /
r ^/tftpboot/ /
ri ^(.*)\.txt$ \U\1\E.TXT
aG ^secret No\ secrets\ here
r ^pxelinux\.cfg/(.*) sub/\1
e ^stop
r ^stop.* a.efi
";

/// `../a.efi` is left out on purpose: in.tftpd --secure chroots, so there `..` at the top
/// stays in the root and the file is served; netbootd refuses any `..` with ERROR 2
/// (tftp_clients.rs tests that).
const NAMES: [&str; 9] = [
    "a.efi",
    r"\sub\b.cfg",
    "/tftpboot/a.efi",
    "up.txt",
    "Up.Txt",
    "secret",
    "pxelinux.cfg/b.cfg",
    "stop-here",
    "missing",
];

#[test]
fn map_file_rewrites_exactly_as_in_tftpd_does() {
    if !support::require_tool("in.tftpd") || !support::require_tool("tftp") {
        return;
    }
    let (dir, root) = shared_root();
    let map = dir.path().join("map");
    std::fs::write(&map, MAP).unwrap();
    std::fs::set_permissions(&map, std::fs::Permissions::from_mode(0o644)).unwrap();
    let port = free_port();
    let _tftpd = Tftpd(
        Command::new("in.tftpd")
            .args(["-L", "-s", "-m"])
            .arg(&map)
            .args(["-a", &format!("127.0.0.1:{port}")])
            .arg(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let ours = serve(&root, &["--secure", "--map-file", map.to_str().unwrap()]);
    let mut table = String::new();
    for name in NAMES {
        let theirs = fetch(port, name, dir.path());
        let mine = fetch(ours.addr.port(), name, dir.path());
        assert_eq!(mine, theirs, "{name}: netbootd vs in.tftpd");
        table.push_str(&format!("{name:<20} {mine}\n"));
    }
    // What the rules did, so a change in either server shows up as a diff.
    insta::assert_snapshot!(table, @r#"
    a.efi                file "A"
    \sub\b.cfg           file "B"
    /tftpboot/a.efi      file "A"
    up.txt               file "U"
    Up.Txt               file "U"
    secret               Error code 2: No secrets here
    pxelinux.cfg/b.cfg   file "B"
    stop-here            Error code 1: File not found
    missing              Error code 1: File not found
    "#);
}

#[test]
fn broken_map_file_is_refused_with_its_line() {
    let (dir, root) = shared_root();
    let map = dir.path().join("map");
    std::fs::write(&map, "rg \\\\ /\nrx a b\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_netbootd"))
        .args(["serve", "--tftp-address", "127.0.0.1:0", "--tftp-root"])
        .arg(&root)
        .arg("--map-file")
        .arg(&map)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:2: remap rule contains invalid flag \"x\"",
            map.display()
        )),
        "{stderr}"
    );
}

#[test]
fn uploads_are_byte_exact_and_never_replace_a_file() {
    if !support::require_tool("tftp") {
        return;
    }
    let (dir, root) = shared_root();
    let uploads = dir.path().join("uploads");
    std::fs::create_dir(&uploads).unwrap();
    let server = serve(
        &root,
        &[
            "--upload-dir",
            uploads.to_str().unwrap(),
            "--max-upload",
            "3000000",
        ],
    );
    let port = server.addr.port().to_string();
    let put = |local: &Path, remote: &str| {
        let run = Command::new("tftp")
            .args(["127.0.0.1", &port, "-m", "binary", "-c", "put"])
            .arg(local)
            .arg(remote)
            .output()
            .unwrap();
        String::from_utf8_lossy(&run.stdout).to_string() + &String::from_utf8_lossy(&run.stderr)
    };
    let log: Vec<u8> = (0..2_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let local = dir.path().join("boot.log");
    std::fs::write(&local, &log).unwrap();
    assert_eq!(put(&local, "boot.log").trim(), "");
    assert!(std::fs::read(uploads.join("boot.log")).unwrap() == log);
    // The same name again: refused, the first upload intact.
    let small = dir.path().join("small");
    std::fs::write(&small, b"other").unwrap();
    assert_eq!(
        put(&small, "boot.log").trim(),
        "Error code 6: File already exists"
    );
    assert!(std::fs::read(uploads.join("boot.log")).unwrap() == log);
    // Out of the directory, or over the size limit: refused, nothing left behind.
    assert_eq!(
        put(&small, "../escape").trim(),
        "Error code 2: Access violation"
    );
    let big = dir.path().join("big");
    std::fs::write(&big, vec![0u8; 3_000_001]).unwrap();
    assert!(put(&big, "big").contains("Error code 3: Disk full or allocation exceeded"));
    let left: Vec<_> = std::fs::read_dir(&uploads)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("boot.log")]);
    // Reads still come from the root, not the upload directory.
    assert_eq!(
        fetch(server.addr.port(), "boot.log", dir.path()),
        "Error code 1: File not found"
    );
}

#[test]
fn the_guides_defaults_file_filled_in_is_served() {
    if !support::require_tool("tftp") {
        return;
    }
    let (dir, root) = shared_root();
    let port = free_port();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/seed/tftpd-hpa"
    ))
    .unwrap()
    .replace("/srv/tftp", root.to_str().unwrap())
    .replace("TFTP_server_address:69", &format!("127.0.0.1:{port}"))
    .replace("TFTP_USERNAME=\"tftp\"", "TFTP_USERNAME=\"nobody\"");
    let file = dir.path().join("tftpd-hpa");
    std::fs::write(&file, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_netbootd"))
        .args(["serve", "--tftpd-hpa"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let got = fetch(port, "/sub/b.cfg", dir.path());
    let refused = fetch(port, "../a.efi", dir.path());
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(got, "file \"B\"");
    assert_eq!(refused, "Error code 2: Access violation");
}

/// What Debian's in.tftpd makes of `options`: whether it complains about them (getopt's
/// messages on stderr, or an exit with its usage). It runs on loopback in the foreground and
/// is killed by its PID after half a second.
fn in_tftpd_complains(options: &[String], root: &Path) -> bool {
    // in.tftpd refuses port 0: take a free one.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("in.tftpd")
        .args(["-L", "-l", "-a", &format!("127.0.0.1:{port}")])
        .args(options)
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut exited = None;
    for _ in 0..20 {
        exited = child.try_wait().unwrap();
        if exited.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    if exited.is_none() {
        child.kill().unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    exited.is_some_and(|s| !s.success()) || stderr.contains("option")
}

/// TFTP_OPTIONS read with in.tftpd's getopt_long rules: every form in.tftpd takes silently
/// (clusters, glued values, `=`, long prefixes) netbootd takes; every form getopt complains
/// about netbootd refuses, naming it. (in.tftpd logs an unknown option and goes on; netbootd
/// stops, since a typo in a boot server's options is better found before machines boot.)
#[test]
fn tftp_options_are_split_as_in_tftpd_splits_them() {
    if !support::require_tool("in.tftpd") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let accepted = [
        "-vvv -s",
        "-sc",
        "-B1468",
        "-B 1468",
        "--blocksize=1468",
        "--block 1468",
        "-r tsize -r blksize",
        "--retransmit=200000",
        "--port-range 4000:4100",
        "-sR4000:4100",
        "-s --verbosity 3",
        "-l -L -4",
    ];
    let refused = ["-x", "--p", "--secure=1", "--nonsense", "-s -Q"];
    for (options, accept) in accepted
        .iter()
        .map(|o| (o, true))
        .chain(refused.iter().map(|o| (o, false)))
    {
        let words: Vec<String> = options.split_whitespace().map(str::to_string).collect();
        assert_eq!(
            in_tftpd_complains(&words, root.path()),
            !accept,
            "in.tftpd on {options:?}"
        );
        let file = format!(
            "TFTP_DIRECTORY={}\nTFTP_OPTIONS=\"{options}\"\n",
            root.path().display()
        );
        let ours = netbootd::tftp::defaults::parse("f", &file);
        assert_eq!(ours.is_ok(), accept, "netbootd on {options:?}: {ours:?}");
    }
}
