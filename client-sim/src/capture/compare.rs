//! Field-by-field comparison of a captured DHCP answer with netbootd's answer to the same
//! query, and which part of the config decided a field (the class or subnet, with its line,
//! the way `bootsim validate` names them). Kea's precedence: a class's next-server,
//! server-hostname and boot-file-name win over the subnet's, the first class in evaluation
//! order that sets one wins; options come from the pool, the subnet, the classes in order,
//! then the global scope (Kea ARM "Client Classification", "Option precedence").

use std::net::Ipv4Addr;

use netbootd::kea::model::Config;
use netbootd::wire::dhcp::{Item, Message};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Equal,
    Differs,
    /// Equal once the captured server's address is mapped onto netbootd's.
    Mapped,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldDiff {
    pub path: String,
    pub captured: String,
    pub replayed: String,
    pub status: Status,
    /// The config entry that set the replayed value, with its file:line.
    pub decided_by: Option<String>,
}

fn text(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn hex(b: &[u8]) -> String {
    if !b.is_empty() && b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        return format!("{:?}", String::from_utf8_lossy(b));
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn short(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

/// Which config entry gives `field` ("file", "siaddr", "sname", "option N") to a client in
/// `classes`, served from `subnet_of` (the replayed yiaddr or giaddr).
pub fn decided_by(
    config: &Config,
    classes: &[String],
    field: &str,
    addr: Ipv4Addr,
) -> Option<String> {
    let subnet = config.subnets.iter().find(|s| s.prefix.contains(&addr));
    let class_list: Vec<_> = classes
        .iter()
        .filter_map(|name| config.classes.iter().find(|c| &c.name == name))
        .collect();
    let at = |kind: &str, name: String, span: &netbootd::kea::diag::Span| {
        format!(
            "{kind} '{name}' at {}:{}",
            short(&span.file),
            span.start.line
        )
    };
    match field {
        "file" | "siaddr" | "sname" => {
            for c in &class_list {
                let set = match field {
                    "file" => c.boot_file_name.is_some(),
                    "siaddr" => c.next_server.is_some(),
                    _ => c.server_hostname.is_some(),
                };
                if set {
                    return Some(at("class", c.name.clone(), &c.span));
                }
            }
            let s = subnet?;
            let set = match field {
                "file" => s.scope.boot_file_name.is_some(),
                "siaddr" => s.scope.next_server.is_some(),
                _ => s.scope.server_hostname.is_some(),
            };
            set.then(|| at("subnet", s.prefix.to_string(), &s.span))
        }
        "yiaddr" => {
            let s = subnet?;
            match s.pools.iter().find(|p| p.contains(addr)) {
                Some(p) => Some(format!(
                    "pool {}-{} of subnet {} at {}:{}",
                    p.first,
                    p.last,
                    s.prefix,
                    short(&p.span.file),
                    p.span.start.line
                )),
                None => Some(at("subnet", s.prefix.to_string(), &s.span)),
            }
        }
        f if f.starts_with("option ") => {
            let code: u16 = f.trim_start_matches("option ").parse().ok()?;
            if let Some(s) = subnet {
                for p in s.pools.iter().filter(|p| p.contains(addr)) {
                    if let Some(o) = p
                        .options
                        .iter()
                        .find(|o| o.code == code && o.space == "dhcp4")
                    {
                        return Some(format!(
                            "pool {}-{} option-data at {}:{}",
                            p.first,
                            p.last,
                            short(&o.span.file),
                            o.span.start.line
                        ));
                    }
                }
                if let Some(o) = s
                    .scope
                    .options
                    .iter()
                    .find(|o| o.code == code && o.space == "dhcp4")
                {
                    return Some(format!(
                        "subnet {} option-data at {}:{}",
                        s.prefix,
                        short(&o.span.file),
                        o.span.start.line
                    ));
                }
            }
            for c in &class_list {
                if let Some(o) = c
                    .options
                    .iter()
                    .find(|o| o.code == code && o.space == "dhcp4")
                {
                    return Some(format!(
                        "class '{}' option-data at {}:{}",
                        c.name,
                        short(&o.span.file),
                        o.span.start.line
                    ));
                }
            }
            config
                .globals
                .options
                .iter()
                .find(|o| o.code == code && o.space == "dhcp4")
                .map(|o| {
                    format!(
                        "global option-data at {}:{}",
                        short(&o.span.file),
                        o.span.start.line
                    )
                })
        }
        _ => None,
    }
}

/// Compares a captured answer with the replayed one. `mapping` is (captured server address,
/// netbootd's address): a field equal after mapping is `Mapped`, not a difference.
pub fn compare(
    captured: &Message,
    replayed: &Message,
    mapping: (Ipv4Addr, Ipv4Addr),
) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    let mut field = |path: &str, c: String, r: String, mapped: bool| {
        let status = if c == r {
            Status::Equal
        } else if mapped {
            Status::Mapped
        } else {
            Status::Differs
        };
        out.push(FieldDiff {
            path: path.into(),
            captured: c,
            replayed: r,
            status,
            decided_by: None,
        });
    };
    let ip_mapped = |c: Ipv4Addr, r: Ipv4Addr| c == mapping.0 && r == mapping.1;
    field(
        "op",
        captured.op.to_string(),
        replayed.op.to_string(),
        false,
    );
    field(
        "htype",
        captured.htype.to_string(),
        replayed.htype.to_string(),
        false,
    );
    field(
        "hlen",
        captured.hlen.to_string(),
        replayed.hlen.to_string(),
        false,
    );
    field(
        "hops",
        captured.hops.to_string(),
        replayed.hops.to_string(),
        false,
    );
    field(
        "xid",
        format!("{:08x}", captured.xid),
        format!("{:08x}", replayed.xid),
        false,
    );
    field(
        "flags",
        format!("{:04x}", captured.flags),
        format!("{:04x}", replayed.flags),
        false,
    );
    for (name, c, r) in [
        ("ciaddr", captured.ciaddr, replayed.ciaddr),
        ("yiaddr", captured.yiaddr, replayed.yiaddr),
        ("siaddr", captured.siaddr, replayed.siaddr),
        ("giaddr", captured.giaddr, replayed.giaddr),
    ] {
        field(name, c.to_string(), r.to_string(), ip_mapped(c, r));
    }
    field(
        "chaddr",
        hex(&captured.chaddr),
        hex(&replayed.chaddr),
        false,
    );
    let (cs, rs) = (captured.overload() & 2 == 0, replayed.overload() & 2 == 0);
    if cs && rs {
        field(
            "sname",
            format!("{:?}", text(&captured.sname)),
            format!("{:?}", text(&replayed.sname)),
            false,
        );
    }
    let (cf, rf) = (captured.overload() & 1 == 0, replayed.overload() & 1 == 0);
    if cf && rf {
        field(
            "file",
            format!("{:?}", text(&captured.file)),
            format!("{:?}", text(&replayed.file)),
            false,
        );
    }
    let order = |m: &Message| {
        m.options
            .items()
            .iter()
            .filter_map(|i| match i {
                Item::Option { code, .. } => Some(code.to_string()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    field("options.order", order(captured), order(replayed), false);
    let mut codes = captured.options.codes();
    for c in replayed.options.codes() {
        if !codes.contains(&c) {
            codes.push(c);
        }
    }
    for code in codes {
        let c = captured.option(code);
        let r = replayed.option(code);
        let show = |v: &Option<Vec<u8>>| match v {
            Some(v) if v.len() == 4 && [54, 1, 3, 6, 28, 50].contains(&code) => {
                Ipv4Addr::new(v[0], v[1], v[2], v[3]).to_string()
            }
            Some(v) => hex(v),
            None => "(absent)".into(),
        };
        let mapped = match (&c, &r) {
            (Some(a), Some(b)) if a.len() == 4 && b.len() == 4 => ip_mapped(
                Ipv4Addr::new(a[0], a[1], a[2], a[3]),
                Ipv4Addr::new(b[0], b[1], b[2], b[3]),
            ),
            _ => false,
        };
        field(&format!("option {code}"), show(&c), show(&r), mapped);
    }
    out
}
