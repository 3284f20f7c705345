//! DHCPv4 messages as bytes on the wire, with options kept in the order they were sent.
//!
//! dhcproto keeps options in a map and re-encodes them sorted; real firmware has its own order
//! (EDK2 sends 53, 57, 55, 97, 94, 93, 60: firmware.md A.2) and captures must round-trip byte
//! for byte. So this module keeps every option as sent: order, repeats, padding, and the bytes
//! after the end option. A value split over several instances of one code is read back joined
//! (RFC 3396 section 5), and long values are split when written (RFC 3396 section 7).
//! Layout: RFC 2131 section 2 (fixed header, 236 bytes) and RFC 2132 section 2 (cookie).

use std::borrow::Cow;
use std::net::Ipv4Addr;

use super::MacAddr;

/// Size of the BOOTP header up to the options (RFC 2131 figure 1).
pub const HEADER_LEN: usize = 236;
/// RFC 2132 section 2.
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

pub const OPT_PAD: u8 = 0;
pub const OPT_OVERLOAD: u8 = 52;
pub const OPT_END: u8 = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message is {0} bytes, shorter than the 240-byte DHCP header and cookie")]
    TooShort(usize),
    #[error("bad magic cookie {0:02x?} at offset 236")]
    BadCookie([u8; 4]),
    #[error("option {code} at offset {offset} claims {len} bytes but only {left} remain")]
    TruncatedOption {
        code: u8,
        offset: usize,
        len: usize,
        left: usize,
    },
}

/// One element of an options area, as it was on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Pad,
    Option { code: u8, data: OptionValue },
    End,
}

/// An option instance's bytes, held inline up to 16 (a message type, an address, a time, a
/// client id, a parameter list): decoding a query and building a reply then allocate
/// nothing per option.
pub type OptionValue = smallvec::SmallVec<[u8; 16]>;

/// An options area (the main one, or `file`/`sname` when overloaded), in wire order.
#[derive(Debug, Clone, Default)]
pub struct OptionList {
    items: Vec<Item>,
    /// Bytes after the end option (padding to 300 bytes and whatever else a client put there).
    pub trailer: Vec<u8>,
    /// The codes that appear in `items`: the engine asks a query for a few dozen options
    /// (classes, relay information, overloading), most of them absent, and a bit answers
    /// that without a walk of the list. Kept by every method that adds an item.
    present: Codes,
    /// The codes that appear more than once (RFC 3396 split values): any other is found
    /// whole at its first instance, without a walk of the rest.
    repeated: Codes,
}

/// Lists are equal when their items and trailers are (`present` follows from the items).
impl PartialEq for OptionList {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items && self.trailer == other.trailer
    }
}

impl Eq for OptionList {}

/// A set of option codes, one bit each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Codes([u64; 4]);

impl Codes {
    /// Adds `code` to `present`, and to `repeated` when it was there already.
    fn add(present: &mut Codes, repeated: &mut Codes, code: u8) {
        if present.contains(code) {
            repeated.insert(code);
        }
        present.insert(code);
    }

    fn insert(&mut self, code: u8) {
        self.0[usize::from(code >> 6)] |= 1 << (code & 63);
    }

    fn contains(&self, code: u8) -> bool {
        self.0[usize::from(code >> 6)] & (1 << (code & 63)) != 0
    }
}

