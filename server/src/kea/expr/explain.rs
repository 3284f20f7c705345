//! Why a class test is true or false for one packet, down to the term: the evaluator's trace
//! mode ([`evaluate_traced`]) gives every term's value, and this module reads it as an
//! operator would. Kea itself only logs the final "true"/"false" (EVAL_RESULT); the reasons
//! here (an option the packet lacks, bytes compared with text, a substring outside its value)
//! are the ones behind real broken configs.

use std::fmt::Write as _;

use super::ast::{Expr, IntText, Pkt4Field, PktField, Repr, Str};
use super::classify::ClassSet;
use super::eval::{evaluate_traced, Step, Term};
use super::packet::{sub_option, Packet};

/// A test's verdict for one packet and the reasons behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    /// `Ok(true/false)`, or the evaluation error (Kea logs it and does not assign the class).
    pub result: Result<bool, String>,
    /// For false: why, one sentence per decisive term. For true: the terms that made it so.
    pub reasons: Vec<String>,
    /// `member('X')` terms that were false, for the caller to explain with class order.
    pub false_members: Vec<String>,
}

/// Evaluates `expr` on `pkt` with `classes` assigned so far, and says why.
pub fn explain(expr: &Expr, pkt: &Packet, classes: &ClassSet) -> Explanation {
    let (result, root) = evaluate_traced(expr, pkt, classes);
    let mut out = Explanation {
        result: result.map_err(|e| e.0),
        reasons: Vec::new(),
        false_members: Vec::new(),
    };
    match &out.result {
        Ok(false) => why_false(&root, pkt, &mut out),
        Ok(true) => why_true(&root, &mut out.reasons),
        Err(e) => out.reasons.push(format!(
            "evaluating `{}` fails: {e}; Kea logs the error and does not assign the class",
            render_term(root.term)
        )),
    }
    out
}

/// Kea's text for a boolean term (the syntax of src/lib/eval/parser.yy).
pub fn render(e: &Expr) -> String {
    let group = |e: &Expr| match e {
        Expr::And(..) | Expr::Or(..) => format!("({})", render(e)),
        _ => render(e),
    };
    match e {
        Expr::Not(a) => format!("not {}", group(a)),
        Expr::And(a, b, _) => format!("{} and {}", group(a), group(b)),
        Expr::Or(a, b, _) => format!("{} or {}", group(a), group(b)),
        Expr::Equal(a, b) => format!("{} == {}", render_str(a), render_str(b)),
        Expr::OptionExists(c) => format!("option[{c}].exists"),
        Expr::SubOptionExists(c, s) => format!("option[{c}].option[{s}].exists"),
        Expr::Relay4Exists(s) => format!("relay4[{s}].exists"),
        Expr::VendorExists(e) => format!("vendor[{}].exists", enterprise(*e)),
        Expr::VendorOptionExists(e, c) => {
            format!("vendor[{}].option[{c}].exists", enterprise(*e))
        }
        Expr::VendorClassExists(e) => format!("vendor-class[{}].exists", enterprise(*e)),
        Expr::Member(c) => format!("member('{c}')"),
        Expr::Match(re, s) => format!("match('{re}', {})", render_str(s)),
    }
}

fn enterprise(e: u32) -> String {
    if e == 0 {
        "*".into()
    } else {
        e.to_string()
    }
}

fn repr(r: Repr) -> &'static str {
    match r {
        Repr::Hex => "hex",
        Repr::Text => "text",
    }
}

