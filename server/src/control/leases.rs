//! The lease commands of Kea's lease_cmds hook (src/hooks/dhcp/lease_cmds/lease_cmds.cc,
//! lease_parser.cc), which operators use to pin, inspect and clear PXE clients' addresses:
//! lease4-add, -get, -get-all, -get-by-hw-address, -get-by-client-id, -get-by-hostname,
//! -del, -update, -wipe. Offered only when the config loads libdhcp_lease_cmds.so, as Kea
//! offers them. Every change goes through the engine and is in the lease file before the
//! answer leaves.

use std::net::Ipv4Addr;

use serde_json::{json, Map, Value};

use super::commands::Answer;
use crate::dhcp::engine::EngineError;
use crate::dhcp::lease::{hex_colons, Lease, LeaseState};
use crate::dhcp::service::DhcpService;
use crate::dhcp::stats::Cause;
use crate::kea::model::Config;

/// The commands, sorted as list-commands shows them.
pub const COMMANDS: &[&str] = &[
    "lease4-add",
    "lease4-del",
    "lease4-get",
    "lease4-get-all",
    "lease4-get-by-client-id",
    "lease4-get-by-hostname",
    "lease4-get-by-hw-address",
    "lease4-update",
    "lease4-wipe",
];

/// Whether the config loads the hook that provides the lease commands.
pub fn enabled(config: &Config) -> bool {
    config
        .hooks
        .iter()
        .any(|h| h.library.ends_with("libdhcp_lease_cmds.so"))
}

/// A lease as lease_cmds writes it (Lease4::toElement).
pub fn lease_json(lease: &Lease) -> Value {
    let mut m = Map::new();
    m.insert("cltt".into(), json!(lease.cltt));
    m.insert("fqdn-fwd".into(), json!(lease.fqdn_fwd));
    m.insert("fqdn-rev".into(), json!(lease.fqdn_rev));
    m.insert("hostname".into(), json!(lease.hostname));
    m.insert("hw-address".into(), json!(hex_colons(&lease.hwaddr)));
    m.insert("ip-address".into(), json!(lease.address.to_string()));
    m.insert("state".into(), json!(lease.state.code()));
    m.insert("subnet-id".into(), json!(lease.subnet_id));
    m.insert("valid-lft".into(), json!(lease.valid_lifetime));
    if let Some(id) = &lease.client_id {
        m.insert("client-id".into(), json!(hex_colons(id)));
    }
    if let Some(ctx) = lease.user_context.as_deref() {
        if let Ok(v) = serde_json::from_str::<Value>(ctx) {
            m.insert("user-context".into(), v);
        }
    }
    Value::Object(m)
}

/// "52:54:00:00:00:05" (or without separators) as bytes.
fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits: String = text.chars().filter(|c| *c != ':' && *c != '-').collect();
    if digits.len() % 2 != 0 {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok())
        .collect()
}

fn text_arg<'a>(args: &'a Value, name: &str) -> Result<&'a str, Answer> {
    match args.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Answer::error(format!("'{name}' is not a string"))),
        None => Err(Answer::error(format!("'{name}' parameter not specified"))),
    }
}

fn address_arg(args: &Value) -> Result<Ipv4Addr, Answer> {
    let text = text_arg(args, "ip-address")?;
    text.parse()
        .map_err(|_| Answer::error(format!("Failed to convert string to address '{text}'")))
}

/// Runs a lease command.
pub fn run(service: &DhcpService, command: &str, args: Option<&Value>) -> Answer {
    let empty = Value::Object(Map::new());
    let args = args.unwrap_or(&empty);
    let result = match command {
        "lease4-add" => add(service, args, false),
        "lease4-update" => add(service, args, true),
        "lease4-get" => get(service, args),
        "lease4-get-all" => get_all(service, args),
        "lease4-get-by-hw-address" => get_by(service, args, "hw-address"),
        "lease4-get-by-client-id" => get_by(service, args, "client-id"),
        "lease4-get-by-hostname" => get_by(service, args, "hostname"),
        "lease4-del" => del(service, args),
        "lease4-wipe" => wipe(service, args),
        _ => Ok(Answer::unsupported(command)),
    };
    result.unwrap_or_else(|answer| answer)
}