impl OptionList {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses an options area. `offset` is where the area starts in the message, for errors.
    pub fn decode(bytes: &[u8], offset: usize) -> Result<Self, DecodeError> {
        // Room for a usual query's options at once, rather than growing four times.
        let mut items = Vec::with_capacity(16);
        let (mut present, mut repeated) = (Codes::default(), Codes::default());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                OPT_PAD => {
                    items.push(Item::Pad);
                    i += 1;
                }
                OPT_END => {
                    items.push(Item::End);
                    return Ok(OptionList {
                        items,
                        present,
                        repeated,
                        trailer: bytes[i + 1..].to_vec(),
                    });
                }
                code => {
                    let Some(&len) = bytes.get(i + 1) else {
                        return Err(DecodeError::TruncatedOption {
                            code,
                            offset: offset + i,
                            len: 1,
                            left: 0,
                        });
                    };
                    let len = usize::from(len);
                    let left = bytes.len() - i - 2;
                    if len > left {
                        return Err(DecodeError::TruncatedOption {
                            code,
                            offset: offset + i,
                            len,
                            left,
                        });
                    }
                    Codes::add(&mut present, &mut repeated, code);
                    items.push(Item::Option {
                        code,
                        data: OptionValue::from_slice(&bytes[i + 2..i + 2 + len]),
                    });
                    i += 2 + len;
                }
            }
        }
        // No end option: tolerated (many stacks are lax), and re-encoded without one.
        Ok(OptionList {
            items,
            trailer: Vec::new(),
            present,
            repeated,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        for item in &self.items {
            match item {
                Item::Pad => out.push(OPT_PAD),
                Item::End => out.push(OPT_END),
                Item::Option { code, data } => {
                    out.push(*code);
                    out.push(data.len() as u8);
                    out.extend_from_slice(data);
                }
            }
        }
        out.extend_from_slice(&self.trailer);
    }

    /// Appends an option before the end option, splitting values over 255 bytes into several
    /// instances of the same code (RFC 3396 section 7).
    pub fn push(&mut self, code: u8, data: &[u8]) {
        Codes::add(&mut self.present, &mut self.repeated, code);
        if data.len() > 255 {
            self.repeated.insert(code);
        }
        let at = self
            .items
            .iter()
            .position(|i| *i == Item::End)
            .unwrap_or(self.items.len());
        if at == self.items.len() && data.len() <= 255 {
            // A message being built, one instance: as below without the splice.
            self.items.push(Item::Option {
                code,
                data: OptionValue::from_slice(data),
            });
            return;
        }
        let chunks: Vec<Item> = if data.is_empty() {
            vec![Item::Option {
                code,
                data: OptionValue::new(),
            }]
        } else {
            data.chunks(255)
                .map(|c| Item::Option {
                    code,
                    data: OptionValue::from_slice(c),
                })
                .collect()
        };
        self.items.splice(at..at, chunks);
    }

    /// Appends the end option.
    pub fn end(&mut self) {
        self.items.push(Item::End);
    }

    /// The codes in the order they first appear.
    pub fn codes(&self) -> Vec<u8> {
        let mut seen = Vec::new();
        for item in &self.items {
            if let Item::Option { code, .. } = item {
                if !seen.contains(code) {
                    seen.push(*code);
                }
            }
        }
        seen
    }

    /// The value of `code`: all its instances joined (RFC 3396), `None` when absent.
    pub fn get(&self, code: u8) -> Option<Vec<u8>> {
        self.get_ref(code).map(Cow::into_owned)
    }

    /// [`OptionList::get`] without a copy when the option comes once (as nearly always):
    /// the engine reads several options of every query.
    pub fn get_ref(&self, code: u8) -> Option<Cow<'_, [u8]>> {
        if !self.present.contains(code) {
            return None;
        }
        if !self.repeated.contains(code) {
            return self.items.iter().find_map(|item| match item {
                Item::Option { code: c, data } if *c == code => Some(Cow::Borrowed(&data[..])),
                _ => None,
            });
        }
        let mut found: Option<Cow<'_, [u8]>> = None;
        for item in &self.items {
            if let Item::Option { code: c, data } = item {
                if *c == code {
                    match &mut found {
                        None => found = Some(Cow::Borrowed(data)),
                        Some(value) => value.to_mut().extend_from_slice(data),
                    }
                }
            }
        }
        found
    }

    pub fn contains(&self, code: u8) -> bool {
        self.present.contains(code)
            && self
                .items
                .iter()
                .any(|i| matches!(i, Item::Option { code: c, .. } if *c == code))
    }

    /// The items in wire order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Room for `n` more items.
    pub fn reserve(&mut self, n: usize) {
        self.items.reserve(n);
    }

    /// Gives every instance of `code` the value `data` (a capture's value rewritten for a
    /// replay); no instance is added or removed.
    pub fn overwrite(&mut self, code: u8, data: &[u8]) {
        for item in &mut self.items {
            if let Item::Option {
                code: c,
                data: value,
            } = item
            {
                if *c == code {
                    *value = OptionValue::from_slice(data);
                }
            }
        }
    }

    /// Removes the last item (an end option, before more are pushed). A code it removes
    /// may stay in `present`, which only ever over-approximates: lookups walk the items.
    pub fn pop(&mut self) -> Option<Item> {
        self.items.pop()
    }
}

