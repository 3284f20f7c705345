//! The diagnoses a DHCP round can give, with their packets: servers racing, NAK (PXE-E07),
//! DECLINE, option 60 "PXEClient" without option 43 (EDK2 goes to UDP 4011, PXE-E16), a
//! ProxyDHCP silent on 4011, a lease without a boot file, no offer (PXE-E51), offers without
//! a boot file (PXE-E53).

use std::time::Duration;

use super::rounds::{OfferKind, Round};
use super::verdict::{stage_of, Builder};
use super::words::{list, range};

impl Builder {
    pub(super) fn dhcp_findings(&mut self, r: &Round, after_failure: bool) {
        // Servers racing: two servers offered addresses (firmware.md A.6: EDK2 sorts offers).
        let mut servers: Vec<_> = r
            .offers
            .iter()
            .filter(|o| o.kind != OfferKind::Proxy)
            .map(|o| (o.dhcp.server(), o.dhcp.packet))
            .collect();
        servers.sort();
        servers.dedup_by_key(|s| s.0);
        if servers.len() > 1 {
            let chosen = r.requests.first().map(|q| (q.server(), q.packet));
            let text = format!(
                "two servers offered addresses: {}{}",
                servers
                    .iter()
                    .map(|(s, p)| format!("{s} (packet {p})"))
                    .collect::<Vec<_>>()
                    .join(" and "),
                chosen
                    .map(|(s, p)| format!("; the client took {s} (REQUEST, packet {p})"))
                    .unwrap_or_default()
            );
            self.find(
                "servers-racing",
                text,
                servers.iter().map(|s| s.1).collect(),
                false,
            );
        }
        // A NAK with no ACK after it ends the round: EDK2 stops with PXE-E07 (the sim's
        // model, firmware.md A.4); a later lease means the client started over and got one.
        if r.lease().is_some() {
            for f in &mut self.story.findings {
                if f.kind == "nak" {
                    f.fatal = false;
                }
            }
        }
        for n in &r.naks {
            let acked_after = r.acks.iter().any(|a| a.dhcp.packet > n.packet);
            self.find(
                "nak",
                format!(
                    "{} refused the REQUEST (DHCPNAK, packet {}){}",
                    n.server(),
                    n.packet,
                    if acked_after {
                        ""
                    } else {
                        ": PXE-E07 (another client may hold the address; is the pool too small?)"
                    }
                ),
                vec![n.packet],
                !acked_after,
            );
        }
        if !r.declines.is_empty() {
            self.find(
                "address-conflict",
                "the client declined its address (DECLINE: another host answers for it)".into(),
                r.declines.clone(),
                true,
            );
        }
        // Option 60 "PXEClient" with an address, no option 43 and no boot file: EDK2 takes it as
        // a PXE offer that needs a boot server and asks that server on UDP 4011
        // (firmware.md A.5/A.6, `PxeBcParseDhcp4Packet`, `PxeBcSelectDhcp4Offer`).
        let trap: Vec<_> = r
            .offers
            .iter()
            .filter(|o| {
                o.kind == OfferKind::AddressAndBoot && o.pxeclient && !o.has43 && o.file.is_none()
            })
            .collect();
        if !r.binl.is_empty() && r.binl_replies.is_empty() {
            let last = r.binl.last().expect("not empty");
            let to = last.dst.0;
            let icmp: Vec<_> = r.unreachable.iter().filter(|u| u.to.1 == 4011).collect();
            let gave_up = !icmp.is_empty()
                || r.binl.len() > 1
                || !r.releases.is_empty()
                || self.capture_end - last.at >= Duration::from_secs(4);
            let mut packets: Vec<usize> = r.binl.iter().map(|b| b.packet).collect();
            let how = if icmp.is_empty() {
                format!("no reply from {to}:4011")
            } else {
                packets.extend(icmp.iter().map(|u| u.packet));
                format!(
                    "{} answered ICMP port unreachable (packet {})",
                    icmp[0].from, icmp[0].packet
                )
            };
            let release = if r.releases.is_empty() {
                String::new()
            } else {
                packets.extend(&r.releases);
                format!(
                    "; the client RELEASEd (packet {}) and started over",
                    r.releases[0]
                )
            };
            let trapped = trap.iter().find(|o| o.dhcp.server() == to);
            let (kind, text) = if let Some(o) = trapped {
                packets.push(o.dhcp.packet);
                (
                    "binl-trap-opt60-without-opt43",
                    format!(
                        "{to} offered an address with option 60 \"PXEClient\" but no option 43 and no boot file (packet {}); the client asked it for a boot file on UDP 4011 ({}): {how}{release}. PXE-E16: No valid offer received. Stop {to} from sending option 60 to PXE clients",
                        o.dhcp.packet,
                        list(&r.binl.iter().map(|b| b.packet).collect::<Vec<_>>())
                    ),
                )
            } else {
                (
                    "proxy-silent-on-4011",
                    format!(
                        "stopped at ProxyDHCP/4011: the boot server request to {to}:4011 ({}) got {how}{release}",
                        list(&r.binl.iter().map(|b| b.packet).collect::<Vec<_>>())
                    ),
                )
            };
            packets.sort_unstable();
            self.find(kind, text, packets, gave_up);
        } else if !trap.is_empty() && r.binl.is_empty() {
            let o = trap[0];
            self.find(
                "binl-trap-opt60-without-opt43",
                format!(
                    "{} offers an address with option 60 \"PXEClient\" but no option 43 and no boot file (packet {}): EDK2 clients that take it go to UDP 4011",
                    o.dhcp.server(),
                    o.dhcp.packet
                ),
                vec![o.dhcp.packet],
                false,
            );
        }
        let discovers: Vec<usize> = r.discovers.iter().map(|d| d.0).collect();
        if after_failure {
            return;
        }
        if let (Some((ip, server)), None, true) = (r.lease(), r.boot_file(), r.binl.is_empty()) {
            let ack = r.acks.last().map(|a| a.dhcp.packet).unwrap_or(0);
            let mut others: Vec<String> = r
                .offers
                .iter()
                .filter(|o| o.file.is_some() && o.dhcp.server() != server)
                .map(|o| o.dhcp.server().to_string())
                .collect();
            others.dedup();
            let hint = if others.is_empty() {
                String::new()
            } else {
                format!(
                    "; an offer with a boot file came from {}",
                    others.join(", ")
                )
            };
            self.find(
                "lease-without-boot-file",
                format!(
                    "{} leased {ip} from {server} with no boot file (ACK, packet {ack}): the DHCPACK has no boot file name{hint}",
                    stage_of(r).trim_end_matches(" DHCP")
                ),
                vec![ack],
                true,
            );
            return;
        }
        if r.lease().is_some() || !r.binl.is_empty() {
            return;
        }
        if r.offers.is_empty() && discovers.len() >= 3 {
            self.find(
                "no-offer",
                format!(
                    "no offer: {} DISCOVERs ({}) and no OFFER seen (PXE-E51)",
                    discovers.len(),
                    range(&discovers)
                ),
                discovers,
                true,
            );
        } else if !r.offers.is_empty()
            && r.boot_file().is_none()
            && r.offers.iter().all(|o| !o.pxeclient)
            && discovers.len() >= 3
            && r.requests.is_empty()
        {
            let offers: Vec<usize> = r.offers.iter().map(|o| o.dhcp.packet).collect();
            self.find(
                "offer-without-boot-file",
                format!(
                    "only offers without a boot file ({}) and the client keeps sending DISCOVERs (PXE-E53: No boot filename received)",
                    range(&offers)
                ),
                offers,
                true,
            );
        }
    }
}
