//! One row of kea-leases4.csv: Kea's column set per schema version, its escaping (`&#x2c` for
//! a comma, CSVRow::escapeCharacters) and its text forms of hardware addresses and client ids.

use std::net::Ipv4Addr;

use super::{Lease, LeaseState};

/// Kea 2.x writes schema 2.1 (11 columns); Kea 3.0 adds `pool_id` (schema 3.0).
const COLUMNS_2_1: [&str; 11] = [
    "address",
    "hwaddr",
    "client_id",
    "valid_lifetime",
    "expire",
    "subnet_id",
    "fqdn_fwd",
    "fqdn_rev",
    "hostname",
    "state",
    "user_context",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("line {line}: {message}")]
    Row { line: usize, message: String },
    #[error("line 1: not a Kea lease file header: {0:?}")]
    Header(String),
}

/// The column layout of a file, read from its header line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    columns: Vec<String>,
}

impl Default for Header {
    /// What we write: Kea 2.2's layout, which every Kea 2.x and 3.x reads (VersionedCSVFile
    /// upgrades older schemas on load).
    fn default() -> Self {
        Header {
            columns: COLUMNS_2_1.iter().map(|c| c.to_string()).collect(),
        }
    }
}

impl Header {
    pub fn parse(line: &str) -> Result<Self, CsvError> {
        let columns: Vec<String> = line.trim_end().split(',').map(str::to_string).collect();
        // VersionedCSVFile::validateHeader: at least the columns up to `hostname`, in order.
        if columns.len() < 9 || columns[..9] != COLUMNS_2_1[..9] {
            return Err(CsvError::Header(line.trim_end().to_string()));
        }
        Ok(Header { columns })
    }

    pub fn line(&self) -> String {
        self.columns.join(",")
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// Appends `text` with `,` and `&` replaced by `&#xHH` (CSVRow::escapeCharacters with
/// escape tag "&#x").
fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            ',' => out.push_str("&#x2c"),
            '&' => out.push_str("&#x26"),
            c => out.push(c),
        }
    }
}

/// The decimal digits of `n`, written into `buf` (no formatter: a lease row and the
/// statistics a lease change updates hold several numbers each, once per lease given).
pub fn decimal(n: u64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    let mut n = n;
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // SAFETY: `buf[at..]` holds ASCII digits only, written just above. (Validating them
    // again was a tenth of this function's cost, run several times per lease.)
    unsafe { std::str::from_utf8_unchecked(&buf[at..]) }
}

fn push_decimal(out: &mut String, n: u64) {
    out.push_str(decimal(n, &mut [0; 20]));
}

/// An address in dotted decimal, as Ipv4Addr's Display writes it.
fn push_address(out: &mut String, address: std::net::Ipv4Addr) {
    for (i, octet) in address.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_decimal(out, u64::from(octet));
    }
}

/// Appends `bytes` as Kea writes hardware addresses and client ids: `52:54:00:12:34:56`.
fn push_hex_colons(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
}

/// CSVRow::unescapeCharacters: `&#x` and two hex digits become that byte; anything else is
/// kept as written.
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"&#x") && i + 5 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 3..i + 5]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 5;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub use crate::wire::mac::hex_colons;
use crate::wire::mac::parse_hex_colons;

/// Encoding and decoding of rows for one header.
pub struct LeaseRow;

impl LeaseRow {
    pub fn encode(header: &Header, lease: &Lease) -> String {
        let mut out = String::with_capacity(128);
        LeaseRow::write(header, lease, &mut out);
        out
    }

