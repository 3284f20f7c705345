//! Shared networks, subnets and pools, with the checks of Kea's Subnet4ConfigParser,
//! PoolParser and SharedNetwork4Parser (src/lib/dhcpsrv/parsers/dhcp_parsers.cc,
//! shared_network_parser.cc) in their order: pools, option-data, relay, the subnet itself
//! (prefix, timers, boot fields, interface, then each pool against the prefix), reservations,
//! and last the subnet's id and prefix against every subnet configured before it.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;

use crate::kea::diag::{Diagnostic, Layout, Span};
use crate::kea::json::Node;
use crate::kea::model::{Config, Pool, SharedNetwork, Subnet};

use super::hosts::{self, HostRegistry};
use super::options::option_data_list;
use super::{error, globals, read, Check, Ctx};

/// Ids and prefixes of the subnets added so far (CfgSubnets4::add).
#[derive(Default)]
pub struct SubnetRegistry {
    ids: Vec<u32>,
    prefixes: Vec<String>,
    next_id: u32,
    hosts: HostRegistry,
}

pub fn shared_networks(
    ctx: &mut Ctx,
    list: &Node,
    list_span: &Span,
    config: &mut Config,
    registry: &mut SubnetRegistry,
) -> Check<()> {
    for item in list.items().unwrap_or_default() {
        let name = read::string(item, "name").unwrap_or_default();
        // SharedNetwork4Parser::parse checks its lease times (with what it inherits from the
        // globals) before anything else, without the subnet parser's prefix.
        super::lifetimes::Lifetimes::read(item)
            .within(ctx.global_lifetimes)
            .check()?;
        let mut scope = globals::scope(item);
        if let Some(options) = item.get("option-data") {
            scope.options = option_data_list(ctx, options)?;
        }
        let relay = match item.get("relay") {
            Some(r) => relay_addresses(r)?,
            None => Vec::new(),
        };
        let index = config.shared_networks.len();
        ctx.network_lifetimes
            .push(super::lifetimes::Lifetimes::read(item));
        let interface = read::string(item, "interface").filter(|i| !i.is_empty());
        config.shared_networks.push(SharedNetwork {
            name: name.clone(),
            scope,
            interface: interface.clone(),
            relay,
            span: item.span.clone(),
        });
        if let Some(subnets_list) = item.get("subnet4") {
            subnets(ctx, subnets_list, config, registry, Some(index))?;
        }
        if let Some(iface) = &interface {
            if !ctx.system.interface_exists(iface) {
                return Err(error(
                    &item
                        .get("interface")
                        .map(|n| n.span.clone())
                        .unwrap_or_default_span(item),
                    format!(
                        "Specified network interface name {iface} for shared network {name} is \
                         not present in the system"
                    ),
                ));
            }
        }
        if config.shared_networks[..index]
            .iter()
            .any(|n| n.name == name)
        {
            return Err(error(
                list_span,
                format!("duplicate network '{name}' found in the configuration"),
            ));
        }
    }
    Ok(())
}

trait OrMapSpan {
    fn unwrap_or_default_span(self, map: &Node) -> Span;
}

impl OrMapSpan for Option<Span> {
    fn unwrap_or_default_span(self, map: &Node) -> Span {
        self.unwrap_or_else(|| map.span.clone())
    }
}

/// RelayInfoParser: every relay address must be an IPv4 address.
fn relay_addresses(relay: &Node) -> Check<Vec<Ipv4Addr>> {
    let mut out = Vec::new();
    // RelayInfoParser::addAddress reports the list's position (where the parser created
    // the list element), or the single address's.
    let mut items: Vec<(&Node, &Span)> = relay
        .get("ip-addresses")
        .and_then(Node::items)
        .map(|i| {
            i.iter()
                .map(|n| (n, read::key_span(relay, "ip-addresses")))
                .collect()
        })
        .unwrap_or_default();
    items.extend(relay.get("ip-address").map(|n| (n, &n.span)));
    for (item, span) in items {
        let text = item.as_str().unwrap_or_default();
        match text.parse() {
            Ok(a) => out.push(a),
            Err(_) => {
                return Err(error(
                    span,
                    format!("address {text} is not a valid: IPv4address"),
                ))
            }
        }
    }
    Ok(out)
}

pub fn subnets(
    ctx: &mut Ctx,
    list: &Node,
    config: &mut Config,
    registry: &mut SubnetRegistry,
    shared: Option<usize>,
) -> Check<()> {
    for item in list.items().unwrap_or_default() {
        let subnet = subnet(ctx, item, registry, shared)?;
        if registry.ids.contains(&subnet.id) {
            return Err(error(
                &item.span,
                format!(
                    "ID of the new IPv4 subnet '{}' is already in use",
                    subnet.id
                ),
            ));
        }
        let prefix_text = subnet_text(item);
        if registry.prefixes.contains(&prefix_text) {
            return Err(error(
                &item.span,
                format!("subnet with the prefix of '{prefix_text}' already exists"),
            ));
        }
        registry.ids.push(subnet.id);
        registry.prefixes.push(prefix_text);
        config.subnets.push(subnet);
    }
    Ok(())
}

