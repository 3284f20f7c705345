//! Global settings: hooks, lease database, timers and the inheritable scope.

use std::path::Path;

use crate::kea::json::Node;
use crate::kea::model::{
    ControlSocket, ExpiredLeases, HookLibrary, IdentifierKind, LeaseDatabase, LogOutput, Logger,
    Scope,
};

use super::{error, read, Check, Ctx};

/// The value's position when present, else the map's (Element::getPosition of the entry).
fn position_of<'a>(map: &'a Node, key: &str) -> &'a crate::kea::diag::Span {
    map.get(key).map(|n| &n.span).unwrap_or(&map.span)
}

pub fn host_identifiers(node: &Node) -> Vec<IdentifierKind> {
    node.items()
        .unwrap_or_default()
        .iter()
        .filter_map(Node::as_str)
        .filter_map(IdentifierKind::from_key)
        .collect()
}

pub fn expired_leases(node: &Node) -> ExpiredLeases {
    let d = ExpiredLeases::default();
    ExpiredLeases {
        reclaim_timer_wait_time: read::uint(node, "reclaim-timer-wait-time")
            .unwrap_or(d.reclaim_timer_wait_time),
        flush_reclaimed_timer_wait_time: read::uint(node, "flush-reclaimed-timer-wait-time")
            .unwrap_or(d.flush_reclaimed_timer_wait_time),
        hold_reclaimed_time: read::uint(node, "hold-reclaimed-time")
            .unwrap_or(d.hold_reclaimed_time),
        max_reclaim_leases: read::uint(node, "max-reclaim-leases").unwrap_or(d.max_reclaim_leases),
        max_reclaim_time: read::uint(node, "max-reclaim-time").unwrap_or(d.max_reclaim_time),
        unwarned_reclaim_cycles: read::uint(node, "unwarned-reclaim-cycles")
            .unwrap_or(d.unwarned_reclaim_cycles),
    }
}

/// HooksConfig::verifyLibraries: each library must load; `kea-dhcp4 -t` lists those that do
/// not, at the hooks-libraries position. We cannot dlopen Kea's hooks, so a library counts as
/// loadable when the file exists.
pub fn hooks(ctx: &mut Ctx, node: &Node, dhcp4: &Node) -> Check<Vec<HookLibrary>> {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for item in node.items().unwrap_or_default() {
        let Some(library) = read::string(item, "library") else {
            continue;
        };
        // HooksLibrariesParser::parse: quotes removed, blanks trimmed, then not empty.
        let library = library.replace('"', "").trim().to_string();
        if library.is_empty() {
            return Err(error(
                position_of(item, "library"),
                "hooks library configuration error: value of 'library' element must not be \
                 blank",
            ));
        }
        if !ctx.system.file_exists(Path::new(&library)) {
            missing.push(library.clone());
        }
        out.push(HookLibrary {
            library,
            span: item.span.clone(),
        });
    }
    if !missing.is_empty() {
        return Err(error(
            read::key_span(dhcp4, "hooks-libraries"),
            format!(
                "hooks libraries failed to validate - library or libraries in error are: {}",
                missing.join(", ")
            ),
        ));
    }
    Ok(out)
}

pub fn lease_database(node: &Node) -> LeaseDatabase {
    let d = LeaseDatabase::default();
    LeaseDatabase {
        kind: read::string(node, "type").unwrap_or(d.kind),
        persist: read::boolean(node, "persist").unwrap_or(d.persist),
        name: read::string(node, "name"),
        lfc_interval: read::uint(node, "lfc-interval").unwrap_or(d.lfc_interval),
    }
}

/// The parameters a map at any level (global, shared network, subnet) may set.
pub fn scope(node: &Node) -> Scope {
    Scope {
        valid_lifetime: read::uint(node, "valid-lifetime"),
        min_valid_lifetime: read::uint(node, "min-valid-lifetime"),
        max_valid_lifetime: read::uint(node, "max-valid-lifetime"),
        renew_timer: read::uint(node, "renew-timer"),
        rebind_timer: read::uint(node, "rebind-timer"),
        calculate_tee_times: read::boolean(node, "calculate-tee-times"),
        t1_percent: read::float(node, "t1-percent"),
        t2_percent: read::float(node, "t2-percent"),
        match_client_id: read::boolean(node, "match-client-id"),
        authoritative: read::boolean(node, "authoritative"),
        next_server: read::ipv4(node, "next-server"),
        server_hostname: read::string(node, "server-hostname"),
        boot_file_name: read::string(node, "boot-file-name"),
        options: Vec::new(),
        client_class: read::string(node, "client-class").filter(|c| !c.is_empty()),
        require_client_classes: read::required_classes(node),
        reservations_global: read::boolean(node, "reservations-global"),
        reservations_in_subnet: read::boolean(node, "reservations-in-subnet"),
        reservations_out_of_pool: read::boolean(node, "reservations-out-of-pool"),
    }
}

pub fn loggers(node: &Node) -> Vec<Logger> {
    node.items()
        .unwrap_or_default()
        .iter()
        .map(|l| Logger {
            name: read::string(l, "name").unwrap_or_default(),
            severity: read::string(l, "severity").unwrap_or_else(|| "INFO".into()),
            debuglevel: read::uint(l, "debuglevel").unwrap_or(0),
            outputs: l
                .get("output_options")
                .or_else(|| l.get("output-options"))
                .and_then(Node::items)
                .unwrap_or_default()
                .iter()
                .filter_map(|o| {
                    Some(LogOutput {
                        output: read::string(o, "output")?,
                        flush: read::boolean(o, "flush").unwrap_or(true),
                        maxsize: read::uint(o, "maxsize").map_or(10_240_000, u64::from),
                        maxver: read::uint(o, "maxver").unwrap_or(1),
                        pattern: read::string(o, "pattern").filter(|p| !p.is_empty()),
                    })
                })
                .collect(),
        })
        .collect()
}

pub fn control_socket(node: &Node) -> Option<ControlSocket> {
    Some(ControlSocket {
        socket_type: read::string(node, "socket-type").unwrap_or_else(|| "unix".into()),
        socket_name: read::string(node, "socket-name")?,
    })
}
