//! The Debian package (ci/package.sh, run by ci/test.sh before the tests): installed with
//! dpkg on the CI machine (unpacked into a directory elsewhere), it holds the binary, the
//! systemd unit, the man page and completions; the unit's ExecStart line, run as the unit
//! runs it (its user, its two capabilities) in network and mount namespaces of the test's
//! own, where /etc/kea/kea-dhcp4.conf and /etc/default/tftpd-hpa are the test's files,
//! leases a client an address and serves it a file.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::netns::{self, Netns};

fn deb() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debian");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// The unit's `Key=value` lines.
fn unit_value<'a>(unit: &'a str, key: &str) -> Option<&'a str> {
    unit.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(str::trim)
}

#[test]
fn the_package_installs_and_its_unit_serves_the_kea_and_tftpd_hpa_files() {
    let Some(deb) = deb() else {
        assert!(
            !ci(),
            "no target/debian/*.deb under CI=true (ci/test.sh runs ci/package.sh)"
        );
        eprintln!("skipping: no package built (run ci/package.sh --dev)");
        return;
    };
    if !netns::available()
        || !support::require_tool("dpkg-deb")
        || !support::require_tool("udhcpc")
        || !support::require_tool("curl")
        || !support::require_tool("setpriv")
    {
        return;
    }
    // The files the unit reads are bind-mounted over Kea's and tftpd-hpa's own, which their
    // packages installed (ci/setup.sh): nothing is created under the machine's /etc.
    for file in ["/etc/kea/kea-dhcp4.conf", "/etc/default/tftpd-hpa"] {
        if !Path::new(file).exists() {
            assert!(
                !ci(),
                "{file} missing under CI=true (ci/setup.sh installs Kea and tftpd-hpa)"
            );
            eprintln!("skipping: {file} is not installed");
            return;
        }
    }
    let work = tempfile::tempdir().unwrap();
    // Under CI the machine is ours to install on; elsewhere the package is unpacked.
    let root = if ci() {
        let out = Command::new("dpkg").arg("-i").arg(&deb).output().unwrap();
        assert!(out.status.success(), "dpkg -i: {out:?}");
        // systemd's own reading of the installed unit (directives, the ExecStart binary).
        if support::require_tool("systemd-analyze") {
            let out = Command::new("systemd-analyze")
                .args(["verify", "/usr/lib/systemd/system/netbootd.service"])
                .output()
                .unwrap();
            assert!(out.status.success(), "systemd-analyze verify: {out:?}");
        }
        PathBuf::from("/")
    } else {
        let root = work.path().join("root");
        let out = Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(&root)
            .output()
            .unwrap();
        assert!(out.status.success(), "dpkg-deb -x: {out:?}");
        root
    };
    for file in [
        "usr/sbin/netbootd",
        "usr/lib/systemd/system/netbootd.service",
        "usr/share/man/man8/netbootd.8.gz",
        "usr/share/bash-completion/completions/netbootd",
    ] {
        assert!(root.join(file).exists(), "{file} not in the package");
    }
    let unit =
        std::fs::read_to_string(root.join("usr/lib/systemd/system/netbootd.service")).unwrap();
    assert_eq!(
        unit_value(&unit, "ExecStart"),
        Some("/usr/sbin/netbootd serve")
    );
    // The unit's working directory is its runtime directory; the test's state directory
    // stands in for it below.
    assert_eq!(unit_value(&unit, "WorkingDirectory"), Some("/run/kea"));
    assert_eq!(
        unit_value(&unit, "CapabilityBoundingSet"),
        Some("CAP_NET_RAW CAP_NET_BIND_SERVICE")
    );
    let unit_user = unit_value(&unit, "User").unwrap().to_string();
    // The unit's user exists where dpkg ran the postinst; elsewhere TFTP drops to nobody.
    let user = if ci() {
        unit_user
    } else {
        "nobody".to_string()
    };
    let exec: Vec<String> = unit_value(&unit, "ExecStart")
        .unwrap()
        .split_whitespace()
        .map(|w| w.replacen("/usr/sbin/", &format!("{}/usr/sbin/", root.display()), 1))
        .collect();

    // The files the unit reads, the test's own, bind-mounted over /etc in a mount namespace.
    let etc = work.path().join("etc");
    std::fs::create_dir_all(etc.join("kea")).unwrap();
    let state = work.path().join("state");
    let tftp = work.path().join("tftp");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::create_dir_all(&tftp).unwrap();
    std::fs::write(tftp.join("ipxe.efi"), vec![0x4du8; 70_000]).unwrap();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/seed/kea-dhcp4.conf");
    let kea = std::fs::read_to_string(seed)
        .unwrap()
        .replace("\"eth1\"", "\"nbpks\"")
        .replace(
            "\"lease-database\": {",
            &format!(
                "\"lease-database\": {{ \"name\": \"{}/kea-leases4.csv\",",
                state.display()
            ),
        );
    std::fs::write(etc.join("kea/kea-dhcp4.conf"), kea).unwrap();
    std::fs::write(
        etc.join("tftpd-hpa"),
        format!(
            "TFTP_USERNAME=\"{user}\"\nTFTP_DIRECTORY=\"{}\"\nTFTP_ADDRESS=\"192.168.1.1:69\"\nTFTP_OPTIONS=\"--secure\"\n",
            tftp.display()
        ),
    )
    .unwrap();
    // As the unit: its user where the package made it (CI), with its two capabilities.
    let runs_as_user = ci();
    if runs_as_user {
        let out = Command::new("chown")
            .args(["-R", &format!("{user}:{user}")])
            .arg(&state)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let _ = Command::new("chmod")
            .args(["755"])
            .arg(work.path())
            .status();
    }
    let server = Netns::new("pks");
    let client = Netns::new("pkc");
    netns::veth(
        &server,
        "nbpks",
        Some("192.168.1.1/28"),
        &client,
        "nbpkc",
        None,
    );
    let as_unit = if runs_as_user {
        format!(
            "setpriv --reuid {user} --regid {user} --init-groups \
             --inh-caps +net_raw,+net_bind_service --ambient-caps +net_raw,+net_bind_service "
        )
    } else {
        String::new()
    };
    let script = format!(
        "mount --bind {etc}/kea/kea-dhcp4.conf /etc/kea/kea-dhcp4.conf && \
         mount --bind {etc}/tftpd-hpa /etc/default/tftpd-hpa && \
         cd {state} && exec {as_unit}{}",
        exec.join(" "),
        etc = etc.display(),
        state = state.display()
    );
    let log = work.path().join("netbootd.log");
    let mut child = server
        .command("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(work.path().join("stderr")).unwrap())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let guard = Kill(&mut child);
    for _ in 0..100 {
        if std::fs::read_to_string(&log).is_ok_and(|l| l.contains("DHCP4_STARTED")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = client
        .command("udhcpc")
        .args([
            "-i",
            "nbpkc",
            "-n",
            "-q",
            "-f",
            "-t",
            "5",
            "-T",
            "1",
            "-s",
            "/bin/true",
        ])
        .output()
        .unwrap();
    let leases = std::fs::read_to_string(state.join("kea-leases4.csv")).unwrap_or_default();
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        leases.contains("192.168.1.2,"),
        "no lease: {leases}\nudhcpc: {out:?}\nnetbootd:\n{log_text}\nstderr: {}",
        std::fs::read_to_string(work.path().join("stderr")).unwrap_or_default()
    );
    client.run_ip(&["addr", "add", "192.168.1.2/28", "dev", "nbpkc"]);
    let fetched = work.path().join("fetched");
    let got = client
        .command("curl")
        .args(["-s", "-o"])
        .arg(&fetched)
        .arg("tftp://192.168.1.1/ipxe.efi")
        .status()
        .unwrap();
    assert!(got.success());
    assert_eq!(std::fs::read(&fetched).unwrap().len(), 70_000);
    drop(guard);
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(log_text.contains("DHCP4_LEASE_ALLOC"), "{log_text}");
    assert!(
        log_text.contains("RRQ from 192.168.1.2 filename ipxe.efi"),
        "{log_text}"
    );
}
