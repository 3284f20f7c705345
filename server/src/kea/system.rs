//! What `kea-dhcp4 -t` asks of the machine it runs on: do the named interfaces exist, can the
//! hooks libraries be opened. Behind a trait so tests can describe another machine.

use std::path::Path;

pub trait System {
    fn interface_exists(&self, name: &str) -> bool;
    fn file_exists(&self, path: &Path) -> bool;
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
}
