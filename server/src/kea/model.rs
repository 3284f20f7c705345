//! The typed, validated Kea DHCPv4 configuration: what the DHCP engine serves from. Values
//! keep the span they were written at so that later diagnostics (bootsim's, the engine's
//! logs) can name the line. Parameters that Kea inherits global → shared network → subnet are
//! kept per level as `Option`s in [`Scope`]; [`Config::effective`] resolves them.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::diag::Span;
use super::options::OptionDef;
use super::KeaVersion;

#[derive(Clone, Debug, Default)]
pub struct Config {
    pub version: KeaVersion,
    pub interfaces: Interfaces,
    pub globals: Scope,
    pub option_defs: Vec<OptionDef>,
    pub classes: Vec<ClientClass>,
    pub shared_networks: Vec<SharedNetwork>,
    /// Every subnet: those of shared networks first (Kea adds them first), then `subnet4`.
    pub subnets: Vec<Subnet>,
    pub reservations: Vec<Reservation>,
    pub host_identifiers: Vec<IdentifierKind>,
    pub lease_database: LeaseDatabase,
    pub expired_leases: ExpiredLeases,
    pub control_socket: Option<ControlSocket>,
    pub loggers: Vec<Logger>,
    pub hooks: Vec<HookLibrary>,
    pub echo_client_id: bool,
    pub decline_probation_period: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SocketType {
    /// Kea's default for DHCPv4: AF_PACKET, so replies reach clients without an address.
    #[default]
    Raw,
    Udp,
}

#[derive(Clone, Debug, Default)]
pub struct Interfaces {
    /// As written: `eth0`, `eth0/192.0.2.1` or `*`.
    pub names: Vec<String>,
    pub socket_type: SocketType,
}

/// Parameters that several levels may set (SimpleParser4::INHERIT_TO_SUBNET4 and friends).
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub valid_lifetime: Option<u32>,
    pub min_valid_lifetime: Option<u32>,
    pub max_valid_lifetime: Option<u32>,
    pub renew_timer: Option<u32>,
    pub rebind_timer: Option<u32>,
    pub calculate_tee_times: Option<bool>,
    pub t1_percent: Option<f64>,
    pub t2_percent: Option<f64>,
    pub match_client_id: Option<bool>,
    pub authoritative: Option<bool>,
    pub next_server: Option<Ipv4Addr>,
    pub server_hostname: Option<String>,
    pub boot_file_name: Option<String>,
    pub options: Vec<OptionData>,
    pub client_class: Option<String>,
    pub require_client_classes: Vec<String>,
    pub reservations_global: Option<bool>,
    pub reservations_in_subnet: Option<bool>,
    pub reservations_out_of_pool: Option<bool>,
}

