//! The library's public face: a network (a Kea config and a TFTP root, served by netbootd
//! in-process), machines (firmware, MAC, disks, what is typed at their console), faults,
//! and a run in virtual time whose [`Boot`]s are asserted on in the domain's words.
//!
//! It is a thin layer over the scenario runner: a [`Network`] with its [`Machine`]s is the
//! scenario file a test would otherwise write, so a builder test and a scenario file of the
//! same boot give the same transcript.

#![warn(missing_docs)]

mod boot;
mod real;
mod validate;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub use boot::{Boot, Run};
#[cfg(feature = "audit")]
pub use real::{audit, Audit, ClientAudit};
pub use validate::Validation;

use crate::chain::Firmware;
use crate::firmware::ipxe::keyboard::Input;
use crate::net::lan::Faults;
use netbootd::kea::KeaVersion;

use crate::scenario::{ClientDecl, Expect, Scenario, ScenarioError, ScenarioFile, ServerDecl};

/// Why a run could not start: a file that cannot be read or a config Kea would refuse,
/// named with its place (`file:line:col`, or Kea's `file:line.col`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The network or a machine is declared wrongly, or one of its files is unreadable.
    #[error("{0}")]
    Setup(String),
}

/// A Kea release line as a user wrote it (`"2.6"`), checked.
fn kea_version(text: Option<&str>) -> Result<Option<KeaVersion>, Error> {
    text.map(|v| {
        v.parse()
            .map_err(|e: netbootd::kea::version::UnknownVersion| Error::Setup(e.to_string()))
    })
    .transpose()
}

/// The network a machine boots on: netbootd in-process with the operator's Kea config and
/// TFTP files, on one segment in virtual time (a 60-second firmware timeout costs nothing).
///
/// ```
/// use bootsim::prelude::*;
///
/// let boot = Network::kea("../fixtures/seed/kea-dhcp4.conf")
///     .file("ipxe.efi", "ipxe:x64")
///     .file("refind.pxe", "file:../fixtures/seed/refind.pxe")
///     .file("refind.conf", "file:../fixtures/seed/refind.conf")
///     .file("refind_x64.efi", "refind:x64")
///     .boot(&Machine::new(Firmware::UefiX64).disk("../fixtures/disks/debian.toml"))
///     .unwrap();
/// boot.assert_booted(r"EFI\debian\grubx64.efi")
///     .assert_fetched(&["ipxe.efi", "refind.pxe", "refind_x64.efi"])
///     .assert_class("PXE UEFI");
/// ```
#[derive(Debug, Clone)]
pub struct Network {
    server: ServerDecl,
    faults: Faults,
    relay: Option<Ipv4Addr>,
    kea_version: Option<String>,
}

impl Network {
    /// A network whose DHCP server runs this `kea-dhcp4.conf` (includes and comments as
    /// Kea reads them), as Kea's newest release line would.
    pub fn kea(config: impl Into<PathBuf>) -> Network {
        Network {
            server: ServerDecl {
                config: config.into(),
                kea_version: None,
                address: None,
                tftp_root: None,
                files: BTreeMap::new(),
            },
            faults: Faults::default(),
            relay: None,
            kea_version: None,
        }
    }

    /// Validate and answer as this Kea release line would (`2.2`, `2.4`, `2.6`, `3.0`).
    pub fn kea_version(mut self, version: &str) -> Network {
        self.kea_version = Some(version.to_string());
        self
    }

    /// Serve TFTP from this directory, as tftpd-hpa with `--secure` would.
    pub fn tftp_root(mut self, dir: impl Into<PathBuf>) -> Network {
        self.server.tftp_root = Some(dir.into());
        self
    }

    /// Serve TFTP from the `TFTP_DIRECTORY` of a tftpd-hpa defaults file
    /// (`/etc/default/tftpd-hpa`).
    pub fn tftpd_hpa(self, defaults: impl AsRef<Path>) -> Result<Network, Error> {
        let d = netbootd::tftp::defaults::read(defaults.as_ref())
            .map_err(|e| Error::Setup(e.to_string()))?;
        Ok(self.tftp_root(d.directory))
    }

    /// Put one file in the TFTP root, from a content spec, as scenario files write them:
    /// `file:PATH` (a file of the repository), `text:...`, or a small stand-in for a binary
    /// the repository does not keep: `ipxe:ARCH` (an iPXE EFI build), `refind:ARCH`,
    /// `pe:ARCH:TAG` (an EFI application), ARCH one of `x64`, `ia32`, `aa64`. With a
    /// [`tftp_root`](Network::tftp_root) too, the files are added to a copy of it.
    pub fn file(mut self, name: &str, spec: &str) -> Network {
        self.server.files.insert(name.to_string(), spec.to_string());
        self
    }