    /// Appends `lease`'s row (no newline) to `out`, column by column in the header's order,
    /// formatted in place: the lease file's write path runs once per lease given.
    pub fn write(header: &Header, lease: &Lease, out: &mut String) {
        let put = push_decimal;
        for (i, column) in header.columns.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match column.as_str() {
                "address" => push_address(out, lease.address),
                "hwaddr" => push_hex_colons(out, &lease.hwaddr),
                "client_id" => push_hex_colons(out, lease.client_id.as_deref().unwrap_or_default()),
                "valid_lifetime" => put(out, u64::from(lease.valid_lifetime)),
                "expire" => put(out, lease.expire()),
                "subnet_id" => put(out, u64::from(lease.subnet_id)),
                "fqdn_fwd" => put(out, u64::from(lease.fqdn_fwd)),
                "fqdn_rev" => put(out, u64::from(lease.fqdn_rev)),
                "hostname" => push_escaped(out, &lease.hostname),
                "state" => put(out, u64::from(lease.state.code())),
                "user_context" => {
                    push_escaped(out, lease.user_context.as_deref().unwrap_or_default())
                }
                "pool_id" => put(out, u64::from(lease.pool_id)),
                _ => {}
            }
        }
    }

    /// Reads one data line (`line` is its 1-based number, for the error).
    pub fn decode(header: &Header, line: usize, text: &str) -> Result<Lease, CsvError> {
        let err = |message: String| CsvError::Row { line, message };
        let fields: Vec<&str> = text.trim_end_matches(['\r', '\n']).split(',').collect();
        if fields.len() != header.columns.len() {
            return Err(err(format!(
                "{} fields, the header has {}",
                fields.len(),
                header.columns.len()
            )));
        }
        let get = |name: &str| header.index(name).map(|i| fields[i]).unwrap_or("");
        let number = |name: &str| -> Result<u64, CsvError> {
            let v = get(name);
            if v.is_empty() && (name == "state" || name == "pool_id") {
                return Ok(0);
            }
            v.parse()
                .map_err(|_| err(format!("{name} '{v}' is not a number")))
        };
        let address: Ipv4Addr = get("address")
            .parse()
            .map_err(|_| err(format!("address '{}' is not IPv4", get("address"))))?;
        let hwaddr = parse_hex_colons(get("hwaddr"))
            .ok_or_else(|| err(format!("hwaddr '{}' is malformed", get("hwaddr"))))?;
        let client_id = match get("client_id") {
            "" => None,
            v => Some(
                parse_hex_colons(v).ok_or_else(|| err(format!("client_id '{v}' is malformed")))?,
            ),
        };
        let valid_lifetime = u32::try_from(number("valid_lifetime")?)
            .map_err(|_| err("valid_lifetime out of range".into()))?;
        let expire = number("expire")?;
        let flag = |name: &str| -> Result<bool, CsvError> {
            match get(name) {
                "1" | "true" => Ok(true),
                "0" | "false" | "" => Ok(false),
                v => Err(err(format!("{name} '{v}' is not 0 or 1"))),
            }
        };
        let user_context = match get("user_context") {
            "" => None,
            v => Some(unescape(v)),
        };
        Ok(Lease {
            address,
            hwaddr,
            client_id,
            valid_lifetime,
            cltt: expire.saturating_sub(u64::from(valid_lifetime)),
            subnet_id: u32::try_from(number("subnet_id")?)
                .map_err(|_| err("subnet_id out of range".into()))?,
            fqdn_fwd: flag("fqdn_fwd")?,
            fqdn_rev: flag("fqdn_rev")?,
            hostname: unescape(get("hostname")),
            state: LeaseState::from_code(number("state")? as u32),
            user_context,
            pool_id: number("pool_id")? as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_writes_every_digit() {
        for n in [0, 7, 10, 4_294_967_295, u64::MAX] {
            assert_eq!(decimal(n, &mut [0; 20]), n.to_string());
        }
    }

    fn lease() -> Lease {
        Lease {
            address: Ipv4Addr::new(192, 168, 1, 2),
            hwaddr: vec![0x52, 0x54, 0, 0x12, 0x34, 0x56],
            client_id: Some(vec![1, 0x52, 0x54, 0, 0x12, 0x34, 0x56]),
            valid_lifetime: 3600,
            cltt: 1_700_000_000,
            subnet_id: 1,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname: "node,1&co".into(),
            state: LeaseState::Default,
            user_context: None,
            pool_id: 0,
        }
    }

    #[test]
    fn rows_are_written_as_kea_2_2_writes_them() {
        let h = Header::default();
        assert_eq!(
            h.line(),
            "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,\
             hostname,state,user_context"
        );
        assert_eq!(
            LeaseRow::encode(&h, &lease()),
            "192.168.1.2,52:54:00:12:34:56,01:52:54:00:12:34:56,3600,1700003600,1,0,0,\
             node&#x2c1&#x26co,0,"
        );
    }

    #[test]
    fn rows_round_trip_and_errors_name_the_line() {
        let h = Header::default();
        let text = LeaseRow::encode(&h, &lease());
        assert_eq!(LeaseRow::decode(&h, 2, &text).unwrap(), lease());
        let e = LeaseRow::decode(&h, 7, "192.168.1.300,,,1,2,1,0,0,,0,").unwrap_err();
        assert_eq!(e.to_string(), "line 7: address '192.168.1.300' is not IPv4");
        assert!(LeaseRow::decode(&h, 3, "1.2.3.4,zz").is_err());
    }

    #[test]
    fn kea_3_0_header_with_pool_id_is_read() {
        let h = Header::parse(
            "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,\
             hostname,state,user_context,pool_id",
        )
        .unwrap();
        let l =
            LeaseRow::decode(&h, 2, "10.0.0.5,aa:bb:cc:dd:ee:ff,,60,160,3,1,0,host,0,,7").unwrap();
        assert_eq!(l.pool_id, 7);
        assert_eq!(l.cltt, 100);
        assert!(l.fqdn_fwd);
        assert!(Header::parse("foo,bar").is_err());
    }
}
