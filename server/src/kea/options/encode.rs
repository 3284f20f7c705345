//! From an `option-data` entry's `data` text to the option's payload bytes, with Kea's rules and
//! its error wording (src/lib/dhcpsrv/parsers/option_data_parser.cc `createOption`,
//! src/lib/dhcp/option_definition.cc `optionFactory`/`writeToBuffer`,
//! src/lib/dhcp/option_data_types.cc, src/lib/util/strutil.cc).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::table::{DataType, OptionDef};

/// Why `data` does not fit; the text is Kea's exception text, which the caller wraps in
/// "option data does not match option definition (space: S, code: C): ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Hex (csv-format false) that decodeFormattedHexString refuses.
    #[error("option data is not a valid string of hexadecimal digits: {0}")]
    Hex(String),
    #[error("{0}")]
    Value(String),
}

/// Encodes `data` for `def` (None: an option without a definition, only hex is possible).
pub fn encode(def: Option<&OptionDef>, data: &str, csv: bool) -> Result<Vec<u8>, EncodeError> {
    let Some(def) = def.filter(|_| csv) else {
        return hex_or_quoted(data);
    };
    let tokens = tokens(data);
    if def.ty == DataType::Empty {
        return Ok(Vec::new());
    }
    // OptionDefinition::optionFactory: a single value needs one; an empty array of addresses
    // is accepted (`"routers", "data": ""`), of integers or FQDNs the option's constructor
    // refuses; a record counts its fields below.
    if tokens.is_empty() && def.ty != DataType::Record {
        let refusal = match def.ty {
            _ if !def.array => Some("no option value specified".to_string()),
            // OptionIntArray's constructor refuses an empty buffer.
            DataType::Uint8
            | DataType::Uint16
            | DataType::Uint32
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32 => Some(format!("option {} empty", def.code)),
            DataType::Fqdn => Some("FQDN list option has invalid length of 0".into()),
            _ => None,
        };
        if let Some(text) = refusal {
            return Err(EncodeError::Value(text));
        }
    }
    let mut out = Vec::new();
    if def.ty == DataType::Record {
        if tokens.len() < def.record.len() {
            return Err(EncodeError::Value(format!(
                "number of data fields for the option type '{}' is greater than number of \
                 values provided.",
                def.code
            )));
        }
        for (ty, value) in def.record.iter().zip(&tokens) {
            write(*ty, value.trim(), &mut out)?;
        }
        // An array record repeats its last field over the remaining values.
        if def.array {
            if let Some(last) = def.record.last() {
                for value in &tokens[def.record.len()..] {
                    write(*last, value.trim(), &mut out)?;
                }
            }
        }
    } else if def.array {
        for value in &tokens {
            write(def.ty, value.trim(), &mut out)?;
        }
    } else {
        write(def.ty, tokens[0].trim(), &mut out)?;
    }
    Ok(out)
}

/// `isc::util::str::tokens(data, ",", true)`: split at commas, `\,` escapes one, empty
/// tokens dropped.
fn tokens(data: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = data.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                current.push(',');
                chars.next();
            }
            ',' => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Host identifiers and binary data: Kea's quotedStringToBinary, then decodeFormattedHexString.
pub fn decode_hex(data: &str) -> Result<Vec<u8>, EncodeError> {
    hex_or_quoted(data)
}

/// quotedStringToBinary then decodeFormattedHexString: `'text'` gives the text's bytes;
/// otherwise hex with an optional `0x`, or octets of one or two digits separated by `:` or
/// spaces; an odd digit count gets a leading zero.
fn hex_or_quoted(data: &str) -> Result<Vec<u8>, EncodeError> {
    let trimmed = data.trim();
    if trimmed.len() >= 2 && trimmed.starts_with('\'') && trimmed.ends_with('\'') {
        let inner = &trimmed[1..trimmed.len() - 1];
        if !inner.is_empty() {
            return Ok(inner.as_bytes().to_vec());
        }
    }
    let bad = || EncodeError::Hex(data.to_string());
    let digits = |s: &str| -> Result<Vec<u8>, EncodeError> {
        if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let padded = if s.len() % 2 == 1 {
            format!("0{s}")
        } else {
            s.to_string()
        };
        (0..padded.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&padded[i..i + 2], 16).map_err(|_| bad()))
            .collect()
    };
    if let Some(rest) = data.strip_prefix("0x").or_else(|| data.strip_prefix("0X")) {
        return digits(rest);
    }
    for sep in [':', ' '] {
        if data.contains(sep) {
            return data
                .split(sep)
                .map(|octet| match octet.len() {
                    1 | 2 => digits(octet).map(|v| v[0]),
                    _ => Err(bad()),
                })
                .collect();
        }
    }
    digits(data)
}

