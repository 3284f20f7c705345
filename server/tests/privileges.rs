//! Started as root, netbootd serves as an unprivileged user: with `--user` it keeps only
//! CAP_NET_RAW and CAP_NET_BIND_SERVICE (raw DHCP sockets, ports 67 and 69), with
//! tftpd-hpa's TFTP_USERNAME it keeps nothing once bound. Proven from /proc/PID/status while
//! real clients (udhcpc, curl) are served and the lease file is written as that user.
//! Either way the bounding set holds only what is kept, the ambient set is empty and
//! no_new_privs is set, in every thread (/proc/PID/task/*/status): more than tftpd-hpa,
//! which only changes groups, gid and uid (tftpd/tftpd.c, main()).

mod support;

use std::os::unix::fs::MetadataExt;
use std::process::Stdio;

use support::netns::{self, Netns};
use support::process::Daemon;

const NOBODY: u32 = 65534;

fn ids(d: &Daemon, field: &str) -> Vec<u32> {
    d.status(field)
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

/// `field` of /proc/PID/status in every thread of `d`: one value, or a panic naming the
/// threads that differ (prctl settings are per thread).
fn every_thread(d: &Daemon, field: &str) -> String {
    let mut values = std::collections::BTreeMap::new();
    for task in std::fs::read_dir(format!("/proc/{}/task", d.pid())).unwrap() {
        let path = task.unwrap().path().join("status");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // the thread ended meanwhile
        };
        let value = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in {}", path.display()))
            .trim()
            .to_string();
        values.entry(value).or_insert_with(Vec::new).push(path);
    }
    assert_eq!(
        values.len(),
        1,
        "{field} differs between threads: {values:?}"
    );
    values.into_keys().next().unwrap()
}

/// CapEff, CapPrm, CapInh, CapBnd, CapAmb and NoNewPrivs, each the same in every thread.
fn capabilities(d: &Daemon) -> [String; 6] {
    [
        "CapEff",
        "CapPrm",
        "CapInh",
        "CapBnd",
        "CapAmb",
        "NoNewPrivs",
    ]
    .map(|field| every_thread(d, field))
}

fn as_root() -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("dropping privileges is tested as root under CI=true");
    }
    eprintln!("skipping: not root");
    false
}

#[test]
fn user_keeps_only_the_network_capabilities_and_serves_dhcp_and_tftp() {
    if !as_root()
        || !netns::available()
        || !support::require_tool("udhcpc")
        || !support::require_tool("curl")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    nix::unistd::chown(&state, Some(NOBODY.into()), None).unwrap();
    let root = dir.path().join("tftp");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("hello.txt"), b"served by nobody\n").unwrap();
    let leases = state.join("kea-leases4.csv");
    let config = dir.path().join("kea-dhcp4.conf");
    std::fs::write(
        &config,
        format!(
            r#"{{ "Dhcp4": {{
  "interfaces-config": {{ "interfaces": [ "hdpv0" ] }},
  "lease-database": {{ "type": "memfile", "name": "{}" }},
  "subnet4": [ {{ "id": 1, "subnet": "192.168.1.0/24", "pools": [ {{ "pool": "192.168.1.100 - 192.168.1.120" }} ] }} ],
  "loggers": [ {{ "name": "kea-dhcp4", "severity": "INFO", "output-options": [ {{ "output": "stdout" }} ] }} ]
}} }}"#,
            leases.display()
        ),
    )
    .unwrap();
    let server = Netns::new("hdpv");
    let client = Netns::new("hdpc");
    netns::veth(
        &server,
        "hdpv0",
        Some("192.168.1.1/24"),
        &client,
        "hdpc0",
        Some("192.168.1.9/24"),
    );
    let d = Daemon::start(
        &server,
        &[
            "serve",
            "--user",
            "nobody",
            "--config",
            config.to_str().unwrap(),
            "--tftp-root",
            root.to_str().unwrap(),
            "--tftp-address",
            "192.168.1.1:69",
        ],
        "DHCP4_STARTED",
    );
    let (uids, gids) = (ids(&d, "Uid"), ids(&d, "Gid"));
    let [eff, prm, inh, bnd, amb, nnp] = capabilities(&d);
    println!(
        "--user nobody: Uid {uids:?} Gid {gids:?} CapEff {eff} CapPrm {prm} CapInh {inh} \
         CapBnd {bnd} CapAmb {amb} NoNewPrivs {nnp}"
    );
    assert_eq!(uids, vec![NOBODY; 4], "real, effective, saved and fs uid");
    assert_eq!(gids, vec![65534; 4]);
    // Bits 13 (CAP_NET_RAW) and 10 (CAP_NET_BIND_SERVICE), nothing else.
    assert_eq!(eff, "0000000000002400");
    assert_eq!(prm, "0000000000002400");
    assert_eq!(inh, "0000000000000000");
    assert_eq!(bnd, "0000000000002400", "bounding set: only the kept two");
    assert_eq!(amb, "0000000000000000");
    assert_eq!(nnp, "1", "no_new_privs");

    let bound = client.udhcpc(dir.path(), "hdpc0");
    assert!(
        bound
            .as_deref()
            .is_some_and(|b| b.contains("bound ip=192.168.1.1")),
        "{bound:?}"
    );
    let meta = std::fs::metadata(&leases).unwrap();
    assert_eq!(meta.uid(), NOBODY, "the lease file is written as the user");
    assert!(std::fs::read_to_string(&leases).unwrap().lines().count() >= 2);

    let got = client
        .command("curl")
        .args(["-s", "--max-time", "10", "tftp://192.168.1.1/hello.txt"])
        .output()
        .unwrap();
    assert_eq!(got.stdout, b"served by nobody\n");
}

