//! One firmware's DISCOVER answered straight by the engine, and what the offer alone says is
//! wrong: no answer (and why), option 60 echoed without 43 (EDK2's PXE-E16), a boot file
//! without a next-server, no boot file, a file the firmware cannot run by its name.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::bootfile;
use super::report::{Problem, Severity};
use crate::chain::Firmware;
use crate::net::embedded::{build, ServerSpec, SetupError};
use netbootd::dhcp::engine::Silence;
use netbootd::dhcp::link::FrameAnswer;
use netbootd::kea::model::Config;
use netbootd::wire::dhcp::Message;
use netbootd::wire::frame::{Datagram, BROADCAST_MAC};

/// What the server made of one firmware's DISCOVER.
pub struct Offer {
    pub query: Message,
    /// Every class the engine assigned, built-in ones included.
    pub classes: Vec<String>,
    pub reply: Option<Message>,
    /// Why there is no reply.
    pub silence: Option<String>,
    pub file: Option<String>,
    pub next_server: Option<Ipv4Addr>,
}

impl Offer {
    /// The config's own classes (not ALL, KNOWN, VENDOR_CLASS_...).
    pub fn own_classes(&self) -> Vec<String> {
        self.classes
            .iter()
            .filter(|c| {
                !matches!(c.as_str(), "ALL" | "KNOWN" | "UNKNOWN")
                    && !c.starts_with("VENDOR_CLASS_")
                    && !c.starts_with("SPAWN_")
            })
            .cloned()
            .collect()
    }
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Sends `kind`'s DISCOVER (from MAC 52:54:00:aa:00:`i+1`) to a fresh server.
pub fn offer(spec: &ServerSpec, i: usize, kind: Firmware) -> Result<Offer, SetupError> {
    let mut server = build(spec)?;
    let mac = netbootd::wire::MacAddr([0x52, 0x54, 0x00, 0xaa, 0x00, i as u8 + 1]);
    let query = super::discover::discover(kind, mac);
    let frame = Datagram::new(
        mac,
        BROADCAST_MAC,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
        SocketAddrV4::new(Ipv4Addr::BROADCAST, 67),
        query.encode(),
    )
    .to_frame();
    let answer = server
        .link
        .answer(&mut server.engine, netbootd::time::Instant::ZERO, &frame);
    let (classes, reply, silence) = match answer {
        Ok(FrameAnswer::Reply { reply, classes, .. }) => (classes.into_names(), Some(*reply), None),
        Ok(FrameAnswer::Silent { why, .. }) => (Vec::new(), None, Some(silence_words(&why))),
        Ok(other) => (Vec::new(), None, Some(format!("{other:?}"))),
        Err(e) => (Vec::new(), None, Some(e.to_string())),
    };
    let file = reply.as_ref().and_then(|r| {
        let f = c_string(&r.file);
        if f.is_empty() {
            r.option(67).map(|v| c_string(&v)).filter(|s| !s.is_empty())
        } else {
            Some(f)
        }
    });
    let next_server = reply
        .as_ref()
        .map(|r| r.siaddr)
        .filter(|a| !a.is_unspecified());
    Ok(Offer {
        query,
        classes,
        reply,
        silence,
        file,
        next_server,
    })
}

/// What the offer alone shows to be wrong for `kind`. `by_name`: judge the boot file by its
/// name (there is no TFTP root to read it from).
pub fn problems(kind: Firmware, offer: &Offer, by_name: bool, config: &Config) -> Vec<Problem> {
    let name = kind.name().to_string();
    let mut out = Vec::new();
    let mut push = |severity, message| {
        out.push(Problem {
            severity,
            firmware: Some(name.clone()),
            message,
        })
    };
    let ipxe = matches!(kind, Firmware::IpxeEfi | Firmware::IpxeBios);
    let Some(r) = &offer.reply else {
        push(
            Severity::Warning,
            format!(
                "the server does not answer this firmware's DISCOVER: {}",
                offer.silence.clone().unwrap_or_default()
            ),
        );
        return out;
    };
    let echoes = r.option(60).is_some_and(|v| v.starts_with(b"PXEClient"));
    if echoes && r.option(43).is_none() && !ipxe {
        push(Severity::Error, "the offer carries option 60 \"PXEClient\" without option 43: EDK2 then asks for its boot file on UDP 4011 and fails (PXE-E16); do not send option 60 to PXE clients".into());
    }
    match &offer.file {
        Some(file) if offer.next_server.is_none() && !file.contains("://") => push(
            if ipxe {
                Severity::Error
            } else {
                Severity::Warning
            },
            format!(
                "boot file {file} with no next-server (siaddr 0): iPXE then has nothing to boot and EDK2 falls back to the server identifier; set next-server in the class or subnet"
            ),
        ),
        None if kind != Firmware::UefiHttp => {
            let own = offer.own_classes();
            push(
                Severity::Warning,
                format!(
                    "no boot file for this firmware (classes: {})",
                    if own.is_empty() {
                        "none".into()
                    } else {
                        own.join(", ")
                    }
                ),
            )
        }
        _ => {}
    }
    if let (true, Some(f)) = (by_name, &offer.file) {
        if let Some(why) = bootfile::mismatch(kind, f) {
            push(
                Severity::Error,
                format!(
                    "offered {f} by {}: {why}",
                    bootfile::source(config, &offer.classes, f)
                ),
            );
        }
    }
    out
}

/// Why the engine stayed silent, in an operator's words (Dhcpv4Srv's drop reasons).
fn silence_words(why: &Silence) -> String {
    match why {
        Silence::NoSubnet => "no subnet fits it (Kea's selectSubnet: every subnet is bound to \
                              another interface or relay, or restricted to a client class it \
                              lacks, or there are no subnets)"
            .into(),
        Silence::NoAddress => "no free address in the pools it may use (pools restricted to \
                               client classes it lacks, or all leased)"
            .into(),
        other => format!("{other:?}"),
    }
}