/// An `option-data` entry, encoded.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionData {
    pub code: u16,
    pub name: Option<String>,
    pub space: String,
    /// The payload as it goes on the wire (without code and length).
    pub data: Vec<u8>,
    /// The `data` text as written.
    pub text: String,
    pub csv_format: bool,
    pub always_send: bool,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct ClientClass {
    pub name: String,
    /// The `test` expression text and where it was written.
    pub test: Option<(String, Span)>,
    pub only_if_required: bool,
    pub next_server: Option<Ipv4Addr>,
    pub server_hostname: Option<String>,
    pub boot_file_name: Option<String>,
    pub options: Vec<OptionData>,
    pub valid_lifetime: Option<u32>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct SharedNetwork {
    pub name: String,
    pub scope: Scope,
    pub interface: Option<String>,
    pub relay: Vec<Ipv4Addr>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Subnet {
    pub id: u32,
    pub prefix: Ipv4Net,
    pub pools: Vec<Pool>,
    pub scope: Scope,
    pub reservations: Vec<Reservation>,
    pub relay: Vec<Ipv4Addr>,
    pub interface: Option<String>,
    /// Index into [`Config::shared_networks`].
    pub shared_network: Option<usize>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Pool {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
    pub client_class: Option<String>,
    pub require_client_classes: Vec<String>,
    pub options: Vec<OptionData>,
    pub span: Span,
}

impl Pool {
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        self.first <= a && a <= self.last
    }

    pub fn size(&self) -> u64 {
        u64::from(u32::from(self.last)) - u64::from(u32::from(self.first)) + 1
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IdentifierKind {
    HwAddress,
    Duid,
    CircuitId,
    ClientId,
    FlexId,
}

impl IdentifierKind {
    pub fn key(self) -> &'static str {
        match self {
            IdentifierKind::HwAddress => "hw-address",
            IdentifierKind::Duid => "duid",
            IdentifierKind::CircuitId => "circuit-id",
            IdentifierKind::ClientId => "client-id",
            IdentifierKind::FlexId => "flex-id",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "hw-address" => IdentifierKind::HwAddress,
            "duid" => IdentifierKind::Duid,
            "circuit-id" => IdentifierKind::CircuitId,
            "client-id" => IdentifierKind::ClientId,
            "flex-id" => IdentifierKind::FlexId,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub struct Reservation {
    pub identifier: (IdentifierKind, Vec<u8>),
    pub ip_address: Option<Ipv4Addr>,
    pub hostname: Option<String>,
    pub next_server: Option<Ipv4Addr>,
    pub server_hostname: Option<String>,
    pub boot_file_name: Option<String>,
    pub client_classes: Vec<String>,
    pub options: Vec<OptionData>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LeaseDatabase {
    pub kind: String,
    pub persist: bool,
    /// The CSV file (Kea's default is /var/lib/kea/kea-leases4.csv).
    pub name: Option<String>,
    /// Seconds between lease-file cleanups; 0 disables them.
    pub lfc_interval: u32,
}

impl Default for LeaseDatabase {
    fn default() -> Self {
        LeaseDatabase {
            kind: "memfile".into(),
            persist: true,
            name: None,
            lfc_interval: 3600,
        }
    }
}

/// `expired-leases-processing`, with SimpleParser4's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpiredLeases {
    pub reclaim_timer_wait_time: u32,
    pub flush_reclaimed_timer_wait_time: u32,
    pub hold_reclaimed_time: u32,
    pub max_reclaim_leases: u32,
    pub max_reclaim_time: u32,
    pub unwarned_reclaim_cycles: u32,
}

impl Default for ExpiredLeases {
    fn default() -> Self {
        ExpiredLeases {
            reclaim_timer_wait_time: 10,
            flush_reclaimed_timer_wait_time: 25,
            hold_reclaimed_time: 3600,
            max_reclaim_leases: 100,
            max_reclaim_time: 250,
            unwarned_reclaim_cycles: 5,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ControlSocket {
    pub socket_type: String,
    pub socket_name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Logger {
    pub name: String,
    pub severity: String,
    pub debuglevel: u32,
    pub outputs: Vec<LogOutput>,
}

/// One of a logger's `output_options` (Kea's LoggingInfo / OutputOption).
#[derive(Clone, Debug, PartialEq)]
pub struct LogOutput {
    /// `stdout`, `stderr`, `syslog`, `syslog:NAME` or a file path.
    pub output: String,
    /// Flush after every line (Kea's default: true).
    pub flush: bool,
    /// Rotate a file when it grows past this many bytes (0: never; Kea's default 10240000).
    pub maxsize: u64,
    /// Rotated files kept (Kea's default 1).
    pub maxver: u32,
    /// A log4cplus pattern, or Kea's default for the destination.
    pub pattern: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HookLibrary {
    pub library: String,
    pub span: Span,
}

/// A parameter resolved through the levels, with Kea's default where no level sets it.
#[derive(Clone, Debug, PartialEq)]
pub struct Effective {
    pub valid_lifetime: u32,
    pub renew_timer: Option<u32>,
    pub rebind_timer: Option<u32>,
    pub calculate_tee_times: bool,
    pub t1_percent: f64,
    pub t2_percent: f64,
    pub match_client_id: bool,
    pub authoritative: bool,
    pub next_server: Ipv4Addr,
    pub server_hostname: String,
    pub boot_file_name: String,
}

/// Where host reservations are looked for, after inheritance (Kea's defaults: in the subnet
/// only, and addresses inside pools may be reserved).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReservationScope {
    pub global: bool,
    pub in_subnet: bool,
    pub out_of_pool: bool,
}

impl Config {
    pub fn effective_reservations(&self, subnet: &Subnet) -> ReservationScope {
        let network = subnet
            .shared_network
            .map(|i| &self.shared_networks[i].scope);
        // Asked once per query: the levels stay on the stack, as in `effective`.
        let levels = [Some(&subnet.scope), network, Some(&self.globals)];
        let pick =
            |field: fn(&Scope) -> Option<bool>| levels.iter().flatten().find_map(|s| field(s));
        ReservationScope {
            global: pick(|s| s.reservations_global).unwrap_or(false),
            in_subnet: pick(|s| s.reservations_in_subnet).unwrap_or(true),
            out_of_pool: pick(|s| s.reservations_out_of_pool).unwrap_or(false),
        }
    }

    pub fn class(&self, name: &str) -> Option<&ClientClass> {
        self.classes.iter().find(|c| c.name == name)
    }

    /// Subnet parameters after Kea's inheritance (SimpleParser4::deriveParameters): subnet,
    /// then its shared network, then globals, then SimpleParser4's defaults.
    pub fn effective(&self, subnet: &Subnet) -> Effective {
        let network = subnet
            .shared_network
            .map(|i| &self.shared_networks[i].scope);
        // Asked several times per query: the levels stay on the stack.
        let levels = [Some(&subnet.scope), network, Some(&self.globals)];
        macro_rules! pick {
            ($field:ident) => {
                levels.iter().flatten().find_map(|s| s.$field.clone())
            };
        }
        Effective {
            valid_lifetime: pick!(valid_lifetime).unwrap_or(7200),
            renew_timer: pick!(renew_timer),
            rebind_timer: pick!(rebind_timer),
            calculate_tee_times: pick!(calculate_tee_times).unwrap_or(false),
            t1_percent: pick!(t1_percent).unwrap_or(0.5),
            t2_percent: pick!(t2_percent).unwrap_or(0.875),
            match_client_id: pick!(match_client_id).unwrap_or(true),
            authoritative: pick!(authoritative).unwrap_or(false),
            next_server: pick!(next_server).unwrap_or(Ipv4Addr::UNSPECIFIED),
            server_hostname: pick!(server_hostname).unwrap_or_default(),
            boot_file_name: pick!(boot_file_name).unwrap_or_default(),
        }
    }
}
