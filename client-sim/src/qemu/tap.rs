//! `bootsim qemu --iface BRIDGE`: the VM on a real segment instead of the in-process one, to
//! boot against any server (real Kea and tftpd-hpa, dnsmasq). bootsim adds a tap of its own
//! to an existing Linux bridge, gives it to QEMU (`-netdev tap`), watches it with an
//! AF_PACKET socket (frames the VM sent arrive on the tap, frames for the VM leave by it) and
//! deletes it afterwards. Needs CAP_NET_ADMIN; it touches no interface but its own tap.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use netbootd::wire::packet_socket::{Direction, PacketSocket};

use crate::net::iface::watch;

use super::QemuError;

/// A tap device on a bridge, removed when dropped.
pub struct Tap {
    pub name: String,
    socket: PacketSocket,
}

fn ip(args: &[&str]) -> Result<(), QemuError> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| QemuError::Tool {
            tool: "ip".into(),
            message: e.to_string(),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(QemuError::Tool {
            tool: "ip".into(),
            message: format!(
                "{}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

impl Tap {
    /// Adds a tap named after this process to `bridge` and brings it up.
    pub fn on_bridge(bridge: &str) -> Result<Tap, QemuError> {
        if !Path::new(&format!("/sys/class/net/{bridge}/bridge")).exists() {
            return Err(QemuError::Input(format!(
                "--iface {bridge}: not a Linux bridge (bootsim puts the VM's tap on a bridge \
                 that reaches the servers)"
            )));
        }
        // IFNAMSIZ is 16 with the NUL: "bsq" and at most 7 digits.
        let name = format!("bsq{}", std::process::id() % 10_000_000);
        ip(&["tuntap", "add", "dev", &name, "mode", "tap"])?;
        let tap = Tap {
            socket: match watch(&name) {
                Ok(s) => s,
                Err(e) => {
                    let _ = ip(&["link", "del", &name]);
                    return Err(QemuError::Socket(e));
                }
            },
            name,
        };
        ip(&["link", "set", &tap.name, "master", bridge])?;
        ip(&["link", "set", &tap.name, "up"])?;
        Ok(tap)
    }

    /// The next frame on the tap within `wait`: its bytes, and whether the VM sent it.
    pub fn frame(&self, wait: Duration) -> Option<(Vec<u8>, bool)> {
        // Frames the VM sends are received on the tap; frames for it go out of the tap.
        self.socket
            .receive(wait)
            .map(|(f, direction)| (f, direction == Direction::Inbound))
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.name]);
    }
}