fn snapshot<T>(
    service: &DhcpService,
    read: impl FnOnce(&crate::dhcp::engine::Engine) -> T,
) -> Result<T, Answer> {
    let engine = service
        .engine
        .lock()
        .map_err(|_| Answer::error("the engine is unavailable".into()))?;
    Ok(read(&engine))
}

fn change<T>(
    service: &DhcpService,
    cause: Cause,
    decide: impl FnOnce(
        &mut crate::dhcp::engine::Engine,
        crate::time::Instant,
    ) -> Result<T, EngineError>,
) -> Result<T, Answer> {
    service
        .decide_as(cause, decide)
        .map_err(|e| Answer::error(e.to_string()))
}

/// lease4-add and lease4-update (Lease4Parser::parse, then addLease / updateLease4).
fn add(service: &DhcpService, args: &Value, update: bool) -> Result<Answer, Answer> {
    let address = address_arg(args)?;
    let hw = text_arg(args, "hw-address")?;
    let hwaddr = unhex(hw).ok_or_else(|| Answer::error(format!("invalid hw-address '{hw}'")))?;
    let (subnet_id, valid) = snapshot(service, |engine| {
        let config = engine.config();
        let id = args.get("subnet-id").and_then(Value::as_u64).unwrap_or(0) as u32;
        let subnet = if id == 0 {
            config
                .subnets
                .iter()
                .find(|s| s.prefix.contains(&address))
                .ok_or_else(|| {
                    Answer::error(format!(
                        "subnet-id not specified and failed to find a subnet for address {address}"
                    ))
                })?
        } else {
            let s = config.subnets.iter().find(|s| s.id == id).ok_or_else(|| {
                Answer::error(format!(
                    "Invalid subnet-id: No IPv4 subnet with subnet-id={id} currently configured."
                ))
            })?;
            if !s.prefix.contains(&address) {
                return Err(Answer::error(format!(
                    "The address {address} does not belong to subnet {}, subnet-id={id}",
                    s.prefix
                )));
            }
            s
        };
        Ok((subnet.id, config.effective(subnet).valid_lifetime))
    })??;
    let valid = args
        .get("valid-lft")
        .and_then(Value::as_u64)
        .map_or(valid, |v| v as u32);
    let client_id = match args.get("client-id").and_then(Value::as_str) {
        Some(text) => {
            Some(unhex(text).ok_or_else(|| Answer::error(format!("invalid client-id '{text}'")))?)
        }
        None => None,
    };
    let force = args
        .get("force-create")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let state = args.get("state").and_then(Value::as_u64).unwrap_or(0) as u32;
    let hostname = args
        .get("hostname")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let flag = |name: &str| args.get(name).and_then(Value::as_bool).unwrap_or(false);
    let user_context = args.get("user-context").map(Value::to_string);
    change(service, Cause::Command, |engine, now| {
        let exists = engine.leases().get(address).is_some();
        if !update && exists {
            return Ok(Answer::error("IPv4 lease already exists.".into()));
        }
        if update && !exists && !force {
            return Ok(Answer::error(format!(
                "failed to update the lease with address {address} either because the lease \
                 has been deleted or it has changed in the database, in both cases a retry might \
                 succeed"
            )));
        }
        let unix_now = engine.unix_secs(now);
        let cltt = args
            .get("expire")
            .and_then(Value::as_u64)
            .map_or(unix_now, |expire| expire.saturating_sub(u64::from(valid)));
        engine.put_lease(Lease {
            address,
            hwaddr,
            client_id,
            valid_lifetime: valid,
            cltt,
            subnet_id,
            fqdn_fwd: flag("fqdn-fwd"),
            fqdn_rev: flag("fqdn-rev"),
            hostname,
            state: LeaseState::from_code(state),
            user_context,
            pool_id: 0,
        });
        Ok(if update {
            Answer::ok("IPv4 lease updated.")
        } else {
            Answer::ok(&format!(
                "Lease for address {address}, subnet-id {subnet_id} added."
            ))
        })
    })
}