fn subnet_text(item: &Node) -> String {
    read::string(item, "subnet")
        .unwrap_or_default()
        .replace([' ', '\t'], "")
}

/// "subnet configuration failed: ..." wraps whatever createSubnet throws.
fn failed(d: Diagnostic) -> Diagnostic {
    Diagnostic {
        message: format!("subnet configuration failed: {}", d.message),
        ..d
    }
}

fn subnet(
    ctx: &mut Ctx,
    item: &Node,
    registry: &mut SubnetRegistry,
    shared: Option<usize>,
) -> Check<Subnet> {
    let mut pools = Vec::new();
    for p in item.get("pools").and_then(Node::items).unwrap_or_default() {
        pools.push(pool(ctx, p)?);
    }
    let mut scope = globals::scope(item);
    if let Some(options) = item.get("option-data") {
        scope.options = option_data_list(ctx, options)?;
    }
    let relay = match item.get("relay") {
        Some(r) => relay_addresses(r)?,
        None => Vec::new(),
    };
    let text = subnet_text(item);
    let prefix = prefix(&text, item).map_err(failed)?;
    let interface = read::string(item, "interface").filter(|i| !i.is_empty());
    init_subnet(ctx, item, &text, shared, interface.as_deref()).map_err(failed)?;
    for (i, p) in pools.iter().enumerate() {
        let range = format!("{}-{}", p.first, p.last);
        let network = prefix.trunc();
        if !network.contains(&p.first) || !network.contains(&p.last) {
            return Err(failed(error(
                &item.span,
                format!(
                    "a pool of type V4, with the following address range: {range} does not \
                     match the prefix of a subnet: {text} to which it is being added"
                ),
            )));
        }
        if pools[..i]
            .iter()
            .any(|q| q.first <= p.last && p.first <= q.last)
        {
            return Err(failed(error(
                &item.span,
                format!(
                    "a pool of type V4, with the following address range: {range} overlaps \
                     with an existing pool in the subnet: {text} to which it is being added"
                ),
            )));
        }
    }
    registry.next_id += 1;
    let id = read::uint(item, "id").unwrap_or(registry.next_id);
    let reservations = match item.get("reservations") {
        Some(list) => {
            let hosts = hosts::reservations(ctx, list, Some(id), &mut registry.hosts)?;
            for h in &hosts {
                if let Some(ip) = h.ip_address {
                    if !prefix.trunc().contains(&ip) {
                        return Err(Diagnostic::semantic_error(
                            None,
                            format!(
                                "specified reservation '{ip}' is not within the IPv4 subnet \
                                 '{text}'"
                            ),
                        ));
                    }
                }
                registry.hosts.add(h, id)?;
            }
            hosts
        }
        None => Vec::new(),
    };
    Ok(Subnet {
        id,
        prefix,
        pools,
        scope,
        reservations,
        relay,
        interface,
        shared_network: shared,
        span: item.span.clone(),
    })
}

/// SubnetConfigParser::createSubnet's reading of "address/length".
fn prefix(text: &str, item: &Node) -> Check<Ipv4Net> {
    let value_span = item
        .get("subnet")
        .map(|n| n.span.clone())
        .unwrap_or_else(|| item.span.clone());
    let Some((addr, len)) = text.split_once('/') else {
        return Err(error(
            &value_span,
            format!("Invalid subnet syntax (prefix/len expected):{text}"),
        ));
    };
    let addr: Ipv4Addr = addr.parse().map_err(|_| {
        Diagnostic::semantic_error(
            None,
            format!("Failed to convert string to address '{addr}': Invalid argument"),
        )
    })?;
    let len: u32 = len.parse().map_err(|_| {
        error(
            &value_span,
            format!("prefix length: '{len}' is not an integer"),
        )
    })?;
    if len > 32 {
        return Err(error(
            &value_span,
            format!("Invalid prefix length specified for subnet: {len}"),
        ));
    }
    Ipv4Net::new(addr, len as u8).map_err(|e| error(&value_span, e.to_string()))
}

