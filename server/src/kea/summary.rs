//! A short account of a valid configuration: interfaces, subnets and pools, and the classes in
//! Kea's evaluation order with what each hands a matching client. It answers the operator's
//! first question ("what will a PXE client be offered?") without reading the JSON.

use std::fmt::Write;

use serde_json::{json, Value};

use super::model::{ClientClass, Config, OptionData, Subnet};

fn option_text(o: &OptionData) -> String {
    let name = o
        .name
        .clone()
        .unwrap_or_else(|| format!("option {}", o.code));
    format!("{name}={}", o.text)
}

/// What a client matching `class` receives from it (Kea copies siaddr, sname and file from
/// the first matching class that sets them, Dhcpv4Srv::setFixedFields).
fn hands(class: &ClientClass) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(ns) = class.next_server {
        out.push(format!("next-server {ns}"));
    }
    if let Some(s) = &class.server_hostname {
        out.push(format!("server-hostname {s}"));
    }
    if let Some(f) = &class.boot_file_name {
        out.push(format!("boot-file-name {f}"));
    }
    out.extend(class.options.iter().map(option_text));
    if let Some(v) = class.valid_lifetime {
        out.push(format!("valid-lifetime {v}"));
    }
    out
}

fn subnet_line(config: &Config, subnet: &Subnet) -> String {
    let e = config.effective(subnet);
    let addresses: u64 = subnet.pools.iter().map(|p| p.size()).sum();
    let mut line = format!(
        "subnet {} {}: {} pool(s), {addresses} addresses, valid-lifetime {}",
        subnet.id,
        subnet.prefix,
        subnet.pools.len(),
        e.valid_lifetime
    );
    if let (Some(t1), Some(t2)) = (e.renew_timer, e.rebind_timer) {
        let _ = write!(line, ", renew {t1}, rebind {t2}");
    }
    line
}

pub fn render(config: &Config) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Configuration valid for Kea {}.", config.version);
    if !config.interfaces.names.is_empty() {
        let _ = writeln!(
            out,
            "interfaces: {} ({:?} sockets)",
            config.interfaces.names.join(", "),
            config.interfaces.socket_type
        );
    }
    for subnet in &config.subnets {
        let _ = writeln!(out, "{}", subnet_line(config, subnet));
        for pool in &subnet.pools {
            let class = pool
                .client_class
                .as_deref()
                .map(|c| format!(" (only class '{c}')"))
                .unwrap_or_default();
            let _ = writeln!(out, "  pool {}-{}{class}", pool.first, pool.last);
        }
        for o in &subnet.scope.options {
            let _ = writeln!(out, "  option {}", option_text(o));
        }
        if !subnet.reservations.is_empty() {
            let _ = writeln!(out, "  {} reservation(s)", subnet.reservations.len());
        }
    }
    if !config.classes.is_empty() {
        let _ = writeln!(out, "classes, in evaluation order:");
    }
    for class in &config.classes {
        let line = class.span.start.line;
        let when = match (&class.test, class.only_if_required) {
            (_, true) => "only when required".to_string(),
            (Some((test, _)), false) => format!("when {test}"),
            (None, false) => "never by test (member of it by reservation or name)".to_string(),
        };
        let gives = hands(class);
        let gives = if gives.is_empty() {
            "nothing of its own".to_string()
        } else {
            gives.join(", ")
        };
        let _ = writeln!(out, "  '{}' (line {line}) {when}: {gives}", class.name);
    }
    out
}

pub fn json(config: &Config) -> Value {
    json!({
        "kea_version": config.version.to_string(),
        "interfaces": config.interfaces.names,
        "subnets": config.subnets.iter().map(|s| {
            let e = config.effective(s);
            json!({
                "id": s.id,
                "subnet": s.prefix.to_string(),
                "valid_lifetime": e.valid_lifetime,
                "pools": s.pools.iter().map(|p| json!({
                    "first": p.first.to_string(),
                    "last": p.last.to_string(),
                    "client_class": p.client_class,
                })).collect::<Vec<_>>(),
                "reservations": s.reservations.len(),
            })
        }).collect::<Vec<_>>(),
        "classes": config.classes.iter().map(|c| json!({
            "name": c.name,
            "line": c.span.start.line,
            "test": c.test.as_ref().map(|(t, _)| t),
            "only_if_required": c.only_if_required,
            "next_server": c.next_server.map(|a| a.to_string()),
            "server_hostname": c.server_hostname,
            "boot_file_name": c.boot_file_name,
            "options": c.options.iter().map(option_text).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
