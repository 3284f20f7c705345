//! Kea's semantic checks: what the configuration parsers refuse after the grammar accepted
//! the text, in the order Kea runs them (src/bin/dhcp4/json_config_parser.cc
//! `configureDhcp4Server`: option-def, option-data, host-reservation-identifiers,
//! interfaces-config, expired-leases-processing, hooks-libraries, client-classes,
//! lease-database, shared-networks, subnet4, reservations, then the other globals), so the
//! first error reported is the one Kea reports. The result is the typed [`Config`].

mod classes;
mod ddns;
mod globals;
mod hosts;
mod interfaces;
mod lifetimes;
mod limits;
mod networks;
mod options;
mod read;

use super::diag::{Diagnostic, Span};
use super::json::Node;
use super::model::Config;
use super::options::Registry;
use super::system::System;
use super::KeaVersion;

#[derive(Debug)]
pub struct SemanticOutcome {
    pub warnings: Vec<Diagnostic>,
    pub result: Result<Config, Diagnostic>,
}

/// What every check needs: the release, the machine, the option definitions so far.
pub(crate) struct Ctx<'a> {
    pub version: KeaVersion,
    pub system: &'a dyn System,
    pub registry: Registry,
    pub warnings: Vec<Diagnostic>,
    /// Lease times as written globally and per shared network (by index), for the checks
    /// each subnet makes on what it inherits.
    pub global_lifetimes: lifetimes::Lifetimes,
    pub network_lifetimes: Vec<lifetimes::Lifetimes>,
}

pub(crate) type Check<T> = Result<T, Diagnostic>;

/// `message (file:L:C)`, a DhcpConfigError with the element's position.
pub(crate) fn error(span: &Span, message: impl Into<String>) -> Diagnostic {
    Diagnostic::semantic_error(Some(span.clone()), message)
}

pub fn check(root: &Node, version: KeaVersion, system: &dyn System) -> SemanticOutcome {
    let mut ctx = Ctx {
        version,
        system,
        registry: Registry::new(version),
        warnings: Vec::new(),
        global_lifetimes: Default::default(),
        network_lifetimes: Vec::new(),
    };
    let result = match root.get("Dhcp4") {
        Some(dhcp4) => configure(&mut ctx, dhcp4),
        None => Ok(Config::default()),
    };
    SemanticOutcome {
        warnings: ctx.warnings,
        result,
    }
}

fn configure(ctx: &mut Ctx, dhcp4: &Node) -> Check<Config> {
    let mut config = Config {
        version: ctx.version,
        echo_client_id: true,
        decline_probation_period: 86400,
        ..Config::default()
    };
    if let Some(defs) = dhcp4.get("option-def") {
        config.option_defs = options::option_defs(ctx, defs)?;
    }
    let global_options = match dhcp4.get("option-data") {
        Some(list) => options::global_option_data_list(ctx, list)?,
        None => Vec::new(),
    };
    if let Some(ids) = dhcp4.get("host-reservation-identifiers") {
        config.host_identifiers = globals::host_identifiers(ids);
    }
    if let Some(interfaces) = dhcp4.get("interfaces-config") {
        config.interfaces = interfaces::interfaces(ctx, interfaces)?;
    }
    if let Some(expired) = dhcp4.get("expired-leases-processing") {
        limits::expired_leases(expired)?;
        config.expired_leases = globals::expired_leases(expired);
    }
    if let Some(hooks) = dhcp4.get("hooks-libraries") {
        config.hooks = globals::hooks(ctx, hooks, dhcp4)?;
    }
    if let Some(ddns) = dhcp4.get("dhcp-ddns") {
        ddns::dhcp_ddns(ddns)?;
    }
    if let Some(list) = dhcp4.get("client-classes") {
        config.classes = classes::client_classes(ctx, list)?;
    }
    if let Some(db) = dhcp4.get("lease-database") {
        limits::lease_database(db)?;
        config.lease_database = globals::lease_database(db);
    }
    // HostsDatabases: the same DbAccessParser, after the lease database.
    if let Some(db) = dhcp4.get("hosts-database") {
        limits::lease_database(db)?;
    }
    for db in dhcp4
        .get("hosts-databases")
        .and_then(Node::items)
        .unwrap_or_default()
    {
        limits::lease_database(db)?;
    }
    config.globals = globals::scope(dhcp4);
    ctx.global_lifetimes = lifetimes::Lifetimes::global(dhcp4);
    config.globals.options = global_options;
    let mut subnets = networks::SubnetRegistry::default();
    if let Some(list) = dhcp4.get("shared-networks") {
        let key = read::key_span(dhcp4, "shared-networks");
        networks::shared_networks(ctx, list, key, &mut config, &mut subnets)?;
    }
    if let Some(list) = dhcp4.get("subnet4") {
        networks::subnets(ctx, list, &mut config, &mut subnets, None)?;
    }
    if let Some(list) = dhcp4.get("reservations") {
        config.reservations = hosts::global(ctx, list)?;
    }
    if let Some(loggers) = dhcp4.get("loggers") {
        config.loggers = globals::loggers(loggers);
    }
    if let Some(socket) = dhcp4.get("control-socket") {
        config.control_socket = globals::control_socket(socket);
    }
    if let Some(n) = dhcp4.get("echo-client-id").and_then(Node::as_bool) {
        config.echo_client_id = n;
    }
    limits::globals(dhcp4)?;
    if let Some(n) = read::uint(dhcp4, "decline-probation-period") {
        config.decline_probation_period = n;
    }
    Ok(config)
}
