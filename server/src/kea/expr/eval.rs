//! Evaluation with Kea's semantics (src/lib/eval/token.cc): every value is a byte string,
//! booleans are the strings "true" and "false", a missing option reads as the empty string.

use std::cell::RefCell;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::ast::{Expr, IntText, Pkt4Field, PktField, Repr, Str};
use super::classify::ClassSet;
use super::packet::{generic_text, sub_option, Packet};

/// EvalTypeError and friends: the expression could not be evaluated; Kea logs it and does
/// not assign the class.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

type R<T> = Result<T, EvalError>;

/// Evaluates a class test (Kea's evaluateBool).
pub fn evaluate(expr: &Expr, pkt: &Packet, classes: &ClassSet) -> R<bool> {
    Eval {
        pkt,
        classes,
        trace: None,
    }
    .boolean(expr)
}

/// One term of an expression and the value it had: Kea's evaluator pushes a string per
/// token (token.cc), and this is that string, with the terms it was computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Step<'e> {
    pub term: Term<'e>,
    /// The term's value (booleans as "true"/"false", as on Kea's value stack), or why it
    /// could not be computed.
    pub value: R<Vec<u8>>,
    /// The sub-terms evaluated for it, in evaluation order.
    pub children: Vec<Step<'e>>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Term<'e> {
    Bool(&'e Expr),
    Str(&'e Str),
}

/// Evaluates like [`evaluate`] and also returns every term's value: the same evaluator in
/// trace mode, so an explanation can never disagree with the server's verdict.
pub fn evaluate_traced<'e>(
    expr: &'e Expr,
    pkt: &Packet,
    classes: &ClassSet,
) -> (R<bool>, Step<'e>) {
    let eval = Eval {
        pkt,
        classes,
        trace: Some(RefCell::new(vec![Vec::new()])),
    };
    let result = eval.boolean(expr);
    let root = eval
        .trace
        .and_then(|t| t.into_inner().pop())
        .and_then(|mut level| level.pop())
        .expect("trace mode records the root term");
    (result, root)
}

struct Eval<'a, 'e> {
    pkt: &'a Packet<'a>,
    classes: &'a ClassSet,
    /// In trace mode, the children recorded so far at each open level of the evaluation.
    trace: Option<RefCell<Vec<Vec<Step<'e>>>>>,
}

fn from_bool(b: bool) -> Vec<u8> {
    if b {
        b"true".to_vec()
    } else {
        b"false".to_vec()
    }
}

/// token.h toBool.
fn to_bool(v: &[u8]) -> R<bool> {
    match v {
        b"true" => Ok(true),
        b"false" => Ok(false),
        other => Err(EvalError(format!(
            "Incorrect boolean. Expected exactly \"false\" or \"true\", got \"{}\"",
            String::from_utf8_lossy(other)
        ))),
    }
}

fn u32_bytes(n: u32) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

impl<'e> Eval<'_, 'e> {
    fn boolean(&self, e: &'e Expr) -> R<bool> {
        to_bool(&self.bool_value(e)?)
    }

    /// Runs `f` for `term`, recording its value and the terms it evaluated in trace mode.
    fn traced(&self, term: Term<'e>, f: impl FnOnce() -> R<Vec<u8>>) -> R<Vec<u8>> {
        let Some(trace) = &self.trace else {
            return f();
        };
        trace.borrow_mut().push(Vec::new());
        let value = f();
        let mut levels = trace.borrow_mut();
        let children = levels.pop().unwrap_or_default();
        if let Some(parent) = levels.last_mut() {
            parent.push(Step {
                term,
                value: value.clone(),
                children,
            });
        }
        value
    }

    fn bool_value(&self, e: &'e Expr) -> R<Vec<u8>> {
        self.traced(Term::Bool(e), || self.bool_term(e))
    }

    fn string(&self, s: &'e Str) -> R<Vec<u8>> {
        self.traced(Term::Str(s), || self.string_term(s))
    }

    /// Booleans travel as strings, so `not` of a non-boolean is an error as in TokenNot.
    fn bool_term(&self, e: &'e Expr) -> R<Vec<u8>> {
        let pkt = self.pkt;
        Ok(match e {
            Expr::Not(inner) => from_bool(!to_bool(&self.bool_value(inner)?)?),
            Expr::And(a, b, strict) => {
                let left = to_bool(&self.bool_value(a)?)?;
                if !left && !strict {
                    from_bool(false)
                } else {
                    let right = to_bool(&self.bool_value(b)?)?;
                    from_bool(left && right)
                }
            }
            Expr::Or(a, b, strict) => {
                let left = to_bool(&self.bool_value(a)?)?;
                if left && !strict {
                    from_bool(true)
                } else {
                    let right = to_bool(&self.bool_value(b)?)?;
                    from_bool(left || right)
                }
            }
            Expr::Equal(a, b) => from_bool(self.string(a)? == self.string(b)?),
            Expr::OptionExists(code) => from_bool(pkt.option(*code).is_some()),
            Expr::SubOptionExists(code, sub) => from_bool(
                pkt.option(*code)
                    .and_then(|d| sub_option(&d, *sub))
                    .is_some(),
            ),
            Expr::Relay4Exists(sub) => {
                from_bool(pkt.option(82).and_then(|d| sub_option(&d, *sub)).is_some())
            }
            Expr::VendorExists(ent) => from_bool(vendor_block(pkt, 125, *ent).is_some()),
            Expr::VendorOptionExists(ent, code) => from_bool(
                vendor_block(pkt, 125, *ent)
                    .and_then(|(_, d)| sub_option(&d, *code))
                    .is_some(),
            ),
            Expr::VendorClassExists(ent) => from_bool(vendor_block(pkt, 124, *ent).is_some()),
            Expr::Member(class) => from_bool(self.classes.contains(class)),
            Expr::Match(re, s) => {
                let text = self.string(s)?;
                from_bool(simple_match(re, &String::from_utf8_lossy(&text)))
            }
        })
    }

    fn string_term(&self, s: &'e Str) -> R<Vec<u8>> {
        let pkt = self.pkt;
        let repr = |code: u16, data: Option<Vec<u8>>, r: Repr| match (data, r) {
            (None, _) => Vec::new(),
            (Some(d), Repr::Hex) => d,
            (Some(d), Repr::Text) => pkt.option_text(code, &d),
        };
        Ok(match s {
            Str::Literal(v) => v.clone(),
            Str::Option(code, r) => repr(*code, pkt.option(*code), *r),
            Str::SubOption(code, sub, r) => {
                let data = pkt.option(*code).and_then(|d| sub_option(&d, *sub));
                match (data, r) {
                    (Some(d), Repr::Text) => generic_text(*sub, &d),
                    (d, _) => d.unwrap_or_default(),
                }
            }
            Str::Relay4(sub, r) => {
                let data = pkt.option(82).and_then(|d| sub_option(&d, *sub));
                match (data, r) {
                    (Some(d), Repr::Text) => generic_text(*sub, &d),
                    (d, _) => d.unwrap_or_default(),
                }
            }
            Str::Pkt(f) => match f {
                PktField::Iface => pkt.iface.as_bytes().to_vec(),
                PktField::Src => ip_bytes(pkt.src),
                PktField::Dst => ip_bytes(pkt.dst),
                PktField::Len => u32_bytes(pkt.len as u32),
            },
            Str::Pkt4(f) => {
                let m = pkt.msg;
                match f {
                    Pkt4Field::Mac => m.hwaddr().to_vec(),
                    Pkt4Field::Hlen => u32_bytes(m.hlen.into()),
                    Pkt4Field::Htype => u32_bytes(m.htype.into()),
                    Pkt4Field::Ciaddr => m.ciaddr.octets().to_vec(),
                    Pkt4Field::Giaddr => m.giaddr.octets().to_vec(),
                    Pkt4Field::Yiaddr => m.yiaddr.octets().to_vec(),
                    Pkt4Field::Siaddr => m.siaddr.octets().to_vec(),
                    Pkt4Field::MsgType => u32_bytes(m.message_type().unwrap_or(0).into()),
                    Pkt4Field::TransId => u32_bytes(m.xid),
                }
            }
            Str::Substring(s, start, len) => substring(&self.string(s)?, start, len)?,
            Str::Split(s, d, field) => split(&self.string(s)?, &self.string(d)?, field)?,
            Str::Concat(a, b) => {
                let mut v = self.string(a)?;
                v.extend(self.string(b)?);
                v
            }
            Str::IfElse(c, a, b) => {
                // TokenIfElse pops all three values: both branches are evaluated.
                let (a, b) = (self.string(a)?, self.string(b)?);
                if self.boolean(c)? {
                    a
                } else {
                    b
                }
            }
            Str::ToHex(s, sep) => {
                let (bin, sep) = (self.string(s)?, self.string(sep)?);
                let parts: Vec<String> = bin.iter().map(|b| format!("{b:02x}")).collect();
                parts.join(&String::from_utf8_lossy(&sep)).into_bytes()
            }
            Str::AddrToText(s) => addr_to_text(&self.string(s)?)?,
            Str::IntToText(kind, s) => int_to_text(*kind, &self.string(s)?)?,
            Str::Lcase(s) => self.string(s)?.to_ascii_lowercase(),
            Str::Ucase(s) => self.string(s)?.to_ascii_uppercase(),
            Str::VendorEnterprise => pkt
                .option(125)
                .filter(|d| d.len() >= 4)
                .map(|d| d[..4].to_vec())
                .unwrap_or_default(),
            Str::VendorClassEnterprise => pkt
                .option(124)
                .filter(|d| d.len() >= 4)
                .map(|d| d[..4].to_vec())
                .unwrap_or_default(),
            Str::VendorOption(ent, code, r) => {
                let data = vendor_block(pkt, 125, *ent).and_then(|(_, d)| sub_option(&d, *code));
                match (data, r) {
                    (Some(d), Repr::Text) => generic_text(*code, &d),
                    (d, _) => d.unwrap_or_default(),
                }
            }
            Str::VendorClassData(ent, index) => vendor_block(pkt, 124, *ent)
                .and_then(|(_, d)| tuples(&d).into_iter().nth(usize::from(index.unwrap_or(0))))
                .unwrap_or_default(),
        })
    }
}

