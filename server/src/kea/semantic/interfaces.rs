//! `interfaces-config.interfaces`, judged as `CfgIface::use` does for each name
//! (src/lib/dhcpsrv/cfg_iface.cc at Kea-2.2.0) when `kea-dhcp4 -t` selects interfaces: a bare
//! name must exist, `*` may appear once, and `name/address` needs an existing interface that
//! holds that IPv4 address; repeats are refused. Every message is prefixed "Failed to select
//! interface: " and followed by the name's and interfaces-config's positions, as
//! InterfacesConfigParser::parse words it.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::kea::json::Node;
use crate::kea::model::{Interfaces, SocketType};

use super::{error, read, Check, Ctx};

/// What `CfgIface` has selected so far (its `iface_set_`, `address_map_`, `wildcard_used_`).
#[derive(Default)]
struct Selected {
    names: BTreeSet<String>,
    addresses: Vec<(String, IpAddr)>,
    wildcard: bool,
}

/// Kea's `util::str::trim` set of blanks.
fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\u{8}', '\u{c}', '\n', '\r', '\t'])
}

impl Selected {
    /// CfgIface::use for the DHCPv4 family; `Err` holds Kea's message.
    fn select(&mut self, ctx: &Ctx, spec: &str) -> Result<(), String> {
        let Some((name, addr)) = spec.split_once('/') else {
            let name = trim(spec);
            if name.is_empty() {
                return Err("empty interface name used in configuration".into());
            }
            if name == "*" {
                if self.wildcard {
                    return Err("the wildcard interface '*' can only be specified once".into());
                }
                self.wildcard = true;
                return Ok(());
            }
            if !ctx.system.interface_exists(name) {
                return Err(format!("interface '{name}' doesn't exist in the system"));
            }
            if self.names.contains(name) || self.addresses.iter().any(|(n, _)| n == name) {
                return Err(format!("interface '{name}' has already been specified"));
            }
            self.names.insert(name.to_string());
            return Ok(());
        };
        let (name, addr) = (trim(name), trim(addr));
        if name.is_empty() {
            return Err("empty interface name specified in the interface configuration".into());
        }
        if addr.is_empty() {
            return Err("empty address specified in the interface configuration".into());
        }
        if name == "*" {
            return Err(
                "wildcard interface name '*' must not be used in conjunction with an address"
                    .into(),
            );
        }
        if !ctx.system.interface_exists(name) {
            return Err(format!("interface '{name}' doesn't exist in the system"));
        }
        // IOAddress's constructor: inet_pton for either family, boost's error text.
        let parsed: IpAddr = addr.parse().map_err(|_| {
            format!("Failed to convert string to address '{addr}': Invalid argument")
        })?;
        let IpAddr::V4(v4) = parsed else {
            return Err(format!("address '{parsed}' is not a valid IPv4 address"));
        };
        if !ctx.system.interface_has_address(name, v4) {
            return Err(format!(
                "interface '{name}' doesn't have address '{v4}' assigned"
            ));
        }
        if self.names.contains(name) {
            return Err(format!("interface '{name}' has already been selected"));
        }
        if self
            .addresses
            .iter()
            .any(|(n, a)| n == name && *a == parsed)
        {
            return Err(format!(
                "must not select address '{v4}' for interface '{name}' because this address is \
                 already selected"
            ));
        }
        self.addresses.push((name.to_string(), parsed));
        Ok(())
    }
}

/// InterfacesConfigParser::parse: each name through CfgIface::use, in order; the first
/// refusal is the error, with the name's position, then the interfaces-config position.
pub fn interfaces(ctx: &mut Ctx, node: &Node) -> Check<Interfaces> {
    let mut out = Interfaces::default();
    let mut selected = Selected::default();
    if let Some(items) = node.get("interfaces").and_then(Node::items) {
        for item in items {
            let Some(name) = item.as_str() else { continue };
            if let Err(message) = selected.select(ctx, name) {
                return Err(error(
                    read::key_span(node, "interfaces"),
                    format!(
                        "Failed to select interface: {message} ({})",
                        item.span.element()
                    ),
                ));
            }
            out.names.push(name.to_string());
        }
    }
    if read::string(node, "dhcp-socket-type").as_deref() == Some("udp") {
        out.socket_type = SocketType::Udp;
    }
    Ok(out)
}
