//! netbootd's control channel and metrics endpoint on their own (the answers Kea gives too
//! are compared with Kea's in control_vs_kea.rs): lease commands only with the lease_cmds
//! hook, config-get/config-write/config-reload round trips, status-get, TFTP counters, and
//! the Prometheus endpoint. netbootd runs in a network namespace of the test's own, on its
//! loopback.

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use support::netns::{self, Netns};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn send(socket: &Path, command: &Value) -> Value {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(command.to_string().as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn config(dir: &Path, lifetime: u32) -> String {
    format!(
        r#"{{ "Dhcp4": {{
  // comments are Kea's dialect, and config-get gives plain JSON
  "interfaces-config": {{ "interfaces": [ "lo" ], "dhcp-socket-type": "udp" }},
  "control-socket": {{ "socket-type": "unix", "socket-name": "{dir}/ctrl.sock" }},
  "lease-database": {{ "type": "memfile", "name": "{dir}/leases.csv" }},
  "valid-lifetime": {lifetime},
  "subnet4": [ {{ "id": 1, "subnet": "127.0.0.0/8", "pools": [ {{ "pool": "127.0.0.10 - 127.0.0.20" }} ] }} ]
}} }}"#,
        dir = dir.display()
    )
}

#[test]
fn the_control_channel_serves_operators_without_the_lease_hook() {
    if !netns::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kea-dhcp4.conf");
    std::fs::write(&path, config(dir.path(), 3600)).unwrap();
    let root = dir.path().join("tftp");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("ipxe.efi"), vec![7u8; 3000]).unwrap();
    let ns = Netns::new("ctl");
    ns.run_ip(&["link", "set", "lo", "up"]);
    let server = Server(
        ns.command(env!("CARGO_BIN_EXE_netbootd"))
            .args([
                "serve",
                "--dhcp-port",
                "10067",
                "--metrics",
                "127.0.0.1:9547",
            ])
            .args(["--tftp-address", "127.0.0.1:10069", "--tftp-root"])
            .arg(&root)
            .arg("--config")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let socket = dir.path().join("ctrl.sock");
    for _ in 0..100 {
        if UnixStream::connect(&socket).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    // Without libdhcp_lease_cmds.so the lease commands do not exist, as in Kea.
    let listed = send(&socket, &json!({"command": "list-commands"}));
    let names: Vec<&str> = listed["arguments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(names.contains(&"statistic-get-all") && names.contains(&"config-set"));
    assert!(!names.iter().any(|n| n.starts_with("lease4-")), "{names:?}");
    let answer = send(&socket, &json!({"command": "lease4-get-all"}));
    assert_eq!(
        answer,
        json!({"result": 2, "text": "'lease4-get-all' command not supported."})
    );

    let status = send(&socket, &json!({"command": "status-get"}));
    assert_eq!(status["arguments"]["pid"], json!(server.0.id()));

    // config-get: the file's configuration, comments gone; config-write puts it in a file
    // that checks as valid; a changed file comes in with config-reload.
    let got = send(&socket, &json!({"command": "config-get"}));
    assert_eq!(got["arguments"]["Dhcp4"]["valid-lifetime"], json!(3600));
    let written = dir.path().join("written.json");
    let answer = send(
        &socket,
        &json!({"command": "config-write", "arguments": {"filename": written}}),
    );
    assert_eq!(answer["result"], json!(0), "{answer}");
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_netbootd"))
        .args(["check", "--kea-version", "2.2"])
        .arg(&written)
        .output()
        .unwrap();
    assert!(check.status.success(), "{:?}", check);
    std::fs::write(&path, config(dir.path(), 900)).unwrap();
    let answer = send(&socket, &json!({"command": "config-reload"}));
    assert_eq!(
        answer,
        json!({"result": 0, "text": "Configuration successful."})
    );
    let got = send(&socket, &json!({"command": "config-get"}));
    assert_eq!(got["arguments"]["Dhcp4"]["valid-lifetime"], json!(900));
    std::fs::write(&path, "{ \"Dhcp4\": { \"valid-lifetime\": \"x\" } }").unwrap();
    let answer = send(&socket, &json!({"command": "config-reload"}));
    assert_eq!(answer["result"], json!(1), "{answer}");
    let got = send(&socket, &json!({"command": "config-get"}));
    assert_eq!(
        got["arguments"]["Dhcp4"]["valid-lifetime"],
        json!(900),
        "old one kept"
    );

    // A TFTP download counts, and the Prometheus endpoint shows it.
    let fetched = dir.path().join("fetched");
    let tftp = ns
        .command("curl")
        .args(["-s", "-o"])
        .arg(&fetched)
        .arg("tftp://127.0.0.1:10069/ipxe.efi")
        .status();
    let metrics = ns
        .command("curl")
        .args(["-s", "http://127.0.0.1:9547/metrics"])
        .output();
    match (tftp, metrics) {
        (Ok(s), Ok(metrics)) if s.success() => {
            assert_eq!(std::fs::read(&fetched).unwrap().len(), 3000);
            let all = send(&socket, &json!({"command": "statistic-get-all"}));
            assert_eq!(
                all["arguments"]["tftp-bytes-sent"][0][0],
                json!(3000),
                "{all}"
            );
            let text = String::from_utf8_lossy(&metrics.stdout);
            assert!(text.contains("netbootd_tftp_bytes_sent 3000"), "{text}");
            assert!(
                text.contains("netbootd_subnet_total_addresses{subnet=\"1\"} 11"),
                "{text}"
            );
        }
        _ => assert!(support::require_tool("curl")),
    }
}
