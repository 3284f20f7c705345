//! A client's DHCP messages grouped into rounds: one round is one program's attempt to get
//! an address and a boot file (DISCOVER retries, OFFERs, REQUEST, ACK or NAK, the PXE boot
//! server request on UDP 4011 and its answer). A new round starts when another program
//! speaks (iPXE after the PXE ROM), after a transfer, or when the client starts over.

use std::net::Ipv4Addr;

use netbootd::time::Instant;

use serde::Serialize;

use super::firmware::{identify, ja4d, Identity};
use super::flows::{Dhcp, Event, Transfer, Unreachable};

/// How an OFFER reads to a PXE client (PXE spec 2.1 section 2.2.1; EDK2 `PxeBcParseDhcp4Packet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OfferKind {
    /// An address and no PXE information.
    Address,
    /// An address, and option 60 "PXEClient" or a boot file.
    AddressAndBoot,
    /// No address (yiaddr 0) and option 60 "PXEClient": a ProxyDHCP offer.
    Proxy,
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub dhcp: Dhcp,
    pub kind: OfferKind,
    pub file: Option<String>,
    pub pxeclient: bool,
    pub has43: bool,
}

impl Reply {
    fn new(d: &Dhcp) -> Reply {
        let pxeclient = d
            .msg
            .option(60)
            .is_some_and(|v| v.starts_with(b"PXEClient"));
        let file = d.boot_file();
        let kind = if d.msg.yiaddr.is_unspecified() && pxeclient {
            OfferKind::Proxy
        } else if pxeclient || file.is_some() {
            OfferKind::AddressAndBoot
        } else {
            OfferKind::Address
        };
        Reply {
            dhcp: d.clone(),
            kind,
            file,
            pxeclient,
            has43: d.msg.option(43).is_some(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Round {
    pub identity: Identity,
    pub fingerprint: String,
    pub first: Dhcp,
    /// DISCOVERs: (packet, xid, secs).
    pub discovers: Vec<(usize, u32, u16)>,
    pub offers: Vec<Reply>,
    pub requests: Vec<Dhcp>,
    pub acks: Vec<Reply>,
    pub naks: Vec<Dhcp>,
    /// Requests to a boot server on UDP 4011 (PXE spec 2.1 section 2.2.3, "BINL").
    pub binl: Vec<Dhcp>,
    pub binl_replies: Vec<Reply>,
    pub unreachable: Vec<Unreachable>,
    pub declines: Vec<usize>,
    pub releases: Vec<usize>,
    pub last_at: Instant,
}

impl Round {
    fn new(first: &Dhcp) -> Round {
        Round {
            identity: identify(&first.msg, first.ttl),
            fingerprint: ja4d(&first.msg),
            first: first.clone(),
            discovers: Vec::new(),
            offers: Vec::new(),
            requests: Vec::new(),
            acks: Vec::new(),
            naks: Vec::new(),
            binl: Vec::new(),
            binl_replies: Vec::new(),
            unreachable: Vec::new(),
            declines: Vec::new(),
            releases: Vec::new(),
            last_at: first.at,
        }
    }

    /// The address the client was given (the last ACK with one).
    pub fn lease(&self) -> Option<(Ipv4Addr, Ipv4Addr)> {
        self.acks
            .iter()
            .rev()
            .find(|a| !a.dhcp.msg.yiaddr.is_unspecified())
            .map(|a| (a.dhcp.msg.yiaddr, a.dhcp.server()))
    }

    /// The boot file as the client will read it: a 4011 answer, else the ACK, else the
    /// ProxyDHCP offer (EDK2 `PxeBcDhcp4BootInfo`, firmware.md A.8).
    pub fn boot_file(&self) -> Option<(String, Ipv4Addr, usize)> {
        let pick = |r: &Reply| r.file.clone().map(|f| (f, r.dhcp.server(), r.dhcp.packet));
        self.binl_replies
            .iter()
            .rev()
            .find_map(pick)
            .or_else(|| self.acks.iter().rev().find_map(pick))
            .or_else(|| {
                self.offers
                    .iter()
                    .filter(|o| o.kind == OfferKind::Proxy)
                    .find_map(pick)
            })
    }

    pub fn packets(&self) -> Vec<usize> {
        let mut p: Vec<usize> = self.discovers.iter().map(|d| d.0).collect();
        p.extend(self.offers.iter().map(|o| o.dhcp.packet));
        p.extend(self.requests.iter().map(|o| o.packet));
        p.extend(self.acks.iter().map(|o| o.dhcp.packet));
        p.extend(self.naks.iter().map(|o| o.packet));
        p.extend(self.binl.iter().map(|o| o.packet));
        p.extend(self.binl_replies.iter().map(|o| o.dhcp.packet));
        p.extend(self.unreachable.iter().map(|o| o.packet));
        p.extend(&self.declines);
        p.extend(&self.releases);
        p.sort_unstable();
        p.dedup();
        p
    }

    fn is_binl_reply(&self, d: &Dhcp) -> bool {
        d.src.1 == 4011
            || self
                .binl
                .iter()
                .any(|b| b.msg.xid == d.msg.xid && b.dst.0 == d.src.0)
    }
}

/// A client's chain in order: DHCP rounds and TFTP transfers.
#[derive(Debug, Clone)]
pub enum Piece {
    Round(Box<Round>),
    Transfer(Box<Transfer>),
}

/// Groups one client's events into rounds and transfers.
pub fn pieces(events: &[Event], transfers: &[Transfer]) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut current: Option<Round> = None;
    for e in events {
        match e {
            Event::Tftp(t) => {
                if let Some(r) = current.take() {
                    out.push(Piece::Round(Box::new(r)));
                }
                if let Some(t) = transfers.get(*t) {
                    out.push(Piece::Transfer(Box::new(t.clone())));
                }
            }
            Event::Unreachable(u) => {
                if let Some(r) = current.as_mut() {
                    r.unreachable.push(u.clone());
                    r.last_at = u.at;
                }
            }
            Event::Dhcp(d) if d.from_client() => {
                let kind = d.msg.message_type().unwrap_or(0);
                let identity = identify(&d.msg, d.ttl);
                let restart = current.as_ref().is_some_and(|r| {
                    // Another program speaks, or the client starts over after an ACK or RELEASE.
                    (r.identity.class != identity.class && kind != 7)
                        || (kind == 1 && (!r.acks.is_empty() || !r.releases.is_empty()))
                });
                if restart || current.is_none() {
                    if let Some(r) = current.take() {
                        out.push(Piece::Round(Box::new(r)));
                    }
                    current = Some(Round::new(d));
                }
                let r = current.as_mut().expect("set above");
                r.last_at = d.at;
                match kind {
                    1 => r.discovers.push((d.packet, d.msg.xid, d.msg.secs)),
                    3 if d.dst.1 == 4011 => r.binl.push((**d).clone()),
                    3 => r.requests.push((**d).clone()),
                    4 => r.declines.push(d.packet),
                    7 => r.releases.push(d.packet),
                    _ => {}
                }
            }
            Event::Dhcp(d) => {
                let Some(r) = current.as_mut() else { continue };
                r.last_at = d.at;
                match d.msg.message_type() {
                    Some(2) => r.offers.push(Reply::new(d)),
                    Some(5) if r.is_binl_reply(d) => r.binl_replies.push(Reply::new(d)),
                    Some(5) => r.acks.push(Reply::new(d)),
                    Some(6) => r.naks.push((**d).clone()),
                    _ => {}
                }
            }
        }
    }
    if let Some(r) = current {
        out.push(Piece::Round(Box::new(r)));
    }
    out
}