/// OptionDataTypeUtil::lexicalCastWithRangeCheck: decimal, else hexadecimal as a stream reads
/// it (so "abc" is 2748 and fits a uint16), then the range check of the target type.
fn integer(value: &str, min: i64, max: i64) -> Result<i64, EncodeError> {
    let parsed = value.parse::<i64>().ok().or_else(|| {
        let hex = value
            .strip_prefix("0x")
            .or_else(|| value.strip_prefix("0X"))
            .unwrap_or(value);
        (!hex.is_empty())
            .then(|| i64::from_str_radix(hex, 16).ok())
            .flatten()
    });
    let Some(n) = parsed else {
        return Err(EncodeError::Value(format!(
            "unable to convert the value '{value}' to integer data type"
        )));
    };
    if n < min || n > max {
        return Err(EncodeError::Value(format!(
            "unable to convert '{value}' to numeric type. This value is expected to be in the \
             range of {min}..{max}"
        )));
    }
    Ok(n)
}

fn write(ty: DataType, value: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    match ty {
        DataType::Empty | DataType::Internal | DataType::Record => {}
        DataType::Binary => out.extend(hex_or_quoted(value)?),
        DataType::Boolean => out.push(match value {
            "true" | "1" => 1,
            "false" | "0" => 0,
            _ => {
                return Err(EncodeError::Value(format!(
                    "unable to covert the value '{value}' to boolean data type"
                )))
            }
        }),
        DataType::Int8 => out.push(integer(value, i8::MIN.into(), i8::MAX.into())? as u8),
        DataType::Uint8 => out.push(integer(value, 0, u8::MAX.into())? as u8),
        DataType::Int16 => {
            let n = integer(value, i16::MIN.into(), i16::MAX.into())? as i16;
            out.extend(n.to_be_bytes())
        }
        DataType::Uint16 => {
            let n = integer(value, 0, u16::MAX.into())? as u16;
            out.extend(n.to_be_bytes())
        }
        DataType::Int32 => {
            let n = integer(value, i32::MIN.into(), i32::MAX.into())? as i32;
            out.extend(n.to_be_bytes())
        }
        DataType::Uint32 => {
            let n = integer(value, 0, u32::MAX.into())? as u32;
            out.extend(n.to_be_bytes())
        }
        DataType::Ipv4Address => {
            let a: Ipv4Addr = value.parse().map_err(|_| {
                EncodeError::Value(format!(
                    "Failed to convert string to address '{value}': Invalid argument"
                ))
            })?;
            out.extend(a.octets())
        }
        DataType::Ipv6Address => {
            let a: Ipv6Addr = value.parse().map_err(|_| {
                EncodeError::Value(format!(
                    "Failed to convert string to address '{value}': Invalid argument"
                ))
            })?;
            out.extend(a.octets())
        }
        DataType::Psid => psid(value, out)?,
        DataType::Ipv6Prefix => ipv6_prefix(value, out)?,
        DataType::String => out.extend(value.as_bytes()),
        DataType::Tuple => {
            let len = u8::try_from(value.len()).map_err(|_| {
                EncodeError::Value(format!("tuple too long for one length octet: '{value}'"))
            })?;
            out.push(len);
            out.extend(value.as_bytes());
        }
        DataType::Fqdn => fqdn(value, out)?,
    }
    Ok(())
}

/// OptionDataTypeUtil::writePsid: "psid/len" as the length octet then the PSID left-aligned
/// in 16 bits (RFC 7597 5.1).
fn psid(value: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let bad = || EncodeError::Value(format!("invalid PSID value '{value}'"));
    let (psid, len) = value.split_once('/').ok_or_else(bad)?;
    let psid: u16 = psid.trim().parse().map_err(|_| bad())?;
    let len: u8 = len.trim().parse().map_err(|_| bad())?;
    if len > 16 || (len < 16 && u32::from(psid) >= 1u32 << len) {
        return Err(bad());
    }
    out.push(len);
    let aligned = if len == 0 { 0 } else { psid << (16 - len) };
    out.extend(aligned.to_be_bytes());
    Ok(())
}