fn get(service: &DhcpService, args: &Value) -> Result<Answer, Answer> {
    let found = if args.get("ip-address").is_some() {
        let address = address_arg(args)?;
        snapshot(service, |e| e.leases().get(address).cloned())?
    } else {
        let kind = text_arg(args, "identifier-type")?.to_string();
        let id = text_arg(args, "identifier")?;
        let id = unhex(id).ok_or_else(|| Answer::error(format!("invalid identifier '{id}'")))?;
        let subnet = args
            .get("subnet-id")
            .and_then(Value::as_u64)
            .ok_or_else(|| Answer::error("'subnet-id' parameter not specified".into()))?
            as u32;
        snapshot(service, |e| {
            e.leases()
                .iter()
                .find(|l| {
                    l.subnet_id == subnet
                        && match kind.as_str() {
                            "hw-address" => l.hwaddr == id,
                            "client-id" => l.client_id.as_deref() == Some(&id[..]),
                            _ => false,
                        }
                })
                .cloned()
        })?
    };
    Ok(match found {
        Some(lease) => Answer::ok_with("IPv4 lease found.", lease_json(&lease)),
        None => Answer::empty("Lease not found."),
    })
}

fn listed(leases: Vec<Value>) -> Answer {
    let text = format!("{} IPv4 lease(s) found.", leases.len());
    let arguments = json!({ "leases": leases });
    if leases_empty(&arguments) {
        Answer::empty_with(&text, arguments)
    } else {
        Answer::ok_with(&text, arguments)
    }
}

fn leases_empty(arguments: &Value) -> bool {
    arguments["leases"].as_array().is_some_and(Vec::is_empty)
}

fn get_all(service: &DhcpService, args: &Value) -> Result<Answer, Answer> {
    let subnets: Option<Vec<u64>> = args
        .get("subnets")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_u64).collect());
    let leases = snapshot(service, |e| {
        e.leases()
            .iter()
            .filter(|l| {
                subnets
                    .as_ref()
                    .is_none_or(|s| s.contains(&u64::from(l.subnet_id)))
            })
            .map(lease_json)
            .collect()
    })?;
    Ok(listed(leases))
}

fn get_by(service: &DhcpService, args: &Value, field: &str) -> Result<Answer, Answer> {
    let wanted = text_arg(args, field)?.to_string();
    let bytes = unhex(&wanted);
    let leases = snapshot(service, |e| {
        e.leases()
            .iter()
            .filter(|l| match field {
                "hw-address" => bytes.as_deref() == Some(&l.hwaddr[..]),
                "client-id" => bytes.is_some() && l.client_id == bytes,
                _ => l.hostname.eq_ignore_ascii_case(&wanted),
            })
            .map(lease_json)
            .collect()
    })?;
    Ok(listed(leases))
}

fn del(service: &DhcpService, args: &Value) -> Result<Answer, Answer> {
    let address = address_arg(args)?;
    change(service, Cause::Command, |engine, _| {
        Ok(match engine.remove_lease(address) {
            Some(_) => Answer::ok("IPv4 lease deleted."),
            None => Answer::empty("IPv4 lease not found."),
        })
    })
}

/// lease4-wipe: every lease of a subnet, or of all subnets.
fn wipe(service: &DhcpService, args: &Value) -> Result<Answer, Answer> {
    let subnet = args.get("subnet-id").and_then(Value::as_u64).unwrap_or(0) as u32;
    change(service, Cause::Recount, |engine, _| {
        let ids: Vec<u32> = if subnet == 0 {
            engine.config().subnets.iter().map(|s| s.id).collect()
        } else {
            vec![subnet]
        };
        let doomed: Vec<Ipv4Addr> = engine
            .leases()
            .iter()
            .filter(|l| ids.contains(&l.subnet_id))
            .map(|l| l.address)
            .collect();
        for a in &doomed {
            engine.remove_lease(*a);
        }
        let list: Vec<String> = ids.iter().map(u32::to_string).collect();
        let text = format!(
            "Deleted {} IPv4 lease(s) from subnet(s) {}",
            doomed.len(),
            list.join(" ")
        );
        Ok(if doomed.is_empty() {
            Answer::empty(&text)
        } else {
            Answer::ok(&text)
        })
    })
}