/// Kea's text for a string term.
pub fn render_str(s: &Str) -> String {
    match s {
        Str::Literal(v) => literal(v),
        Str::Option(c, r) => format!("option[{c}].{}", repr(*r)),
        Str::SubOption(c, s, r) => format!("option[{c}].option[{s}].{}", repr(*r)),
        Str::Relay4(s, r) => format!("relay4[{s}].{}", repr(*r)),
        Str::Pkt(f) => format!(
            "pkt.{}",
            match f {
                PktField::Iface => "iface",
                PktField::Src => "src",
                PktField::Dst => "dst",
                PktField::Len => "len",
            }
        ),
        Str::Pkt4(f) => format!(
            "pkt4.{}",
            match f {
                Pkt4Field::Mac => "mac",
                Pkt4Field::Hlen => "hlen",
                Pkt4Field::Htype => "htype",
                Pkt4Field::Ciaddr => "ciaddr",
                Pkt4Field::Giaddr => "giaddr",
                Pkt4Field::Yiaddr => "yiaddr",
                Pkt4Field::Siaddr => "siaddr",
                Pkt4Field::MsgType => "msgtype",
                Pkt4Field::TransId => "transid",
            }
        ),
        Str::Substring(s, a, b) => format!("substring({}, {a}, {b})", render_str(s)),
        Str::Split(s, d, f) => format!("split({}, {}, {f})", render_str(s), render_str(d)),
        Str::Concat(a, b) => format!("concat({}, {})", render_str(a), render_str(b)),
        Str::IfElse(c, a, b) => format!(
            "ifelse({}, {}, {})",
            render(c),
            render_str(a),
            render_str(b)
        ),
        Str::ToHex(s, sep) => format!("hexstring({}, {})", render_str(s), render_str(sep)),
        Str::AddrToText(s) => format!("addrtotext({})", render_str(s)),
        Str::IntToText(k, s) => {
            let name = match k {
                IntText::Int8 => "int8totext",
                IntText::Int16 => "int16totext",
                IntText::Int32 => "int32totext",
                IntText::Uint8 => "uint8totext",
                IntText::Uint16 => "uint16totext",
                IntText::Uint32 => "uint32totext",
            };
            format!("{name}({})", render_str(s))
        }
        Str::Lcase(s) => format!("lcase({})", render_str(s)),
        Str::Ucase(s) => format!("ucase({})", render_str(s)),
        Str::VendorEnterprise => "vendor.enterprise".into(),
        Str::VendorClassEnterprise => "vendor-class.enterprise".into(),
        Str::VendorOption(e, c, r) => {
            format!("vendor[{}].option[{c}].{}", enterprise(*e), repr(*r))
        }
        Str::VendorClassData(e, None) => format!("vendor-class[{}].data", enterprise(*e)),
        Str::VendorClassData(e, Some(i)) => {
            format!("vendor-class[{}].data[{i}]", enterprise(*e))
        }
    }
}

fn render_term(t: Term) -> String {
    match t {
        Term::Bool(e) => render(e),
        Term::Str(s) => render_str(s),
    }
}

/// A value as an operator reads it: quoted text when printable, else 0x hex.
pub fn literal(v: &[u8]) -> String {
    if !v.is_empty() && v.iter().all(|b| (0x20..0x7f).contains(b) && *b != b'\'') {
        format!("'{}'", String::from_utf8_lossy(v))
    } else if v.is_empty() {
        "''".into()
    } else {
        let mut s = String::from("0x");
        for b in v {
            let _ = write!(s, "{b:02x}");
        }
        s
    }
}

fn value_of<'a>(step: &'a Step<'_>) -> &'a [u8] {
    step.value.as_deref().unwrap_or_default()
}

fn is_false(step: &Step) -> bool {
    matches!(step.value.as_deref(), Ok(b"false"))
}

fn why_true(step: &Step, out: &mut Vec<String>) {
    let Term::Bool(e) = step.term else { return };
    match e {
        Expr::And(..) => step.children.iter().for_each(|c| why_true(c, out)),
        Expr::Or(..) => {
            if let Some(c) = step.children.iter().find(|c| !is_false(c)) {
                why_true(c, out);
            }
        }
        Expr::Equal(..) => out.push(format!(
            "`{}` holds: both sides are {}",
            render(e),
            literal(step.children.first().map(value_of).unwrap_or_default())
        )),
        _ => out.push(format!("`{}` is true", render(e))),
    }
}

