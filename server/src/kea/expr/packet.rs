//! The packet an expression looks at: a decoded DHCPv4 message (options kept as received, in
//! wire order, joined per RFC 3396) and the metadata Kea's Pkt carries (interface, addresses,
//! length).

use std::net::{IpAddr, Ipv4Addr};

use crate::kea::options::{standard, DataType, Registry};
use crate::kea::KeaVersion;
use crate::wire::dhcp::{DecodeError, Message};

#[derive(Debug, thiserror::Error)]
pub enum PacketError {
    #[error("not a DHCPv4 message: {0}")]
    Decode(#[from] DecodeError),
}

pub struct Packet<'a> {
    pub msg: &'a Message,
    pub iface: &'a str,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The UDP payload length (Pkt::len).
    pub len: usize,
    /// Option definitions, for `.text` of string-typed options (OptionString::toString).
    pub registry: Option<&'a Registry>,
}

impl<'a> Packet<'a> {
    /// A packet received on `iface` from 0.0.0.0 to the broadcast address, the way a
    /// DISCOVER from an unconfigured client arrives.
    pub fn broadcast(msg: &'a Message, iface: &'a str, len: usize) -> Self {
        Packet {
            msg,
            iface,
            src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dst: IpAddr::V4(Ipv4Addr::BROADCAST),
            len,
            registry: None,
        }
    }

    pub fn with_registry(mut self, registry: &'a Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The option's data as Kea's Option::toBinary() gives it, or None when absent.
    pub fn option(&self, code: u16) -> Option<Vec<u8>> {
        u8::try_from(code).ok().and_then(|c| self.msg.option(c))
    }

    /// `.text` of an option: the value of a string-typed option, otherwise Kea's generic
    /// Option::toText(0), "type=093, len=002: 00:07".
    pub fn option_text(&self, code: u16, data: &[u8]) -> Vec<u8> {
        let def = match self.registry {
            Some(r) => r.by_code("dhcp4", code),
            None => standard(KeaVersion::default())
                .iter()
                .find(|d| d.space == "dhcp4" && d.code == code),
        };
        let is_string = def.is_some_and(|d| d.ty == DataType::String && !d.array);
        if is_string {
            return data.to_vec();
        }
        generic_text(code, data)
    }
}

pub fn generic_text(code: u16, data: &[u8]) -> Vec<u8> {
    let hex: Vec<String> = data.iter().map(|b| format!("{b:02x}")).collect();
    format!("type={code:03}, len={:03}: {}", data.len(), hex.join(":")).into_bytes()
}

/// Sub-options in DHCPv4 TLV form (code, length, data), e.g. option 82 or 43.
pub fn sub_option(data: &[u8], code: u16) -> Option<Vec<u8>> {
    let mut i = 0;
    let mut found: Option<Vec<u8>> = None;
    while i + 1 < data.len() {
        let c = u16::from(data[i]);
        if data[i] == 0 {
            i += 1;
            continue;
        }
        if data[i] == 255 {
            break;
        }
        let len = usize::from(data[i + 1]);
        let end = (i + 2 + len).min(data.len());
        if c == code {
            found
                .get_or_insert_with(Vec::new)
                .extend_from_slice(&data[i + 2..end]);
        }
        i = end;
    }
    found
}