/// OptionDataTypeUtil::writePrefix: the length octet, then the prefix's significant octets.
fn ipv6_prefix(value: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let bad = || EncodeError::Value(format!("invalid IPv6 prefix '{value}'"));
    let (addr, len) = value.split_once('/').ok_or_else(bad)?;
    let addr: Ipv6Addr = addr.trim().parse().map_err(|_| bad())?;
    let len: u8 = len.trim().parse().map_err(|_| bad())?;
    if len > 128 {
        return Err(bad());
    }
    out.push(len);
    out.extend(&addr.octets()[..usize::from(len).div_ceil(8)]);
    Ok(())
}

/// A domain name in wire format (RFC 1035 3.1), as isc::dns::Name reads text.
fn fqdn(value: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let name = value.strip_suffix('.').unwrap_or(value);
    if name.is_empty() {
        out.push(0);
        return Ok(());
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(EncodeError::Value(format!("duplicate period in {value}")));
        }
        if label.len() > 63 {
            return Err(EncodeError::Value(format!("label is too long in {value}")));
        }
        out.push(label.len() as u8);
        out.extend(label.as_bytes());
    }
    out.push(0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kea::options::Registry;
    use crate::kea::KeaVersion;

    fn std_encode(name: &str, data: &str) -> Result<Vec<u8>, EncodeError> {
        let r = Registry::new(KeaVersion::V2_2);
        encode(r.by_name("dhcp4", name), data, true)
    }

    #[test]
    fn csv_values_follow_the_definition() {
        assert_eq!(
            std_encode("routers", "10.0.0.1, 10.0.0.2").unwrap(),
            [10, 0, 0, 1, 10, 0, 0, 2]
        );
        assert_eq!(
            std_encode("boot-file-name", "ipxe.efi").unwrap(),
            b"ipxe.efi"
        );
        assert_eq!(std_encode("client-system", "7").unwrap(), [0, 7]);
        assert_eq!(std_encode("client-ndi", "1,2,1").unwrap(), [1, 2, 1]);
    }

    /// Kea 2.2 `kea-dhcp4 -t` accepts boot-size "abc" (hex 0xabc) but not default-ip-ttl "abc".
    #[test]
    fn integers_fall_back_to_hexadecimal_then_range_check() {
        assert_eq!(std_encode("boot-size", "abc").unwrap(), [0x0a, 0xbc]);
        assert_eq!(
            std_encode("default-ip-ttl", "abc").unwrap_err().to_string(),
            "unable to convert 'abc' to numeric type. This value is expected to be in the \
             range of 0..255"
        );
        assert_eq!(std_encode("default-ip-ttl", "0x10").unwrap(), [16]);
    }

    #[test]
    fn kea_error_texts() {
        assert_eq!(
            std_encode("routers", "10.0.0.300").unwrap_err().to_string(),
            "Failed to convert string to address '10.0.0.300': Invalid argument"
        );
        assert_eq!(
            std_encode("ip-forwarding", "maybe")
                .unwrap_err()
                .to_string(),
            "unable to covert the value 'maybe' to boolean data type"
        );
        assert_eq!(
            std_encode("domain-name", "").unwrap_err().to_string(),
            "no option value specified"
        );
        assert_eq!(
            std_encode("client-ndi", "1,2").unwrap_err().to_string(),
            "number of data fields for the option type '94' is greater than number of values \
             provided."
        );
    }

    #[test]
    fn hex_forms() {
        assert_eq!(encode(None, "0xabcd", false).unwrap(), [0xab, 0xcd]);
        assert_eq!(encode(None, "0a:0b:c", false).unwrap(), [10, 11, 12]);
        assert_eq!(encode(None, "ab cd", false).unwrap(), [0xab, 0xcd]);
        assert_eq!(encode(None, "abc", false).unwrap(), [0x0a, 0xbc]);
        assert_eq!(encode(None, "'PXE'", false).unwrap(), b"PXE");
        assert!(matches!(
            encode(None, "zz", false),
            Err(EncodeError::Hex(_))
        ));
    }
}