fn ip_bytes(a: std::net::IpAddr) -> Vec<u8> {
    match a {
        std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
        std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// Option 124/125 hold blocks of enterprise id (4 bytes), length (1), data (RFC 3925). The
/// block of `ent`, or of the first enterprise when `ent` is 0 (`*`).
fn vendor_block(pkt: &Packet, code: u16, ent: u32) -> Option<(u32, Vec<u8>)> {
    let data = pkt.option(code)?;
    let mut i = 0;
    while i + 5 <= data.len() {
        let id = u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
        let len = usize::from(data[i + 4]);
        let end = (i + 5 + len).min(data.len());
        if ent == 0 || id == ent {
            return Some((id, data[i + 5..end].to_vec()));
        }
        i = end;
    }
    None
}

/// Length-prefixed opaque data items (vendor-class-data, RFC 3925 3).
fn tuples(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let len = usize::from(data[i]);
        let end = (i + 1 + len).min(data.len());
        out.push(data[i + 1..end].to_vec());
        i = end;
    }
    out
}

/// TokenSubstring::evaluate: negative start counts from the end, negative length takes the
/// characters before start, anything outside the string gives "".
fn substring(s: &[u8], start: &str, len: &str) -> R<Vec<u8>> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let mut start: i64 = start.parse::<i32>().map(i64::from).map_err(|_| {
        EvalError(format!(
            "the parameter '{start}' for the starting position of the substring couldn't be \
             converted to an integer."
        ))
    })?;
    let mut length: i64 = if len == "all" {
        s.len() as i64
    } else {
        len.parse::<i32>().map(i64::from).map_err(|_| {
            EvalError(format!(
                "the parameter '{len}' for the length of the substring couldn't be converted \
                 to an integer."
            ))
        })?
    };
    let n = s.len() as i64;
    if start < -n || start >= n {
        return Ok(Vec::new());
    }
    if start < 0 {
        start += n;
    }
    if length < 0 {
        length = -length;
        if length <= start {
            start -= length;
        } else {
            length = start;
            start = 0;
        }
    }
    let end = (start + length).min(n);
    Ok(s[start as usize..end as usize].to_vec())
}

