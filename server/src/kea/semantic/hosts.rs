//! Host reservations: HostReservationParser4 (src/lib/dhcpsrv/parsers/
//! host_reservation_parser.cc) for each entry, then CfgHosts::add4 (cfg_hosts.cc) for the
//! duplicate checks, whose messages carry no position in Kea.

use std::net::Ipv4Addr;

use crate::kea::diag::Diagnostic;
use crate::kea::json::Node;
use crate::kea::model::{IdentifierKind, Reservation};
use crate::kea::options::decode_hex;

use super::options::option_data_list;
use super::{error, read, Check, Ctx};

const IDENTIFIERS: [&str; 5] = ["circuit-id", "client-id", "duid", "flex-id", "hw-address"];

/// Reservations added so far, per subnet id (0 for global ones).
#[derive(Default)]
pub struct HostRegistry {
    hosts: Vec<(u32, IdentifierKind, Vec<u8>, Option<Ipv4Addr>)>,
}

fn hw_text(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl HostRegistry {
    /// CfgHosts::add4's checks in its order: some resource, the identifier not yet used in
    /// this subnet, the address not yet reserved in it (ip-reservations-unique).
    pub fn add(&mut self, host: &Reservation, subnet: u32) -> Check<()> {
        let (kind, id) = &host.identifier;
        let hw = (*kind == IdentifierKind::HwAddress).then(|| hw_text(id));
        let duid = (*kind == IdentifierKind::Duid).then(|| hw_text(id));
        if host.hostname.is_none()
            && host.ip_address.is_none()
            && host.next_server.is_none()
            && host.server_hostname.is_none()
            && host.boot_file_name.is_none()
            && host.options.is_empty()
            && host.client_classes.is_empty()
        {
            let what = match (&hw, &duid) {
                (Some(hw), _) => format!("for DUID: hwtype=1 {hw}"),
                (None, Some(duid)) => format!("for HW address: {duid}"),
                _ => String::new(),
            };
            return Err(Diagnostic::semantic_error(
                None,
                format!(
                    "specified reservation {what} must include at least one resource, i.e. \
                     hostname, IPv4 address, IPv6 address/prefix, options"
                ),
            ));
        }
        let same = |h: &&(u32, IdentifierKind, Vec<u8>, Option<Ipv4Addr>)| {
            h.0 == subnet && h.1 == *kind && &h.2 == id
        };
        if self.hosts.iter().any(|h| same(&h)) {
            let message = match (&hw, &duid) {
                (Some(hw), _) => format!(
                    "failed to add new host using the HW address '{hw}' to the IPv4 subnet id \
                     '{subnet}' as this host has already been added"
                ),
                (None, Some(duid)) => format!(
                    "failed to add new host using the DUID '{duid}' to the IPv4 subnet id \
                     '{subnet}' as this host has already been added"
                ),
                _ => format!(
                    "failed to add duplicate IPv4 host using identifier: {}={}",
                    kind.key(),
                    id.iter().map(|b| format!("{b:02x}")).collect::<String>()
                ),
            };
            return Err(Diagnostic::semantic_error(None, message));
        }
        if let Some(ip) = host.ip_address {
            if self.hosts.iter().any(|h| h.0 == subnet && h.3 == Some(ip)) {
                return Err(Diagnostic::semantic_error(
                    None,
                    format!(
                        "failed to add new host using the HW address '{} and DUID '{}' to the \
                         IPv4 subnet id '{subnet}' for the address {ip}: There's already a \
                         reservation for this address",
                        hw.as_deref().unwrap_or("(null)"),
                        duid.as_deref().unwrap_or("(null)")
                    ),
                ));
            }
        }
        self.hosts
            .push((subnet, *kind, id.clone(), host.ip_address));
        Ok(())
    }
}

/// Parses every reservation of a list (Kea parses them all before adding any).
pub fn reservations(
    ctx: &mut Ctx,
    list: &Node,
    _subnet: Option<u32>,
    _registry: &mut HostRegistry,
) -> Check<Vec<Reservation>> {
    list.items()
        .unwrap_or_default()
        .iter()
        .map(|item| reservation(ctx, item))
        .collect()
}

/// Global reservations: parsed, then added with subnet id 0.
pub fn global(ctx: &mut Ctx, list: &Node) -> Check<Vec<Reservation>> {
    let mut registry = HostRegistry::default();
    let hosts = reservations(ctx, list, None, &mut registry)?;
    for h in &hosts {
        registry.add(h, 0)?;
    }
    Ok(hosts)
}

fn reservation(ctx: &mut Ctx, item: &Node) -> Check<Reservation> {
    let entries = item.entries().unwrap_or_default();
    let mut identifier: Option<(IdentifierKind, &str)> = None;
    for entry in entries {
        if let Some(kind) = IdentifierKind::from_key(&entry.key) {
            if let Some((previous, _)) = identifier {
                return Err(error(
                    &item.span,
                    format!(
                        "the '{}' and '{}' are mutually exclusive",
                        entry.key,
                        previous.key()
                    ),
                ));
            }
            identifier = Some((kind, entry.value.as_str().unwrap_or_default()));
        }
    }
    let Some((kind, text)) = identifier else {
        return Err(error(
            &item.span,
            format!(
                "one of the supported identifiers must be specified for host reservation: {}",
                IDENTIFIERS.join(", ")
            ),
        ));
    };
    // Host::setIdentifier (src/lib/dhcpsrv/host.cc): an empty text is refused first.
    if text.is_empty() {
        return Err(error(&item.span, "empty host identifier used"));
    }
    let id = match decode_hex(text) {
        Ok(bytes) if !bytes.is_empty() => bytes,
        _ => {
            return Err(error(
                &item.span,
                format!("invalid host identifier value '{text}'"),
            ))
        }
    };
    // HostReservationParser4::parseInternal: an IPv4 address, neither 0.0.0.0 nor the
    // broadcast address.
    let ip_address = match item.get("ip-address") {
        Some(node) => {
            let text = node.as_str().unwrap_or_default();
            let addr = text.parse::<std::net::IpAddr>().map_err(|_| {
                error(
                    &node.span,
                    format!("Failed to convert string to address '{text}': Invalid argument"),
                )
            })?;
            let std::net::IpAddr::V4(v4) = addr else {
                return Err(error(
                    &node.span,
                    format!("address '{addr}' is not a valid IPv4 address"),
                ));
            };
            if v4.is_unspecified() || v4.is_broadcast() {
                return Err(error(
                    &node.span,
                    format!("must not make reservation for the '{v4}' address"),
                ));
            }
            Some(v4)
        }
        None => None,
    };
    // Host::setNextServer: an IPv4 address other than the broadcast address.
    let next_server = match item.get("next-server") {
        Some(node) => {
            let text = node.as_str().unwrap_or_default();
            let addr = text.parse::<std::net::IpAddr>().map_err(|_| {
                error(
                    &node.span,
                    format!("Failed to convert string to address '{text}': Invalid argument"),
                )
            })?;
            match addr {
                std::net::IpAddr::V6(_) => {
                    return Err(error(
                        &node.span,
                        format!("next server address '{addr}' is not a valid IPv4 address"),
                    ))
                }
                std::net::IpAddr::V4(v4) if v4.is_broadcast() => {
                    return Err(error(
                        &node.span,
                        format!("invalid next server address '{v4}'"),
                    ))
                }
                // Host's default next server: as good as none.
                std::net::IpAddr::V4(v4) if v4.is_unspecified() => None,
                std::net::IpAddr::V4(v4) => Some(v4),
            }
        }
        None => None,
    };
    let options = match item.get("option-data") {
        Some(list) => option_data_list(ctx, list)?,
        None => Vec::new(),
    };
    Ok(Reservation {
        identifier: (kind, id),
        ip_address,
        hostname: read::string(item, "hostname").filter(|h| !h.is_empty()),
        next_server,
        server_hostname: read::string(item, "server-hostname").filter(|s| !s.is_empty()),
        boot_file_name: read::string(item, "boot-file-name").filter(|s| !s.is_empty()),
        client_classes: read::strings(item, "client-classes"),
        options,
        span: item.span.clone(),
    })
}