/// A DHCPv4 message: the fixed header fields and the options areas in wire order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub op: u8,
    pub htype: u8,
    pub hlen: u8,
    pub hops: u8,
    pub xid: u32,
    pub secs: u16,
    pub flags: u16,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub chaddr: [u8; 16],
    pub sname: [u8; 64],
    pub file: [u8; 128],
    pub options: OptionList,
}

impl Default for Message {
    fn default() -> Self {
        Message {
            op: 1,
            htype: 1,
            hlen: 6,
            hops: 0,
            xid: 0,
            secs: 0,
            flags: 0,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr: [0; 16],
            sname: [0; 64],
            file: [0; 128],
            options: OptionList::new(),
        }
    }
}

fn ip(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

impl Message {
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() < HEADER_LEN + 4 {
            return Err(DecodeError::TooShort(bytes.len()));
        }
        let cookie: [u8; 4] = bytes[236..240].try_into().expect("length checked");
        if cookie != MAGIC_COOKIE {
            return Err(DecodeError::BadCookie(cookie));
        }
        let mut m = Message {
            op: bytes[0],
            htype: bytes[1],
            hlen: bytes[2],
            hops: bytes[3],
            xid: u32::from_be_bytes(bytes[4..8].try_into().expect("length checked")),
            secs: u16::from_be_bytes([bytes[8], bytes[9]]),
            flags: u16::from_be_bytes([bytes[10], bytes[11]]),
            ciaddr: ip(&bytes[12..16]),
            yiaddr: ip(&bytes[16..20]),
            siaddr: ip(&bytes[20..24]),
            giaddr: ip(&bytes[24..28]),
            chaddr: [0; 16],
            sname: [0; 64],
            file: [0; 128],
            options: OptionList::default(),
        };
        m.chaddr.copy_from_slice(&bytes[28..44]);
        m.sname.copy_from_slice(&bytes[44..108]);
        m.file.copy_from_slice(&bytes[108..236]);
        m.options = OptionList::decode(&bytes[240..], 240)?;
        Ok(m)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(300);
        out.extend_from_slice(&[self.op, self.htype, self.hlen, self.hops]);
        out.extend_from_slice(&self.xid.to_be_bytes());
        out.extend_from_slice(&self.secs.to_be_bytes());
        out.extend_from_slice(&self.flags.to_be_bytes());
        for a in [self.ciaddr, self.yiaddr, self.siaddr, self.giaddr] {
            out.extend_from_slice(&a.octets());
        }
        out.extend_from_slice(&self.chaddr);
        out.extend_from_slice(&self.sname);
        out.extend_from_slice(&self.file);
        out.extend_from_slice(&MAGIC_COOKIE);
        self.options.encode(&mut out);
        out
    }

    /// The Ethernet address in `chaddr`'s first six octets, whatever `hlen` says: the
    /// address a reply to `chaddr` goes to (RFC 2131 4.1), and the one a switch files it under.
    pub fn client_mac(&self) -> MacAddr {
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&self.chaddr[..6]);
        MacAddr(mac)
    }

    /// The client hardware address, `hlen` bytes of `chaddr` (at most 16).
    pub fn hwaddr(&self) -> &[u8] {
        &self.chaddr[..usize::from(self.hlen).min(16)]
    }

    /// Option overload (RFC 2132 section 9.3): 1 = `file` holds options, 2 = `sname`, 3 = both.
    pub fn overload(&self) -> u8 {
        self.options
            .get_ref(OPT_OVERLOAD)
            .and_then(|v| v.first().copied())
            .unwrap_or(0)
    }

    /// The value of `code` looked up as RFC 3396 section 5 says: the options field, then `file`
    /// and `sname` when overloaded, all instances joined.
    pub fn option(&self, code: u8) -> Option<Vec<u8>> {
        self.option_ref(code).map(Cow::into_owned)
    }

    /// [`Message::option`], borrowed from the message when the value lies in one piece (one
    /// instance, no overloading): the engine's way, as it reads several options per query.
    pub fn option_ref(&self, code: u8) -> Option<Cow<'_, [u8]>> {
        let overload = self.overload();
        if overload == 0 {
            return self.options.get_ref(code);
        }
        // The options field is read in place; only overloaded fields are decoded.
        let mut found = self.options.get_ref(code);
        for (bit, field, offset) in [(1, &self.file[..], 108), (2, &self.sname[..], 44)] {
            if overload & bit == 0 {
                continue;
            }
            if let Some(v) = OptionList::decode(field, offset)
                .unwrap_or_default()
                .get(code)
            {
                match &mut found {
                    None => found = Some(Cow::Owned(v)),
                    Some(value) => value.to_mut().extend_from_slice(&v),
                }
            }
        }
        found
    }

    /// The DHCP message type (option 53), if present: the first byte of its value.
    pub fn message_type(&self) -> Option<u8> {
        // The joined value's first byte (RFC 3396): option_ref borrows it in place unless
        // the option is split or overloaded.
        self.option_ref(53).and_then(|v| v.first().copied())
    }

    /// `file` as text up to its first NUL, when it is not overloaded with options.
    pub fn file_name(&self) -> Option<String> {
        (self.overload() & 1 == 0)
            .then(|| c_string(&self.file))
            .flatten()
    }

    /// `sname` as text up to its first NUL, when it is not overloaded with options.
    pub fn server_name(&self) -> Option<String> {
        (self.overload() & 2 == 0)
            .then(|| c_string(&self.sname))
            .flatten()
    }
}