#[test]
fn tftp_username_drops_every_capability_once_bound() {
    if !as_root() || !netns::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tftp");
    std::fs::create_dir(&root).unwrap();
    let file = dir.path().join("tftpd-hpa");
    std::fs::write(
        &file,
        format!(
            "TFTP_USERNAME=\"nobody\"\nTFTP_DIRECTORY=\"{}\"\nTFTP_ADDRESS=\"127.0.0.1:69\"\nTFTP_OPTIONS=\"--secure\"\n",
            root.display()
        ),
    )
    .unwrap();
    let ns = Netns::new("hdpt");
    let d = Daemon::start(
        &ns,
        &["serve", "--tftpd-hpa", file.to_str().unwrap()],
        "dropped privileges",
    );
    let [eff, prm, inh, bnd, amb, nnp] = capabilities(&d);
    println!(
        "TFTP_USERNAME nobody: Uid {:?} CapEff {eff} CapPrm {prm} CapInh {inh} CapBnd {bnd} \
         CapAmb {amb} NoNewPrivs {nnp}",
        ids(&d, "Uid"),
    );
    assert_eq!(ids(&d, "Uid"), vec![NOBODY; 4]);
    for (field, value) in [
        ("CapEff", eff),
        ("CapPrm", prm),
        ("CapInh", inh),
        ("CapBnd", bnd),
        ("CapAmb", amb),
    ] {
        assert_eq!(value, "0000000000000000", "{field}");
    }
    assert_eq!(nnp, "1", "no_new_privs");
}

/// Started with a soft descriptor limit of 1024 (the usual default), netbootd raises it to
/// the hard limit: its global cap of 4096 TFTP transfers takes two descriptors each.
#[test]
fn the_soft_descriptor_limit_is_raised_for_the_transfer_cap() {
    if !netns::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ns = Netns::new("hdfd");
    let netbootd = env!("CARGO_BIN_EXE_netbootd");
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let want = hard.min(65536).to_string();
    let mut child = ns
        .command("prlimit")
        .arg(format!("--nofile=1024:{hard}"))
        .args([netbootd, "serve", "--tftp-root"])
        .arg(dir.path())
        .args(["--tftp-address", "127.0.0.1:69"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    println!("{line}");
    let figures: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(figures[3], want, "soft limit raised: {line}");
}