fn why_false(step: &Step, pkt: &Packet, out: &mut Explanation) {
    let Term::Bool(e) = step.term else { return };
    match e {
        Expr::And(..) => {
            for c in step.children.iter().filter(|c| is_false(c)) {
                why_false(c, pkt, out);
            }
        }
        Expr::Or(..) => step.children.iter().for_each(|c| why_false(c, pkt, out)),
        Expr::Not(a) => out.reasons.push(format!(
            "`{}` is true, so `{}` is false",
            render(a),
            render(e)
        )),
        Expr::Equal(a, b) => {
            let (Some(sa), Some(sb)) = (step.children.first(), step.children.get(1)) else {
                return;
            };
            let before = out.reasons.len();
            for side in [sa, sb] {
                notes(side, pkt, &mut out.reasons);
            }
            let (reason, plain) = compare(a, b, value_of(sa), value_of(sb));
            // "X is '', not 'iPXE'" adds nothing to the note that says why X is ''.
            if !(plain && out.reasons.len() > before) {
                out.reasons.push(reason);
            }
        }
        Expr::OptionExists(c) => out
            .reasons
            .push(format!("option {c} is absent from this packet")),
        Expr::SubOptionExists(c, s) => {
            let reason = if pkt.option(*c).is_none() {
                format!("option {c} is absent from this packet")
            } else {
                format!("option {c} has no sub-option {s} in this packet")
            };
            out.reasons.push(reason);
        }
        Expr::Relay4Exists(s) => {
            let reason = if pkt.option(82).is_none() {
                "the packet came from no relay (no option 82)".to_string()
            } else {
                format!("option 82 has no sub-option {s}")
            };
            out.reasons.push(reason);
        }
        Expr::Member(c) => {
            out.reasons
                .push(format!("class '{c}' is not assigned when this test runs"));
            out.false_members.push(c.clone());
        }
        Expr::Match(re, s) => {
            if let Some(sv) = step.children.first() {
                notes(sv, pkt, &mut out.reasons);
                out.reasons.push(format!(
                    "`{}` is {}, which does not match '{re}'",
                    render_str(s),
                    literal(value_of(sv))
                ));
            }
        }
        Expr::VendorExists(_) | Expr::VendorOptionExists(..) | Expr::VendorClassExists(_) => {
            out.reasons.push(format!(
                "`{}` is false: the packet has no such vendor block",
                render(e)
            ))
        }
    }
}

/// Facts about the terms under a compared value: options the packet lacks, substrings
/// outside their value.
fn notes(step: &Step, pkt: &Packet, out: &mut Vec<String>) {
    for c in &step.children {
        notes(c, pkt, out);
    }
    let Term::Str(s) = step.term else { return };
    match s {
        Str::Option(code, _) if pkt.option(*code).is_none() => out.push(format!(
            "option {code} is absent from this packet, so `{}` is ''",
            render_str(s)
        )),
        Str::SubOption(code, sub, _)
            if pkt
                .option(*code)
                .and_then(|d| sub_option(&d, *sub))
                .is_none() =>
        {
            out.push(format!(
                "option {code} (or its sub-option {sub}) is absent from this packet, so `{}` is ''",
                render_str(s)
            ))
        }
        Str::Relay4(sub, _) if pkt.option(82).is_none() => out.push(format!(
            "the packet came from no relay (no option 82), so `relay4[{sub}]` is ''"
        )),
        Str::Substring(_, start, len) => {
            let input = step.children.first().map(value_of).unwrap_or_default();
            if value_of(step).is_empty() && !input.is_empty() {
                out.push(format!(
                    "`{}` is '': position {start} (length {len}) lies outside the {}-byte value {}",
                    render_str(s),
                    input.len(),
                    literal(input)
                ));
            }
        }
        _ => {}
    }
}