/// The part of Subnet4ConfigParser::initSubnet that can fail, on the values the subnet
/// inherits (SimpleParser4::deriveParameters copies globals and the shared network's into it).
fn init_subnet(
    ctx: &mut Ctx,
    item: &Node,
    text: &str,
    shared: Option<usize>,
    interface: Option<&str>,
) -> Check<()> {
    // Subnet4ConfigParser::initSubnet reads the id first, with SimpleParser::getInteger's
    // range (SubnetID max is reserved for "unused").
    if let Some(id) = item.get("id").and_then(Node::as_int) {
        if !(0..=4_294_967_294).contains(&id) {
            return Err(Diagnostic::semantic_error(
                None,
                format!("The 'id' value ({id}) is not within expected range: (0 - 4294967294)"),
            ));
        }
    }
    let inherited = shared
        .and_then(|i| ctx.network_lifetimes.get(i).copied())
        .unwrap_or_default()
        .within(ctx.global_lifetimes);
    super::lifetimes::Lifetimes::read(item)
        .within(inherited)
        .check()?;
    if let Some(next) = item.get("next-server") {
        let text = next.as_str().unwrap_or_default();
        if !text.is_empty() && text.parse::<Ipv4Addr>().is_err() {
            return Err(Diagnostic::semantic_error(
                Some(next.span.clone()),
                format!(
                    "invalid parameter next-server : {text}({})",
                    next.span.element()
                ),
            )
            .laid_out(Layout::Verbatim));
        }
    }
    if let Some(sname) = item.get("server-hostname") {
        let len = sname.as_str().unwrap_or_default().len();
        if len >= 64 {
            return Err(error(
                &sname.span,
                format!("server-hostname must be at most 63 bytes long, it is {len}"),
            ));
        }
    }
    if let Some(file) = item.get("boot-file-name") {
        let len = file.as_str().unwrap_or_default().len();
        if len >= 128 {
            return Err(error(
                &file.span,
                format!("boot-file-name must be at most 127 bytes long, it is {len}"),
            ));
        }
    }
    if let Some(iface) = interface {
        if !ctx.system.interface_exists(iface) {
            let span = item.get("interface").map(|n| &n.span).unwrap_or(&item.span);
            return Err(error(
                span,
                format!(
                    "Specified network interface name {iface} for subnet {text} is not present \
                     in the system"
                ),
            ));
        }
    }
    // initSubnet's DHCPv4-over-DHCPv6 subnet: "prefix6/length".
    if let Some(s4o6) = read::string(item, "4o6-subnet").filter(|s| !s.is_empty()) {
        let fail = |m: String| Err(Diagnostic::semantic_error(None, m));
        let Some((prefix, len)) = s4o6.split_once('/') else {
            return fail(format!(
                "Missing / in the 4o6-subnet parameter:{s4o6}, expected format: prefix6/length"
            ));
        };
        if len.parse::<u32>().is_err() {
            return fail(format!(
                "Invalid prefix length specified in 4o6-subnet parameter: {s4o6}, expected \
                 0..128 value"
            ));
        }
        if prefix.parse::<IpAddr>().is_err() {
            return fail(format!(
                "Failed to convert string to address '{prefix}': Invalid argument"
            ));
        }
    }
    Ok(())
}

/// PoolParser::parse (src/lib/dhcpsrv/parsers/dhcp_parsers.cc at Kea-2.2.0): "first - last"
/// or "prefix/len", blanks removed. Kea words two failures apart: text that is not an address
/// (IOAddress, which also takes IPv6) or a length that `lexical_cast<int>` refuses or that does
/// not fit a `uint8_t` is "Failed to parse pool definition"; parsed values that Pool4's
/// constructor refuses (IPv6, first after last, length over 32) are "Failed to create pool
/// defined by".
fn pool(ctx: &mut Ctx, item: &Node) -> Check<Pool> {
    let value = item.get("pool");
    let span = value.map(|n| &n.span).unwrap_or(&item.span);
    let written = value.and_then(Node::as_str).unwrap_or_default();
    let text = written.replace([' ', '\t'], "");
    let unparsable = || error(span, format!("Failed to parse pool definition: {text}"));
    let refused = || error(span, format!("Failed to create pool defined by: {text}"));
    let v4 = |a: IpAddr| match a {
        IpAddr::V4(a) => Ok(a),
        IpAddr::V6(_) => Err(refused()),
    };
    let (first, last) = if let Some((addr, len)) = text.split_once('/') {
        let addr: IpAddr = addr.parse().map_err(|_| unparsable())?;
        let len: i32 = len.parse().map_err(|_| unparsable())?;
        let len = u8::try_from(len).map_err(|_| unparsable())?;
        let net = Ipv4Net::new(v4(addr)?, len).map_err(|_| refused())?;
        (net.network(), net.broadcast())
    } else if let Some((a, b)) = text.split_once('-') {
        let a: IpAddr = a.parse().map_err(|_| unparsable())?;
        let b: IpAddr = b.parse().map_err(|_| unparsable())?;
        let (a, b) = (v4(a)?, v4(b)?);
        if a > b {
            return Err(refused());
        }
        (a, b)
    } else {
        return Err(error(
            span,
            format!(
                "invalid pool definition: {written}. There are two acceptable formats \
                 <min address-max address> or <prefix/len>"
            ),
        ));
    };
    let options = match item.get("option-data") {
        Some(list) => option_data_list(ctx, list)?,
        None => Vec::new(),
    };
    Ok(Pool {
        first,
        last,
        client_class: read::string(item, "client-class").filter(|c| !c.is_empty()),
        require_client_classes: read::required_classes(item),
        options,
        span: item.span.clone(),
    })
}
