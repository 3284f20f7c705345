//! The control channel against real Kea 2.2: the same config (lease_cmds hook, a control
//! socket), the same DHCP traffic from perfdhcp over a veth in network namespaces, the same
//! commands written to the unix socket; the answers must be the same text, but for what
//! differs by nature (timestamps, versions, pids) and is masked.

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use support::netns::{self, Netns};

const HOOK: &str = "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so";

fn config(dir: &Path) -> PathBuf {
    let text = format!(
        r#"{{ "Dhcp4": {{
  "interfaces-config": {{ "interfaces": [ "nbcs" ], "dhcp-socket-type": "udp" }},
  "control-socket": {{ "socket-type": "unix", "socket-name": "{dir}/ctrl.sock" }},
  "lease-database": {{ "type": "memfile", "name": "{dir}/kea-leases4.csv", "lfc-interval": 0 }},
  "hooks-libraries": [ {{ "library": "{HOOK}" }} ],
  "valid-lifetime": 3600,
  "subnet4": [ {{ "id": 1, "subnet": "10.0.0.0/24", "pools": [ {{ "pool": "10.0.0.10 - 10.0.0.20" }} ] }} ],
  "loggers": [ {{ "name": "kea-dhcp4", "severity": "INFO", "output_options": [ {{ "output": "{dir}/server.log" }} ] }} ]
}} }}"#,
        dir = dir.display()
    );
    let path = dir.join("kea-dhcp4.conf");
    std::fs::write(&path, text).unwrap();
    path
}