    /// The DHCP server's own address (default: the first address of the first subnet).
    pub fn server_address(mut self, addr: Ipv4Addr) -> Network {
        self.server.address = Some(addr);
        self
    }

    /// The machines sit behind a DHCP relay agent with this address (giaddr).
    pub fn relay(mut self, agent: Ipv4Addr) -> Network {
        self.relay = Some(agent);
        self
    }

    /// Frames lost, duplicated, delayed or reordered on the segment, seeded so that a run
    /// repeats exactly.
    ///
    /// ```
    /// use bootsim::prelude::*;
    ///
    /// let faults = Faults {
    ///     seed: 7,
    ///     to_client: LinkFaults { loss: 0.3, ..LinkFaults::default() },
    ///     ..Faults::default()
    /// };
    /// let net = Network::kea("../fixtures/seed/kea-dhcp4.conf").faults(faults);
    /// # let _ = net;
    /// ```
    pub fn faults(mut self, faults: Faults) -> Network {
        self.faults = faults;
        self
    }

    /// Boots one machine.
    pub fn boot(&self, machine: &Machine) -> Result<Boot, Error> {
        let mut run = self.run(std::slice::from_ref(machine))?;
        Ok(run.boots.remove(0))
    }

    /// Boots every machine at once on the segment (they race for leases and for the
    /// server, as at a power-on).
    pub fn run(&self, machines: &[Machine]) -> Result<Run, Error> {
        let mut server = self.server.clone();
        server.kea_version = kea_version(self.kea_version.as_deref())?;
        let mut client = Vec::new();
        for m in machines {
            client.push(m.decl()?);
        }
        let scenario = Scenario {
            file: ScenarioFile {
                name: "bootsim::Network".into(),
                description: String::new(),
                server,
                extra_server: Vec::new(),
                client,
                faults: self.faults.clone(),
                relay: self.relay,
                link: None,
                expect: Expect::default(),
            },
            // Relative paths are relative to where the test runs (cargo: the package).
            path: PathBuf::from("bootsim-network"),
        };
        // The message names the file and place it is about (the Kea config's line.col, a
        // disk recipe's line:col); the in-memory scenario has no file to name.
        let run = scenario
            .run()
            .map_err(|ScenarioError::Bad { message, .. }| Error::Setup(message))?;
        Ok(Run::new(run))
    }
}

/// One machine: its firmware, MAC, disks and what someone at its console types.
///
/// ```
/// use bootsim::prelude::*;
///
/// let m = Machine::new(Firmware::IpxeEfi)
///     .mac("52:54:00:00:00:01")
///     .disk("../fixtures/disks/debian.toml")
///     .choose("linux")
///     .key("enter");
/// # let _ = m;
/// ```
#[derive(Debug, Clone)]
pub struct Machine {
    firmware: Firmware,
    mac: Option<String>,
    count: usize,
    disks: Vec<PathBuf>,
    input: Vec<String>,
}

impl Machine {
    /// A machine that starts with `firmware`, MAC 52:54:00:12:34:56 (the next free one
    /// after the machines before it), no disk, nobody at the keyboard.
    pub fn new(firmware: Firmware) -> Machine {
        Machine {
            firmware,
            mac: None,
            count: 1,
            disks: Vec::new(),
            input: Vec::new(),
        }
    }

    /// Its MAC address, `52:54:00:12:34:56`.
    pub fn mac(mut self, mac: &str) -> Machine {
        self.mac = Some(mac.to_string());
        self
    }

    /// This many identical machines, MACs counting up from this one's.
    pub fn count(mut self, n: usize) -> Machine {
        self.count = n;
        self
    }

    /// A disk: a recipe (`.toml`, what is on each volume) or a GPT image.
    pub fn disk(mut self, path: impl Into<PathBuf>) -> Machine {
        self.disks.push(path.into());
        self
    }

    /// At the next `choose` menu of an iPXE script, pick the item with this label.
    pub fn choose(mut self, item: &str) -> Machine {
        self.input.push(format!("item:{item}"));
        self
    }

    /// At the next `prompt` or menu, press this key (`enter`, `esc`, `ctrl-b`, a
    /// character); at a `read`, type this line.
    pub fn key(mut self, key: &str) -> Machine {
        self.input.push(format!("key:{key}"));
        self
    }

    fn decl(&self) -> Result<ClientDecl, Error> {
        let mac = match &self.mac {
            Some(m) => Some(
                m.parse::<netbootd::wire::MacAddr>()
                    .map_err(|e| Error::Setup(e.to_string()))?,
            ),
            None => None,
        };
        let input = self
            .input
            .iter()
            .map(|i| Input::parse(i).map_err(Error::Setup))
            .collect::<Result<_, _>>()?;
        Ok(ClientDecl {
            firmware: self.firmware,
            mac,
            count: self.count,
            disks: self.disks.clone(),
            input,
        })
    }
}
