//! Real firmware against real servers: `bootsim qemu --iface` puts the VM (OVMF, Debian's
//! ipxe.efi and refind_x64.efi) on a tap on a bridge in a network namespace this test
//! creates, whose other port reaches Debian's Kea 2.2 running the guide's config and
//! tftpd-hpa serving the guide's root in a second namespace. The VM must reach the loader on
//! its disk, and `--compare` must find the simulation (netbootd in-process, the guide's
//! config unmodified) taking the same steps with the same bytes.

mod real_servers;
#[path = "../../server/tests/support/mod.rs"]
mod support;

use real_servers::{fixture, kea_config, seed_root, start_kea, start_tftpd};
use serde_json::Value;
use support::netns::{self, Netns};

#[test]
fn real_ovmf_boots_the_guides_chain_against_real_kea_and_tftpd_hpa() {
    let tools = [
        "qemu-system-x86_64",
        "grub-mkstandalone",
        "sgdisk",
        "mkfs.fat",
        "mcopy",
        "kea-dhcp4",
        "in.tftpd",
        "apt-get",
    ];
    if !tools.iter().all(|t| support::require_tool(t)) || !netns::available() {
        return;
    }
    let root = seed_root();
    let dir = tempfile::tempdir().unwrap();
    let server = Netns::new("qs");
    let client = Netns::new("qc");
    netns::veth(
        &server,
        "nbq0",
        Some("192.168.1.1/28"),
        &client,
        "nbq1",
        None,
    );
    // The VM's side: a bridge whose first port is the veth (carrier before QEMU attaches).
    client.run_ip(&["link", "add", "nbqbr", "type", "bridge"]);
    client.run_ip(&["link", "set", "nbq1", "master", "nbqbr"]);
    client.run_ip(&["link", "set", "nbqbr", "up"]);
    let _kea = start_kea(
        &server,
        &kea_config("seed/kea-dhcp4.conf", dir.path(), "nbq0", "kea-dhcp4.conf"),
        dir.path(),
    );
    let _tftpd = start_tftpd(&server, "192.168.1.1", &root);
    let run = client
        .command(env!("CARGO_BIN_EXE_bootsim"))
        .args(["qemu", "--iface", "nbqbr", "--config"])
        .arg(fixture("seed/kea-dhcp4.conf"))
        .arg("--tftp-root")
        .arg(&root)
        .arg("--disk")
        .arg(fixture("disks/debian.toml"))
        .args(["--compare", "--json", "--timeout", "240"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        )
    });
    for s in json["real"]["steps"].as_array().into_iter().flatten() {
        eprintln!(
            "{:>7} {:<12} {}",
            s["at"],
            s["stage"].as_str().unwrap_or_default(),
            s["detail"].as_str().unwrap_or_default()
        );
    }
    for r in json["real_wire"]["rounds"].as_array().into_iter().flatten() {
        for m in r["messages"].as_array().into_iter().flatten() {
            eprintln!(
                "round {} {}: {} {} type {} secs {}",
                r["xid"],
                r["client"],
                m["at"],
                if m["from_client"] == true {
                    "client"
                } else {
                    "server"
                },
                m["kind"],
                m["secs"]
            );
        }
    }
    for g in json["gaps"].as_array().into_iter().flatten() {
        eprintln!("gap {g}");
    }
    assert_eq!(json["real"]["outcome"]["result"], "booted", "{json:#}");
    let stages = |t: &Value| -> Vec<String> {
        t["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| s["stage"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(stages(&json["real"]).len(), 9, "{json:#}");
    assert_eq!(stages(&json["real"]), stages(&json["simulated"]));
    let diffs: Vec<String> = json["differences"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| d.to_string())
        .collect();
    assert!(
        diffs.is_empty(),
        "real Kea + tftpd-hpa differ:\n{}",
        diffs.join("\n")
    );
    assert_eq!(run.status.code(), Some(0));
    // The tap bootsim made is gone with the run.
    let links = client.command("ip").args(["-o", "link"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&links.stdout).contains("bsq"));
}
