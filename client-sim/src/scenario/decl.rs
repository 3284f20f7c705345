//! The scenario file as TOML spells it. Every field is typed here (firmware, MAC, Kea
//! version, keyboard inputs, stage, address range), so a bad value is refused by the TOML
//! reader with the file's line and column, not later without them.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::chain::Firmware;
use crate::firmware::ipxe::keyboard::Input;
use crate::net::lan::Faults;
use crate::net::link::{self, LinkModel};
use crate::transcript::Stage;
use netbootd::kea::KeaVersion;
use netbootd::wire::MacAddr;

/// A scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub server: ServerDecl,
    /// Other DHCP servers on the segment (racing, or a rogue one).
    #[serde(default)]
    pub extra_server: Vec<ServerDecl>,
    pub client: Vec<ClientDecl>,
    #[serde(default)]
    pub faults: Faults,
    /// The clients sit behind a DHCP relay agent with this address (giaddr).
    #[serde(default)]
    pub relay: Option<Ipv4Addr>,
    /// The switch's rates, latency and buffers (as `bootsim storm` models them); without it
    /// the segment is infinitely fast.
    #[serde(default)]
    pub link: Option<LinkDecl>,
    pub expect: Expect,
}

/// `[link]`: each field as `bootsim storm`'s flag of the same name spells it; a field left
/// out takes the storm's default ([`LinkModel::default`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkDecl {
    /// Each client port's rate (`--client-link`: "1gbit").
    #[serde(default, deserialize_with = "parsed_option")]
    pub client: Option<Rate>,
    /// The server port's rate (`--server-link`: "10gbit").
    #[serde(default, deserialize_with = "parsed_option")]
    pub server: Option<Rate>,
    /// One way, host to switch (`--link-latency`: "10us").
    #[serde(default, deserialize_with = "parsed_option")]
    pub latency: Option<Latency>,
    /// Bytes each egress port of the switch queues (`--switch-buffer`: "512KiB").
    #[serde(default, deserialize_with = "parsed_option")]
    pub switch_buffer: Option<Size>,
}

impl LinkDecl {
    pub fn model(&self) -> LinkModel {
        let d = LinkModel::default();
        LinkModel {
            client_bps: self.client.map_or(d.client_bps, |r| r.0),
            server_bps: self.server.map_or(d.server_bps, |r| r.0),
            latency: self.latency.map_or(d.latency, |l| l.0),
            switch_buffer: self.switch_buffer.map_or(d.switch_buffer, |b| b.0),
        }
    }
}

/// A rate in bits per second ([`link::parse_rate`]).
#[derive(Debug, Clone, Copy)]
pub struct Rate(pub u64);

/// A size in bytes ([`link::parse_size`]).
#[derive(Debug, Clone, Copy)]
pub struct Size(pub u64);

/// A duration ([`link::parse_duration`]).
#[derive(Debug, Clone, Copy)]
pub struct Latency(pub Duration);

impl FromStr for Rate {
    type Err = link::LinkError;
    fn from_str(s: &str) -> Result<Rate, Self::Err> {
        link::parse_rate(s).map(Rate)
    }
}

impl FromStr for Size {
    type Err = link::LinkError;
    fn from_str(s: &str) -> Result<Size, Self::Err> {
        link::parse_size(s).map(Size)
    }
}

impl FromStr for Latency {
    type Err = link::LinkError;
    fn from_str(s: &str) -> Result<Latency, Self::Err> {
        link::parse_duration(s).map(Latency)
    }
}

/// A server on the segment: netbootd in-process with this Kea config and TFTP files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerDecl {
    pub config: PathBuf,
    #[serde(default, deserialize_with = "parsed_option")]
    pub kea_version: Option<KeaVersion>,
    #[serde(default)]
    pub address: Option<Ipv4Addr>,
    /// A TFTP root directory...
    #[serde(default)]
    pub tftp_root: Option<PathBuf>,
    /// ...and/or files of one, each a content spec (see recipe.rs), added to a copy of it.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

/// One kind of machine, `count` of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientDecl {
    pub firmware: Firmware,
    /// The first client's MAC; the others count up from it.
    #[serde(default, deserialize_with = "parsed_option")]
    pub mac: Option<MacAddr>,
    #[serde(default = "one")]
    pub count: usize,
    /// Disk recipes (.toml) or GPT images.
    #[serde(default)]
    pub disks: Vec<PathBuf>,
    /// What someone at each machine's console types when iPXE asks, in order:
    /// `item:LABEL` for a `choose`, `key:KEY` for a `prompt` key or a `read` line.
    #[serde(default, deserialize_with = "parsed_seq")]
    pub input: Vec<Input>,
}

fn one() -> usize {
    1
}

/// How every client must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ending {
    Booted,
    Failed,
}

/// What must happen. `outcome` applies to every client; `booted` counts them instead; the
/// failure fields apply to the clients that failed, `steps` and `loader` to those that booted.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// "booted" or "failed", for every client.
    #[serde(default)]
    pub outcome: Option<Ending>,
    /// How many clients boot (the rest fail).
    #[serde(default)]
    pub booted: Option<usize>,
    #[serde(default)]
    pub steps: Option<usize>,
    #[serde(default)]
    pub loader: Option<String>,
    /// The stage a failure happens at.
    #[serde(default)]
    pub stage: Option<Stage>,
    #[serde(default)]
    pub reason_contains: Option<String>,
    #[serde(default)]
    pub change_contains: Option<String>,
    /// Leased addresses fall in this range ("a.b.c.d - e.f.g.h").
    #[serde(default, deserialize_with = "parsed_option")]
    pub leased_range: Option<AddrRange>,
    /// At least this many frames lost to faults.
    #[serde(default)]
    pub min_lost: Option<u64>,
    /// Every client sent at least this many frames again.
    #[serde(default)]
    pub min_retransmissions: Option<u32>,
}

/// Addresses from `lo` to `hi`, both included, written "a.b.c.d - e.f.g.h".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrRange {
    pub lo: Ipv4Addr,
    pub hi: Ipv4Addr,
}

impl AddrRange {
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        a >= self.lo && a <= self.hi
    }
}

impl FromStr for AddrRange {
    type Err = String;

    fn from_str(text: &str) -> Result<AddrRange, String> {
        let bad = || format!("bad range '{text}': expected \"a.b.c.d - e.f.g.h\"");
        let (a, b) = text.split_once('-').ok_or_else(bad)?;
        Ok(AddrRange {
            lo: a.trim().parse().map_err(|_| bad())?,
            hi: b.trim().parse().map_err(|_| bad())?,
        })
    }
}

/// A string field parsed with `FromStr`; the parse error becomes the TOML reader's, which
/// names the value's line and column.
fn parsed_option<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    let text = String::deserialize(d)?;
    text.parse().map(Some).map_err(serde::de::Error::custom)
}

/// A list of strings, each parsed with `FromStr`.
fn parsed_seq<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    let texts = Vec::<String>::deserialize(d)?;
    texts
        .iter()
        .map(|t| t.parse().map_err(serde::de::Error::custom))
        .collect()
}