/// TokenSplit::evaluate: fields counted from 1, any delimiter character splits.
fn split(s: &[u8], delims: &[u8], field: &str) -> R<Vec<u8>> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let field: i64 = field.parse::<i32>().map(i64::from).map_err(|_| {
        EvalError(format!(
            "the parameter '{field}' for the field field for split couldn't be converted to an \
             integer."
        ))
    })?;
    if delims.is_empty() {
        return Ok(s.to_vec());
    }
    let fields: Vec<&[u8]> = s.split(|b| delims.contains(b)).collect();
    if field < 1 || field as usize > fields.len() {
        return Ok(Vec::new());
    }
    Ok(fields[field as usize - 1].to_vec())
}

fn addr_to_text(v: &[u8]) -> R<Vec<u8>> {
    Ok(match v.len() {
        0 => Vec::new(),
        4 => Ipv4Addr::new(v[0], v[1], v[2], v[3])
            .to_string()
            .into_bytes(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(v);
            Ipv6Addr::from(a).to_string().into_bytes()
        }
        _ => return Err(EvalError("Can not convert to valid address.".into())),
    })
}

/// TokenInt8ToText and friends: big-endian bytes of exactly the type's size; empty stays
/// empty.
fn int_to_text(kind: IntText, v: &[u8]) -> R<Vec<u8>> {
    if v.is_empty() {
        return Ok(Vec::new());
    }
    let (size, name) = match kind {
        IntText::Int8 => (1, "int8"),
        IntText::Int16 => (2, "int16"),
        IntText::Int32 => (4, "int32"),
        IntText::Uint8 => (1, "uint8"),
        IntText::Uint16 => (2, "uint16"),
        IntText::Uint32 => (4, "uint32"),
    };
    if v.len() != size {
        return Err(EvalError(format!("Can not convert to valid {name}.")));
    }
    let text = match kind {
        IntText::Int8 => (v[0] as i8).to_string(),
        IntText::Int16 => i16::from_be_bytes([v[0], v[1]]).to_string(),
        IntText::Int32 => i32::from_be_bytes([v[0], v[1], v[2], v[3]]).to_string(),
        IntText::Uint8 => v[0].to_string(),
        IntText::Uint16 => u16::from_be_bytes([v[0], v[1]]).to_string(),
        IntText::Uint32 => u32::from_be_bytes([v[0], v[1], v[2], v[3]]).to_string(),
    };
    Ok(text.into_bytes())
}