/// One command, one connection, as `socat UNIX:path -` sends it.
fn send(socket: &Path, command: &str) -> String {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(command.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Killed by PID when the test ends, whatever happens.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(ns: &Netns, kea: bool, dir: &Path) -> Server {
    let config = config(dir);
    let child = if kea {
        ns.command("kea-dhcp4")
            .arg("-c")
            .arg(&config)
            .env("KEA_LOCKFILE_DIR", dir)
            .env("KEA_PIDFILE_DIR", dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    } else {
        ns.command(env!("CARGO_BIN_EXE_netbootd"))
            .args(["serve", "--kea-version", "2.2", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let server = Server(child);
    let socket = dir.join("ctrl.sock");
    for _ in 0..100 {
        if UnixStream::connect(&socket).is_ok() {
            // The DHCP socket is opened with the configuration; give it a moment.
            std::thread::sleep(Duration::from_millis(300));
            return server;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "{} did not open its control socket",
        if kea { "kea-dhcp4" } else { "netbootd" }
    );
}

/// Timestamps, lease times and the like, which differ from run to run.
fn mask(answer: &str) -> String {
    let stamp = regex::Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}").unwrap();
    let cltt = regex::Regex::new(r#""cltt": \d+"#).unwrap();
    let masked = stamp.replace_all(answer, "TIME");
    cltt.replace_all(&masked, r#""cltt": CLTT"#).into_owned()
}

const COMMANDS: &[&str] = &[
    r#"{"command":"statistic-get","arguments":{"name":"pkt4-received"}}"#,
    r#"{"command":"statistic-get","arguments":{"name":"subnet[1].assigned-addresses"}}"#,
    r#"{"command":"statistic-get","arguments":{"name":"nope"}}"#,
    r#"{"command":"statistic-get"}"#,
    r#"{"command":"nonsense"}"#,
    r#"garbage"#,
    r#"{"command":"lease4-get","arguments":{"ip-address":"10.0.0.99"}}"#,
    r#"{"command":"lease4-add","arguments":{"ip-address":"10.0.0.99","hw-address":"52:54:00:00:00:99"}}"#,
    r#"{"command":"lease4-get","arguments":{"ip-address":"10.0.0.99"}}"#,
    r#"{"command":"lease4-get-by-hw-address","arguments":{"hw-address":"52:54:00:00:00:99"}}"#,
    r#"{"command":"lease4-update","arguments":{"ip-address":"10.0.0.99","hw-address":"52:54:00:00:00:98","hostname":"node99"}}"#,
    r#"{"command":"lease4-get-by-hostname","arguments":{"hostname":"node99"}}"#,
    r#"{"command":"lease4-add","arguments":{"ip-address":"10.0.0.99","hw-address":"52:54:00:00:00:99"}}"#,
    r#"{"command":"lease4-add","arguments":{"ip-address":"192.0.2.1","hw-address":"52:54:00:00:00:99"}}"#,
    r#"{"command":"lease4-add","arguments":{"ip-address":"10.0.0.98","subnet-id":7,"hw-address":"52:54:00:00:00:97"}}"#,
    r#"{"command":"lease4-update","arguments":{"ip-address":"10.0.0.97","hw-address":"52:54:00:00:00:97"}}"#,
    r#"{"command":"statistic-get","arguments":{"name":"subnet[1].assigned-addresses"}}"#,
    r#"{"command":"lease4-del","arguments":{"ip-address":"10.0.0.99"}}"#,
    r#"{"command":"lease4-del","arguments":{"ip-address":"10.0.0.99"}}"#,
    r#"{"command":"lease4-get-all","arguments":{"subnets":[2]}}"#,
    r#"{"command":"leases-reclaim"}"#,
    r#"{"command":"leases-reclaim","arguments":{"remove":true}}"#,
    r#"{"command":"statistic-reset","arguments":{"name":"pkt4-received"}}"#,
    r#"{"command":"statistic-get","arguments":{"name":"pkt4-received"}}"#,
    r#"{"command":"lease4-wipe","arguments":{"subnet-id":1}}"#,
    r#"{"command":"lease4-wipe","arguments":{"subnet-id":1}}"#,
    r#"{"command":"statistic-get-all"}"#,
    r#"{"command":"statistic-reset-all"}"#,
];

/// What one server answers to the traffic, then the commands; and its log.
fn session(kea: bool) -> (Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let server_ns = Netns::new("cs");
    let client = Netns::new("cc");
    netns::veth(
        &server_ns,
        "nbcs",
        Some("10.0.0.1/24"),
        &client,
        "nbcc",
        Some("10.0.0.2/24"),
    );
    let mut server = start(&server_ns, kea, dir.path());
    // Five clients, one DORA each, as a relay (giaddr 10.0.0.2) would send them; -W waits a
    // second for the last answers, so none is cut off by perfdhcp's exit.
    let out = client
        .command("perfdhcp")
        .args([
            "-4", "-l", "10.0.0.2", "-r", "10", "-R", "5", "-n", "5", "-W", "1000000", "10.0.0.1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Statistics for: REQUEST-ACK"), "{text}");
    std::thread::sleep(Duration::from_millis(300));
    let socket = dir.path().join("ctrl.sock");
    let mut answers: Vec<String> = COMMANDS.iter().map(|c| mask(&send(&socket, c))).collect();
    for c in config_commands(dir.path()) {
        answers.push(mask(&send(&socket, &c)));
    }
    // shutdown stops the process, cleanly.
    let mut exited = None;
    for _ in 0..50 {
        exited = server.0.try_wait().unwrap();
        if exited.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        exited.is_some_and(|s| s.success()),
        "still running or failed after shutdown: {exited:?}"
    );
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
    (answers, log)
}

/// The log lines operators grep for, from the logger on (time, pid and thread dropped).
fn lease_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split_once("] "))
        .filter(|(head, rest)| {
            head.contains(" INFO ")
                && (rest.starts_with("DHCP4_LEASE_") || rest.starts_with("COMMAND_RECEIVED"))
        })
        .map(|(head, rest)| {
            let logger = head
                .rsplit('[')
                .next()
                .and_then(|l| l.split('/').next())
                .unwrap_or("");
            format!("{logger} {rest}")
        })
        .collect()
}

/// config-test and config-set with the file's own configuration (valid-lifetime changed),
/// config-test with a broken one (result only: the messages name Kea's C++ internals), then
/// shutdown.
fn config_commands(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("kea-dhcp4.conf")).unwrap();
    let changed = text.replace("\"valid-lifetime\": 3600", "\"valid-lifetime\": 7200");
    let mut broken: serde_json::Value = serde_json::from_str(&changed).unwrap();
    broken["Dhcp4"]["valid-lifetime"] = serde_json::json!("x");
    vec![
        format!(r#"{{"command":"config-test","arguments":{changed}}}"#),
        format!(r#"{{"command":"config-set","arguments":{changed}}}"#),
        r#"{"command":"statistic-get","arguments":{"name":"subnet[1].total-addresses"}}"#.into(),
        format!(r#"{{"command":"config-test","arguments":{broken}}}"#),
        r#"{"command":"shutdown"}"#.into(),
    ]
}

fn result_of(answer: &str) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(answer).ok()?["result"].as_i64()
}

#[test]
fn commands_answer_as_kea_2_2_answers_them() {
    if !support::require_tool("kea-dhcp4")
        || !support::require_tool("perfdhcp")
        || !netns::available()
    {
        return;
    }
    if !Path::new(HOOK).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{HOOK} missing under CI=true"
        );
        eprintln!("skipping: {HOOK} is not installed");
        return;
    }
    let (kea, kea_log) = session(true);
    let (ours, our_log) = session(false);
    // The lease lines and command lines of the log, in Kea's layout, are the same lines.
    let (kea_lines, our_lines) = (lease_lines(&kea_log), lease_lines(&our_log));
    assert!(
        kea_lines.iter().any(|l| l.contains("DHCP4_LEASE_ALLOC")),
        "{kea_log}"
    );
    assert_eq!(
        kea_lines, our_lines,
        "kea's log:\n{kea_log}\nnetbootd's log:\n{our_log}"
    );
    for id in [
        "DHCP4_STARTING",
        "DHCP4_CONFIG_COMPLETE",
        "DHCP4_STARTED",
        "DHCP4_SHUTDOWN",
    ] {
        assert!(
            our_log.contains(&format!("] {id} ")),
            "{id} missing:\n{our_log}"
        );
    }
    let mut differences = Vec::new();
    let names = COMMANDS.iter().map(|c| c.to_string()).chain(
        [
            "config-test",
            "config-set",
            "total-addresses",
            "config-test broken",
            "shutdown",
        ]
        .map(String::from),
    );
    for ((command, k), o) in names.zip(&kea).zip(&ours) {
        let same = if command == "config-test broken" {
            result_of(k) == result_of(o) && result_of(k) == Some(1)
        } else {
            k == o
        };
        if !same {
            differences.push(format!("{command}\n  kea:      {k}\n  netbootd: {o}"));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
