//! netbootd serving TFTP as a child process on loopback, for tests.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(root: &Path, extra: &[&str]) -> Server {
    // option_env!: bootsim's tests share this support code and have no netbootd binary.
    let Some(netbootd) = option_env!("CARGO_BIN_EXE_netbootd") else {
        panic!("netbootd serving TFTP is for netbootd's own tests");
    };
    let mut child = Command::new(netbootd)
        .args(["serve", "--tftp-root"])
        .arg(root)
        .args(["--tftp-address", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // netbootd logs as Kea does, to stdout by default: "... serving TFTP from ROOT on ADDR".
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !line.contains("serving TFTP from") {
                continue;
            }
            if let Some(rest) = line.rsplit(" on ").next() {
                let addr: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
                let _ = tx.send(addr);
            }
        }
    });
    let mut server = Server {
        child,
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
    };
    // On failure `server` is dropped, which kills the child: no orphan keeps serving.
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("netbootd serving TFTP");
    server.addr = addr.parse().unwrap_or_else(|_| panic!("address {addr}"));
    server
}