/// Terms whose value is binary (bytes, not text), so they can only equal a hex literal.
fn binary(s: &Str) -> bool {
    matches!(
        s,
        Str::Option(_, Repr::Hex)
            | Str::SubOption(_, _, Repr::Hex)
            | Str::Relay4(_, Repr::Hex)
            | Str::VendorOption(_, _, Repr::Hex)
            | Str::Pkt(PktField::Src | PktField::Dst | PktField::Len)
            | Str::Pkt4(_)
            | Str::VendorEnterprise
            | Str::VendorClassEnterprise
    )
}

/// The hex literal an operator meant when writing bytes as text: '00:07', '0x0007', '7'
/// (the last sized to the other side).
fn meant_hex(text: &str, size: usize) -> Option<String> {
    let t = text.trim();
    let digits: String = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        h.to_string()
    } else if t.contains([':', '-', ' ']) {
        let parts: Vec<&str> = t.split([':', '-', ' ']).collect();
        if parts.iter().any(|p| p.is_empty() || p.len() > 2) {
            return None;
        }
        parts.iter().map(|p| format!("{p:0>2}")).collect()
    } else if let Ok(n) = t.parse::<u32>() {
        let width = size.clamp(1, 4) * 2;
        format!("{n:0width$x}")
    } else {
        return None;
    };
    (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| format!("0x{}", digits.to_ascii_lowercase()))
}

/// Why `a == b` is false, with the fix when the two sides are of different types; `true`
/// with it when the reason only states the two values.
fn compare(a: &Str, b: &Str, va: &[u8], vb: &[u8]) -> (String, bool) {
    for (bin, bv, lit, lv) in [(a, va, b, vb), (b, vb, a, va)] {
        let Str::Literal(text) = lit else { continue };
        if !binary(bin) {
            continue;
        }
        let text = String::from_utf8_lossy(text);
        if let Some(hex) = meant_hex(&text, bv.len()) {
            if lv.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
                let reason = format!(
                    "`{}` is {} byte(s) ({}) and '{text}' is a {}-character string: bytes never \
                     equal that text, so this is never true; write `{} == {hex}`",
                    render_str(bin),
                    bv.len(),
                    literal(bv),
                    lv.len(),
                    render_str(bin)
                );
                return (reason, false);
            }
        }
        // A hex literal of another length than the field: `option[93].hex == 0x07`.
        let printable = lv.iter().all(|c| c.is_ascii_graphic() || *c == b' ');
        if !bv.is_empty() && !lv.is_empty() && lv.len() != bv.len() && !printable {
            let extra = lv.len().saturating_sub(bv.len());
            if lv[..extra].iter().all(|b| *b == 0) {
                let mut fixed = vec![0u8; bv.len().saturating_sub(lv.len())];
                fixed.extend_from_slice(&lv[extra..]);
                let reason = format!(
                    "`{}` is {} byte(s) ({}) and {} is {} byte(s): values of different lengths \
                     never compare equal, so this is never true; write `{} == {}`",
                    render_str(bin),
                    bv.len(),
                    literal(bv),
                    literal(lv),
                    lv.len(),
                    render_str(bin),
                    literal(&fixed)
                );
                return (reason, false);
            }
        }
    }
    let (ta, tb) = (render_str(a), render_str(b));
    for (t, v, other) in [(&ta, va, vb), (&tb, vb, va)] {
        if !other.is_empty() && v.len() > other.len() && v.starts_with(other) {
            let reason = format!(
                "`{t}` is {}, which only begins with {}; to compare the start, write \
                 `substring({t}, 0, {}) == {}`",
                literal(v),
                literal(other),
                other.len(),
                literal(other)
            );
            return (reason, false);
        }
    }
    let reason = match (a, b) {
        (_, Str::Literal(_)) => format!("`{ta}` is {}, not {}", literal(va), literal(vb)),
        (Str::Literal(_), _) => format!("`{tb}` is {}, not {}", literal(vb), literal(va)),
        _ => format!("`{ta}` is {} but `{tb}` is {}", literal(va), literal(vb)),
    };
    (reason, true)
}