fn c_string(field: &[u8]) -> Option<String> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    (end > 0).then(|| String::from_utf8_lossy(&field[..end]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `get_ref` must answer, by a plain walk: every instance of `code` joined.
    fn walked(list: &OptionList, code: u8) -> Option<Vec<u8>> {
        let mut found: Option<Vec<u8>> = None;
        for item in list.items() {
            if let Item::Option { code: c, data } = item {
                if *c == code {
                    found.get_or_insert_with(Vec::new).extend_from_slice(data);
                }
            }
        }
        found
    }

    proptest::proptest! {
        /// The code bitmaps only shortcut lookups: built by push or by decode, with codes
        /// repeated, values split over 255 bytes and the end option popped, every code
        /// answers as a walk of the items does.
        #[test]
        fn lookups_agree_with_a_walk(
            options in proptest::collection::vec(
                (1u8..9,
                 proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)),
                0..12),
            pop in proptest::prelude::any::<bool>(),
        ) {
            let mut pushed = OptionList::new();
            for (code, data) in &options {
                pushed.push(*code, data);
            }
            pushed.end();
            let mut bytes = Vec::new();
            pushed.encode(&mut bytes);
            let mut decoded = OptionList::decode(&bytes, 240).unwrap();
            if pop {
                pushed.pop();
                pushed.pop();
                decoded.pop();
                decoded.pop();
            }
            for list in [&pushed, &decoded] {
                for code in 0..=255u8 {
                    let want = walked(list, code);
                    proptest::prop_assert_eq!(list.get_ref(code).map(Cow::into_owned), want.clone());
                    proptest::prop_assert_eq!(list.contains(code), want.is_some());
                }
            }
        }
    }

    /// EDK2's DISCOVER options as OBSERVED from OVMF (firmware.md A.2), in wire order.
    fn edk2_discover() -> Message {
        let mut m = Message {
            xid: 0x1234_5678,
            flags: 0x8000,
            ..Message::default()
        };
        m.chaddr[..6].copy_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        m.options.push(53, &[1]);
        m.options.push(57, &[0x05, 0xc0]);
        m.options.push(55, &[1, 2, 3]);
        m.options.push(97, &[0; 17]);
        m.options.push(94, &[1, 3, 0]);
        m.options.push(93, &[0, 7]);
        m.options.push(60, b"PXEClient:Arch:00007:UNDI:003000");
        m.options.end();
        m
    }

    #[test]
    fn order_is_kept_through_a_round_trip() {
        let m = edk2_discover();
        let bytes = m.encode();
        let back = Message::decode(&bytes).unwrap();
        assert_eq!(back.options.codes(), [53, 57, 55, 97, 94, 93, 60]);
        assert_eq!(back.encode(), bytes);
        assert_eq!(back.message_type(), Some(1));
        assert_eq!(back.hwaddr(), &[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    }

    #[test]
    fn padding_repeats_and_trailer_survive() {
        let mut bytes = edk2_discover().encode();
        bytes.pop(); // drop the end option
        bytes.extend_from_slice(&[0, 0, 77, 2, b'i', b'P', 77, 2, b'X', b'E', 255, 0, 0, 0]);
        let m = Message::decode(&bytes).unwrap();
        assert_eq!(m.option(77).unwrap(), b"iPXE");
        assert_eq!(m.options.trailer, [0, 0, 0]);
        assert_eq!(m.encode(), bytes);
    }

    #[test]
    fn long_values_split_and_join() {
        let mut list = OptionList::new();
        list.push(43, &[7u8; 300]);
        list.end();
        let mut out = Vec::new();
        list.encode(&mut out);
        assert_eq!(&out[..2], &[43, 255]);
        assert_eq!(&out[257..259], &[43, 45]);
        let back = OptionList::decode(&out, 0).unwrap();
        assert_eq!(back.get(43).unwrap().len(), 300);
    }

    #[test]
    fn option_ref_borrows_one_instance_and_joins_several() {
        let mut m = edk2_discover();
        m.options.pop();
        m.options.push(43, &[1, 2]);
        m.options.push(43, &[3]);
        m.options.end();
        let m = Message::decode(&m.encode()).unwrap();
        assert!(matches!(m.option_ref(53), Some(Cow::Borrowed([1]))));
        assert!(matches!(m.option_ref(43), Some(Cow::Owned(v)) if v == [1, 2, 3]));
        assert_eq!(m.option(43).unwrap(), [1, 2, 3]);
        assert_eq!(m.option_ref(99), None);
    }

    #[test]
    fn overloaded_file_field_holds_options() {
        let mut m = edk2_discover();
        m.options.pop();
        m.options.push(OPT_OVERLOAD, &[1]);
        m.options.end();
        m.file[..4].copy_from_slice(&[67, 1, b'x', 255]);
        let m = Message::decode(&m.encode()).unwrap();
        assert_eq!(m.option(67).unwrap(), b"x");
        assert!(matches!(m.option_ref(67), Some(Cow::Owned(v)) if v == b"x"));
        assert_eq!(m.file_name(), None);
    }

    #[test]
    fn truncation_names_the_offset() {
        let bytes = edk2_discover().encode();
        assert_eq!(
            Message::decode(&bytes[..100]),
            Err(DecodeError::TooShort(100))
        );
        let err = Message::decode(&bytes[..250]).unwrap_err();
        assert!(matches!(err, DecodeError::TruncatedOption { code: 55, .. }));
        for n in 0..bytes.len() {
            let _ = Message::decode(&bytes[..n]);
        }
    }
}
