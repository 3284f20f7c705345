//! What `kea-dhcp4 -t` asks of the machine it runs on: do the named interfaces exist, can the
//! hooks libraries be opened. Behind a trait so tests can describe another machine.

use std::net::Ipv4Addr;
use std::path::Path;

pub trait System {
    fn interface_exists(&self, name: &str) -> bool;
    fn file_exists(&self, path: &Path) -> bool;
    /// Whether `name` holds `addr` (Iface::hasAddress, for `interfaces: ["eth0/10.0.0.1"]`).
    /// A described machine that has every interface it is asked about has its addresses too.
    fn interface_has_address(&self, name: &str, _addr: Ipv4Addr) -> bool {
        self.interface_exists(name)
    }
}

/// This machine, as Kea sees it: interfaces from /sys/class/net.
pub struct LocalSystem;

impl System for LocalSystem {
    fn interface_exists(&self, name: &str) -> bool {
        !name.is_empty() && !name.contains('/') && Path::new("/sys/class/net").join(name).exists()
    }

    fn file_exists(&self, path: &Path) -> bool {
        path.is_file()
    }

    /// IfaceMgr detects addresses with getifaddrs(3) (IfaceMgr::detectIfaces, Linux).
    fn interface_has_address(&self, name: &str, addr: Ipv4Addr) -> bool {
        let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
            return false;
        };
        addrs.into_iter().any(|a| {
            a.interface_name == name
                && a.address
                    .as_ref()
                    .and_then(|s| s.as_sockaddr_in())
                    .is_some_and(|s| s.ip() == addr)
        })
    }
}
