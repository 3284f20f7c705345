//! "What to change": the diagnosis a failed chain ends with, in the operator's words. The
//! driver records what went wrong as a [`Change`]; the prose is written here once the run
//! is over, because the parts that name the server's classes, their lines in the config and
//! other servers on the segment are only known to the network, not to the client.

use netbootd::time::Instant;
use netbootd::wire::MacAddr;
use std::net::Ipv4Addr;

use crate::net::lan::ServerNote;
use crate::net::Network;
use crate::transcript::Classes;

/// A virtual-time window of one DHCP exchange.
pub(super) type Window = (Instant, Instant);

/// What went wrong, with what the diagnosis needs to name it.
#[derive(Debug, Clone)]
pub(super) enum Change {
    /// The DHCP answer in `window` had no boot file for this architecture.
    NoBootFile { arch: u16, window: Window },
    /// The server sent DHCPNAK for the address it had offered.
    Nak,
    /// No DHCP server answered (EDK2 PXE-E18).
    NoServer,
    /// The NBP the server named is not in its TFTP root (TFTP error 1).
    NbpMissing,
    /// The EFI image is for another machine type: serve a build with `suffix` to `arch`.
    WrongArch { suffix: &'static str, arch: u16 },
    /// An EFI firmware was handed a BIOS image.
    NotEfi,
    /// iPXE was handed iPXE again: name the class that gave the file.
    Loop { window: Window },
    /// iPXE got no boot file.
    IpxeNoFile {
        arch: u16,
        window: Window,
        server: Ipv4Addr,
    },
    /// The script waits at a command that reads the keyboard, and nothing will be typed.
    WaitsForInput,
    /// The loader rEFInd started is for another architecture.
    LoaderArch,
    /// rEFInd found no loader where `scanfor` told it to look.
    NoLoaders { scanfor: String },
}

/// Prose for one client's changes, reading the server's notes about that client.
pub(super) struct Diagnosis<'a> {
    pub net: &'a dyn Network,
    pub mac: MacAddr,
}

impl Diagnosis<'_> {
    /// The classes the server put the client's query in, in the last exchange it answered
    /// within `window`.
    pub fn classes_in(&self, window: Window) -> Vec<String> {
        self.net
            .notes_about(self.mac)
            .iter()
            .filter_map(|n| match n {
                ServerNote::Dhcp {
                    at,
                    mac: m,
                    classes,
                    reply_type,
                    ..
                } if *m == self.mac
                    && *at >= window.0
                    && *at <= window.1
                    && reply_type.is_some() =>
                {
                    Some(classes.clone())
                }
                _ => None,
            })
            .next_back()
            .unwrap_or_default()
    }

    fn own_classes(&self, window: Window) -> String {
        Classes::own(&self.classes_in(window)).quoted()
    }

    /// The "what to change" line for `change`.
    pub fn explain(&self, change: Change) -> String {
        match change {
            Change::Nak => "the server refused the address it had offered (DHCPNAK): another \
                            client took it first; the pool may be too small for this many \
                            machines"
                .into(),
            Change::NoServer => {
                "no DHCP server answered: check interfaces-config and the subnet".into()
            }
            Change::NbpMissing => {
                "the boot file named by the server is not in the TFTP root".into()
            }
            Change::WrongArch { suffix, arch } => {
                format!("serve a {suffix} build to client-system {arch:#06x}: add a class for it")
            }
            Change::NotEfi => "the EFI firmware needs an EFI application here".into(),
            Change::WaitsForInput => {
                "give the command a --timeout, or type for it (bootsim boot --choose/--keys, \
                 a scenario client's input)"
                    .into()
            }
            Change::LoaderArch => "the loader is built for another architecture".into(),
            Change::NoLoaders { scanfor } => {
                format!("scanfor is {scanfor}: no EFI loader on those disks")
            }
            Change::NoBootFile { arch, window } => {
                let others = self.other_servers(window);
                if others.is_empty() {
                    format!(
                        "the server's answer to client-system {arch:#06x} ({}) has no boot file: \
                         add a class matching `option[client-system].hex == {arch:#06x}` with a \
                         boot-file-name and next-server",
                        self.own_classes(window)
                    )
                } else {
                    format!(
                        "another DHCP server answered too ({}): EDK2 takes an offer that carries \
                         option 60 \"PXEClient\" over one with a boot file, then asks that \
                         server on UDP 4011; stop it from answering PXE clients (or from sending \
                         option 60)",
                        others.join(", ")
                    )
                }
            }
            Change::Loop { window } => {
                let classes = self.classes_in(window);
                let place = self
                    .boot_class(&classes)
                    .map(|c| self.class_place(&c))
                    .unwrap_or_else(|| "a class".into());
                format!(
                    "iPXE was offered its own binary again: class {place} also matches iPXE \
                     (user-class \"iPXE\"); exclude it with `not option[user-class].exists` or \
                     put the iPXE class first"
                )
            }
            Change::IpxeNoFile {
                arch,
                window,
                server,
            } => {
                if self.net.server_addr().is_some_and(|ours| ours != server) {
                    format!(
                        "iPXE took its lease from another DHCP server ({server}), which gives no \
                         boot file: iPXE keeps the last offer of the highest priority; remove \
                         that server from this segment, or raise netbootd's with \
                         option 175.1 (priority)"
                    )
                } else {
                    format!(
                        "iPXE (client-system {arch:#06x}, user-class iPXE) matched {}: no class \
                         gives it a boot file",
                        self.own_classes(window)
                    )
                }
            }
        }
    }

    /// Other servers that answered the client within `window`.
    fn other_servers(&self, window: Window) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in self.net.notes_about(self.mac) {
            if let ServerNote::Dhcp {
                at,
                server,
                server_addr,
                mac: m,
                reply_type: Some(_),
                ..
            } = n
            {
                let addr = server_addr.to_string();
                if *server != 0
                    && *m == self.mac
                    && *at >= window.0
                    && *at <= window.1
                    && !out.contains(&addr)
                {
                    out.push(addr);
                }
            }
        }
        out
    }

    /// Where the config defines `class` ("kea-dhcp4.conf:33").
    fn class_place(&self, class: &str) -> String {
        self.net
            .config()
            .into_iter()
            .flat_map(|c| c.classes.iter())
            .find(|c| c.name == class)
            .map(|c| {
                let file = c
                    .span
                    .file
                    .rsplit('/')
                    .next()
                    .unwrap_or(&c.span.file)
                    .to_string();
                format!("'{class}' at {file}:{}", c.span.start.line)
            })
            .unwrap_or_else(|| format!("'{class}'"))
    }

    /// The first class with a boot-file-name among `classes` (Kea takes the first).
    fn boot_class(&self, classes: &[String]) -> Option<String> {
        let config = self.net.config()?;
        classes
            .iter()
            .find(|c| {
                config
                    .classes
                    .iter()
                    .any(|k| &k.name == *c && k.boot_file_name.is_some())
            })
            .cloned()
    }
}