/// Kea 3.0's match() uses std::regex (ECMAScript) over the whole string; we support the
/// subset boot configs use: literal text with `.` `*` `^` `$` anchors and `.*`.
fn simple_match(re: &str, text: &str) -> bool {
    fn here(re: &[char], t: &[char]) -> bool {
        match re {
            [] => t.is_empty(),
            [c, '*', rest @ ..] => {
                let mut i = 0;
                loop {
                    if here(rest, &t[i..]) {
                        return true;
                    }
                    if i < t.len() && (*c == '.' || t[i] == *c) {
                        i += 1;
                    } else {
                        return false;
                    }
                }
            }
            [c, rest @ ..] => !t.is_empty() && (*c == '.' || t[0] == *c) && here(rest, &t[1..]),
        }
    }
    let re: Vec<char> = re
        .trim_start_matches('^')
        .trim_end_matches('$')
        .chars()
        .collect();
    let t: Vec<char> = text.chars().collect();
    here(&re, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases from Kea's src/lib/eval/tests/token_unittest.cc (TokenTest.substring*).
    #[test]
    fn substring_as_token_cc() {
        let s = b"foobar";
        let sub = |a: &str, b: &str| String::from_utf8(substring(s, a, b).unwrap()).unwrap();
        assert_eq!(sub("0", "6"), "foobar");
        assert_eq!(sub("0", "4"), "foob");
        assert_eq!(sub("0", "all"), "foobar");
        assert_eq!(sub("1", "all"), "oobar");
        assert_eq!(sub("6", "1"), "");
        assert_eq!(sub("-6", "1"), "f");
        assert_eq!(sub("-7", "1"), "");
        assert_eq!(sub("-1", "-1"), "a");
        assert_eq!(sub("-1", "-3"), "oba");
        assert_eq!(sub("3", "-2"), "oo");
        assert_eq!(sub("3", "-4"), "foo");
        assert_eq!(sub("0", "100"), "foobar");
        assert_eq!(substring(b"", "0", "1").unwrap(), b"");
        assert!(substring(s, "0x1", "1").is_err());
    }

    /// token_unittest.cc TokenTest.split*.
    #[test]
    fn split_as_token_cc() {
        let f = |s: &str, d: &str, n: &str| {
            String::from_utf8(split(s.as_bytes(), d.as_bytes(), n).unwrap()).unwrap()
        };
        assert_eq!(f("one.two.three", ".", "1"), "one");
        assert_eq!(f("one.two.three", ".", "3"), "three");
        assert_eq!(f("one.two.three", ".", "4"), "");
        assert_eq!(f("one.two.three", ".", "0"), "");
        assert_eq!(f("one.two..three", ".", "3"), "");
        assert_eq!(f("one.two:three", ".:", "3"), "three");
        assert_eq!(f("one.two", "", "1"), "one.two");
    }

    /// token_unittest.cc TokenTest.*ToText.
    #[test]
    fn integer_and_address_text() {
        assert_eq!(int_to_text(IntText::Int8, &[0xff]).unwrap(), b"-1");
        assert_eq!(int_to_text(IntText::Uint16, &[0x01, 0x00]).unwrap(), b"256");
        assert_eq!(
            int_to_text(IntText::Int32, &[0xff, 0xff, 0xff, 0xfe]).unwrap(),
            b"-2"
        );
        assert!(int_to_text(IntText::Uint32, &[1, 2]).is_err());
        assert_eq!(addr_to_text(&[192, 0, 2, 1]).unwrap(), b"192.0.2.1");
        assert!(addr_to_text(&[1, 2, 3]).is_err());
        assert_eq!(to_bool(b"true"), Ok(true));
        assert!(to_bool(b"True").is_err());
    }
}
