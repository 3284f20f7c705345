//! Hardware addresses as Kea writes and reads them: lower-case hex octets joined by colons
//! (`HWAddr::toText(false)`, the lease file's `hwaddr`), read back with one or two hex
//! digits per octet (`util::str::decodeColonSeparatedHexString`). [`MacAddr`] is an
//! Ethernet address (read with hyphens too, iPXE's `hexhyp`, as bootsim's CLI always took
//! it); [`hex_colons`] and [`parse_hex_colons`] any length (client-ids).

use std::fmt;
use std::str::FromStr;

/// An Ethernet (EUI-48) address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    pub const fn octets(self) -> [u8; 6] {
        self.0
    }

    /// The six octets in wire order, borrowed.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }
}

/// `aa:bb:cc` (HWAddr::toText(false), ClientId::toText).
pub fn hex_colons(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Octets of one or two hex digits between colons; the empty text is no octets.
pub fn parse_hex_colons(text: &str) -> Option<Vec<u8>> {
    parse_hex(text, ':')
}

fn parse_hex(text: &str, separator: char) -> Option<Vec<u8>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(separator)
        .map(|o| match o.len() {
            1 | 2 => u8::from_str_radix(o, 16).ok(),
            _ => None,
        })
        .collect()
}

/// Why a text is not a MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a MAC address (six hex octets joined by colons, as 52:54:00:12:34:56)")]
pub struct BadMac(pub String);

impl FromStr for MacAddr {
    type Err = BadMac;

    fn from_str(text: &str) -> Result<MacAddr, BadMac> {
        let trimmed = text.trim();
        let separator = if trimmed.contains('-') { '-' } else { ':' };
        parse_hex(trimmed, separator)
            .and_then(|octets| <[u8; 6]>::try_from(octets).ok())
            .map(MacAddr)
            .ok_or_else(|| BadMac(text.to_string()))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex_colons(&self.0))
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<[u8; 6]> for MacAddr {
    fn from(octets: [u8; 6]) -> MacAddr {
        MacAddr(octets)
    }
}

impl From<MacAddr> for [u8; 6] {
    fn from(mac: MacAddr) -> [u8; 6] {
        mac.0
    }
}

impl serde::Serialize for MacAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for MacAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<MacAddr, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_read_and_print_as_kea_does() {
        let mac: MacAddr = "52:54:0:12:34:5E".parse().unwrap();
        assert_eq!(mac.octets(), [0x52, 0x54, 0, 0x12, 0x34, 0x5e]);
        assert_eq!(mac.to_string(), "52:54:00:12:34:5e");
        assert_eq!("52-54-00-12-34-5e".parse::<MacAddr>(), Ok(mac));
        for bad in [
            "",
            "52:54:00:12:34",
            "52:54:00:12:34:56:78",
            "525400123456",
            "52:54:00:12:34:5g",
            "52:54:000:12:34:56",
            "52:54-00:12:34:56",
        ] {
            assert_eq!(bad.parse::<MacAddr>(), Err(BadMac(bad.into())), "{bad}");
        }
        assert_eq!(parse_hex_colons("1:ff"), Some(vec![1, 0xff]));
        assert_eq!(hex_colons(&[1, 0xff]), "01:ff");
    }

    #[test]
    fn macs_are_strings_in_serde() {
        let mac = MacAddr([2, 0, 0, 0, 0, 1]);
        let json = serde_json::to_string(&mac).unwrap();
        assert_eq!(json, "\"02:00:00:00:00:01\"");
        assert_eq!(serde_json::from_str::<MacAddr>(&json).unwrap(), mac);
        assert!(serde_json::from_str::<MacAddr>("\"x\"").is_err());
    }
}
