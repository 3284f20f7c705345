//! `dhcp-ddns` as D2ClientConfigParser::parse (src/lib/dhcpsrv/parsers/dhcp_parsers.cc at
//! Kea-2.2.0) reads it, in its order: server-ip (SimpleParser::getAddress), server-port,
//! sender-ip's text, sender-port, max-queue-size (getUint32's range, ports too), then the
//! sender address itself and D2ClientConfig's consistency rules. Defaults are
//! SimpleParser4::D2_CLIENT_CONFIG_DEFAULTS.

use std::net::IpAddr;

use crate::kea::diag::{Diagnostic, Layout};
use crate::kea::json::Node;

use super::{error, Check};

fn family(a: IpAddr) -> &'static str {
    if a.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

pub fn dhcp_ddns(node: &Node) -> Check<()> {
    let at = |key: &str| node.get(key).map(|n| &n.span).unwrap_or(&node.span);
    let text = |key: &str, default: &str| {
        node.get(key)
            .and_then(Node::as_str)
            .unwrap_or(default)
            .to_string()
    };
    let server_text = text("server-ip", "127.0.0.1");
    let Ok(server) = server_text.parse::<IpAddr>() else {
        let span = at("server-ip");
        return Err(Diagnostic::semantic_error(
            Some(span.clone()),
            format!(
                "Failed to convert '{server_text}' to address: Failed to convert string to \
                 address '{server_text}': Invalid argument({})",
                span.element()
            ),
        )
        .laid_out(Layout::Verbatim));
    };
    // Kea stores the ports in uint16_t after a uint32 check: 70000 passes as 4464.
    let mut ports: [i64; 2] = [53001, 0];
    for (i, (key, max)) in [
        ("server-port", i64::from(u32::MAX)),
        ("sender-port", i64::from(u32::MAX)),
        ("max-queue-size", i64::from(u32::MAX)),
    ]
    .into_iter()
    .enumerate()
    {
        let Some(value) = node.get(key).and_then(Node::as_int) else {
            continue;
        };
        if !(0..=max).contains(&value) {
            return Err(error(
                at(key),
                format!("out of range value ({value}) specified for parameter '{key}'"),
            ));
        }
        if i < 2 {
            ports[i] = value % 65536;
        }
    }
    let sender_text = text("sender-ip", "");
    let sender = if sender_text.is_empty() {
        None
    } else {
        Some(sender_text.parse::<IpAddr>().map_err(|_| {
            error(
                at("sender-ip"),
                format!("invalid address ({sender_text}) specified for parameter 'sender-ip'"),
            )
        })?)
    };
    if let Some(sender) = sender {
        if family(sender) != family(server) {
            return Err(error(
                at("sender-ip"),
                format!(
                    "D2ClientConfig error: address family mismatch: server-ip: {server} is: {} \
                     while sender-ip: {sender} is: {}",
                    family(server),
                    family(sender)
                ),
            ));
        }
        if sender == server && ports[0] == ports[1] {
            return Err(error(
                at("sender-ip"),
                format!(
                    "D2ClientConfig error: server and sender cannot share the exact same IP \
                     address/port: {server}/{}",
                    ports[0]
                ),
            ));
        }
    }
    Ok(())
}
