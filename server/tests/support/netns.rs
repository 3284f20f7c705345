//! Network namespaces and veth pairs that a test creates and removes itself. Nothing touches
//! the host's interfaces: both ends of every link live in namespaces named after the test
//! process, and a namespace is deleted (taking its links with it) when dropped.

use std::fs::File;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct Netns {
    pub name: String,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Whether this process may create namespaces (root with CAP_SYS_ADMIN). Under CI=true a
/// missing capability fails the test; on a developer machine the test skips, saying so.
pub fn available() -> bool {
    let probe = format!(
        "nbprobe{}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let ok = ip(&["netns", "add", &probe]);
    if ok {
        ip(&["netns", "del", &probe]);
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("network namespaces are required under CI=true (run the tests as root)");
    }
    eprintln!("skipping: cannot create network namespaces (not root?)");
    false
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("nb{}{}{}", std::process::id(), tag, n);
        assert!(ip(&["netns", "add", &name]), "ip netns add {name}");
        let ns = Netns { name };
        ns.run_ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NAME ...`, asserting success.
    pub fn run_ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        assert!(ip(&all), "ip {}", all.join(" "));
    }

    /// A command run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// busybox udhcpc on `iface` in this namespace, once (`-n -q`): the `bound` line its
    /// script saw (`bound ip=...`), or None when it got no lease. `dir` holds the script and
    /// its events file (emptied first, so the helper can be called again).
    pub fn udhcpc(&self, dir: &std::path::Path, iface: &str) -> Option<String> {
        let script = dir.join("udhcpc.sh");
        std::fs::write(
            &script,
            "#!/bin/sh\necho \"$1 ip=$ip\" >> \"$(dirname \"$0\")/events\"\n",
        )
        .unwrap();
        Command::new("chmod")
            .arg("+x")
            .arg(&script)
            .status()
            .unwrap();
        let _ = std::fs::remove_file(dir.join("events"));
        let status = self
            .command("udhcpc")
            .args(["-i", iface, "-n", "-q", "-t", "5", "-T", "1", "-s"])
            .arg(&script)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        let events = std::fs::read_to_string(dir.join("events")).unwrap_or_default();
        let bound = events.lines().find(|l| l.starts_with("bound"))?.to_string();
        status.success().then_some(bound)
    }

    /// Runs `f` on a thread that has entered the namespace (setns), so sockets it opens
    /// live there.
    pub fn enter<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = File::open(&path).expect("namespace file");
            nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .expect("namespace thread")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        ip(&["netns", "del", &self.name]);
    }
}

/// A veth pair from `a` (interface `a_if`, address `a_addr` like "192.168.1.1/28", or none)
/// to `b`.
pub fn veth(
    a: &Netns,
    a_if: &str,
    a_addr: Option<&str>,
    b: &Netns,
    b_if: &str,
    b_addr: Option<&str>,
) {
    a.run_ip(&[
        "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &b.name,
    ]);
    for (ns, iface, addr) in [(a, a_if, a_addr), (b, b_if, b_addr)] {
        if let Some(addr) = addr {
            ns.run_ip(&["addr", "add", addr, "dev", iface]);
        }
        ns.run_ip(&["link", "set", iface, "up"]);
    }
}
