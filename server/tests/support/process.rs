//! A netbootd under test in a namespace: its log lines as they come, and what the kernel says
//! about it (/proc/PID/status and fd/) for the flood tests' figures.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::netns::Netns;

pub struct Daemon {
    pub child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    /// Starts `netbootd ARGS` in `ns` and waits (20 s at most) for a log line containing
    /// `ready`.
    pub fn start(ns: &Netns, args: &[&str], ready: &str) -> Daemon {
        let Some(netbootd) = option_env!("CARGO_BIN_EXE_netbootd") else {
            panic!("for netbootd's own tests");
        };
        // `ip netns exec` execs the program: the child's PID is netbootd's.
        let mut child = ns
            .command(netbootd)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("netbootd starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    log.lock().expect("log").push(line);
                }
            });
        }
        let daemon = Daemon { child, log };
        let ok = daemon.wait_for(ready, Duration::from_secs(20));
        assert!(
            ok,
            "netbootd never logged {ready:?}:\n{}",
            daemon.lines().join("\n")
        );
        daemon
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn lines(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }

    /// Lines containing `text`.
    pub fn count(&self, text: &str) -> usize {
        self.log
            .lock()
            .expect("log")
            .iter()
            .filter(|l| l.contains(text))
            .count()
    }

    pub fn wait_for(&self, text: &str, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.count(text) > 0 {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Whether it still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// A field of /proc/PID/status in kB (VmRSS, VmHWM), or its text (Uid, CapEff).
    pub fn status(&self, field: &str) -> String {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("status");
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in /proc/PID/status"))
            .trim()
            .to_string()
    }

    /// A memory figure of /proc/PID/status in KiB.
    pub fn kib(&self, field: &str) -> u64 {
        let text = self.status(field);
        text.trim_end_matches(" kB")
            .trim()
            .parse()
            .expect("kB figure")
    }

    /// CPU time used so far (user and system), from /proc/PID/stat.
    pub fn cpu(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the command's closing parenthesis: utime and stime are the 12th and
        // 13th, in clock ticks (100 a second on Linux).
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let ticks: u64 = rest
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|t| t.parse::<u64>().ok())
            .sum();
        Duration::from_millis(ticks * 10)
    }

    /// Open descriptors.
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Waits up to `limit` for the descriptor count to fall to `at_most`; the last count.
    pub fn fds_settle(&self, at_most: usize, limit: Duration) -> usize {
        let start = Instant::now();
        loop {
            let n = self.fds();
            if n <= at_most || start.elapsed() > limit {
                return n;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
