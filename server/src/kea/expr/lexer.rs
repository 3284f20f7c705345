//! Tokens of Kea's classification language as flex reads them (src/lib/eval/lexer.ll):
//! longest match first, keywords over names, and an option name only where `]` follows.

use super::ExprError;
use crate::kea::KeaVersion;

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// `'text'`, quotes removed.
    Str(String),
    /// `0x...` as written.
    Hex(String),
    /// `-?[0-9]+` as written.
    Int(String),
    /// An IPv4 or IPv6 literal as written.
    Ip(String),
    /// A name inside `option[...]`.
    OptionName(String),
    /// A keyword or punctuation, by its text (`option`, `==`, `(`, ...).
    Word(&'static str),
    End,
}

impl Tok {
    /// Bison's name for the token in "unexpected X" messages.
    pub fn bison_name(&self) -> String {
        match self {
            Tok::Str(_) => "constant string".into(),
            Tok::Hex(_) => "constant hexstring".into(),
            Tok::Int(_) => "integer".into(),
            Tok::Ip(_) => "ip address".into(),
            Tok::OptionName(_) => "option name".into(),
            Tok::Word(",") => "\",\"".into(),
            Tok::Word(w) => (*w).to_string(),
            Tok::End => "end of file".into(),
        }
    }
}

/// A token and its 1-based first and last columns (line 1; Kea tests are one-liners and so
/// are almost all class tests; newlines advance the line as flex's `loc.lines()` does).
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned {
    pub tok: Tok,
    pub line: u32,
    pub first: u32,
    pub last: u32,
}

/// Keywords of the newest grammar; [`super::parser`] refuses those a release lacks.
const WORDS: &[&str] = &[
    "option",
    "relay4",
    "relay6",
    "peeraddr",
    "linkaddr",
    "text",
    "hex",
    "exists",
    "pkt",
    "iface",
    "src",
    "dst",
    "len",
    "pkt4",
    "mac",
    "hlen",
    "htype",
    "ciaddr",
    "giaddr",
    "yiaddr",
    "siaddr",
    "pkt6",
    "msgtype",
    "transid",
    "vendor",
    "vendor-class",
    "data",
    "enterprise",
    "substring",
    "lcase",
    "ucase",
    "split",
    "all",
    "concat",
    "ifelse",
    "sifelse",
    "hexstring",
    "addrtotext",
    "int8totext",
    "int16totext",
    "int32totext",
    "uint8totext",
    "uint16totext",
    "uint32totext",
    "not",
    "and",
    "sand",
    "or",
    "sor",
    "member",
    "match",
    "==",
    ".",
    "(",
    ")",
    "[",
    "]",
    ",",
    "*",
    "+",
];

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Whether `word` is a keyword of `version`'s lexer.ll: `lcase`/`ucase` came with Kea 2.6
/// (lexer.ll at Kea-2.6.0), `sand`, `sor`, `sifelse` and `match` with 3.0.
pub fn known(word: &str, version: KeaVersion) -> bool {
    match word {
        "lcase" | "ucase" => version >= KeaVersion::V2_6,
        "sand" | "sor" | "sifelse" | "match" => version >= KeaVersion::V3_0,
        _ => true,
    }
}

pub fn lex(text: &str, version: KeaVersion) -> Result<Vec<Spanned>, ExprError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1u32, 1u32);
    while i < b.len() {
        let c = b[i];
        if c == b' ' || c == b'\t' {
            i += 1;
            col += 1;
            continue;
        }
        if c == b'\n' {
            i += 1;
            line += 1;
            col = 1;
            continue;
        }
        let start = i;
        let tok = if c == b'\'' {
            match b[i + 1..].iter().position(|&x| x == b'\'' || x == b'\n') {
                Some(n) if b[i + 1 + n] == b'\'' => {
                    i += n + 2;
                    Tok::Str(String::from_utf8_lossy(&b[start + 1..i - 1]).into_owned())
                }
                _ => return Err(ExprError::at(line, col, col, "Invalid character: '")),
            }
        } else if let Some((len, tok)) = number_like(&b[i..]) {
            i += len;
            tok
        } else if is_name_start(c) {
            match lex_word(b, &mut i, version) {
                Tok::Word("?") => {
                    return Err(ExprError::at(
                        line,
                        col,
                        col,
                        format!("Invalid character: {}", c as char),
                    ))
                }
                tok => tok,
            }
        } else if b[i..].starts_with(b"==") {
            i += 2;
            Tok::Word("==")
        } else if let Some(w) = [".", "(", ")", "[", "]", ",", "*", "+"]
            .into_iter()
            .find(|w| w.as_bytes()[0] == c)
        {
            i += 1;
            Tok::Word(w)
        } else {
            let ch = text[i..].chars().next().unwrap_or('?');
            return Err(ExprError::at(
                line,
                col,
                col,
                format!("Invalid character: {ch}"),
            ));
        };
        let len = (i - start) as u32;
        if let Tok::Ip(addr) = &tok {
            if addr.parse::<std::net::IpAddr>().is_err() {
                return Err(ExprError::at(
                    line,
                    col,
                    col + len - 1,
                    format!("Failed to convert {addr} to an IP address."),
                ));
            }
        }
        if let Tok::Int(n) = &tok {
            if n.parse::<i64>().is_err() {
                return Err(ExprError::at(
                    line,
                    col,
                    col + len - 1,
                    format!("Failed to convert {n} to an integer."),
                ));
            }
        }
        out.push(Spanned {
            tok,
            line,
            first: col,
            last: col + len - 1,
        });
        col += len;
    }
    out.push(Spanned {
        tok: Tok::End,
        line,
        first: col,
        last: col,
    });
    Ok(out)
}

/// Hex strings, IPv4/IPv6 literals and integers; flex takes the longest.
fn number_like(b: &[u8]) -> Option<(usize, Tok)> {
    let text = |n: usize| String::from_utf8_lossy(&b[..n]).into_owned();
    let mut best: Option<(usize, Tok)> = None;
    let mut consider = |n: usize, tok: Tok| {
        if n > 0 && best.as_ref().is_none_or(|(m, _)| n > *m) {
            best = Some((n, tok));
        }
    };
    // 0[xX]{hex}
    if b.len() > 2 && b[0] == b'0' && (b[1] == b'x' || b[1] == b'X') {
        let n = b[2..].iter().take_while(|x| x.is_ascii_hexdigit()).count();
        if n > 0 {
            consider(2 + n, Tok::Hex(text(2 + n)));
        }
    }
    // {int}: -?[0-9]+
    let sign = usize::from(b.first() == Some(&b'-'));
    let digits = b[sign..].iter().take_while(|x| x.is_ascii_digit()).count();
    if digits > 0 {
        consider(sign + digits, Tok::Int(text(sign + digits)));
    }
    // {addr4}: [0-9]+\.[0-9]+\.[0-9]+\.[0-9]+
    let mut j = 0;
    let mut ok = true;
    for part in 0..4 {
        let d = b[j..].iter().take_while(|x| x.is_ascii_digit()).count();
        if d == 0 {
            ok = false;
            break;
        }
        j += d;
        if part < 3 {
            if b.get(j) != Some(&b'.') {
                ok = false;
                break;
            }
            j += 1;
        }
    }
    if ok {
        consider(j, Tok::Ip(text(j)));
    }
    // {addr6}: [0-9a-fA-F]*\:[0-9a-fA-F]*\:[0-9a-fA-F:.]*
    let h1 = b.iter().take_while(|x| x.is_ascii_hexdigit()).count();
    if b.get(h1) == Some(&b':') {
        let h2 = b[h1 + 1..]
            .iter()
            .take_while(|x| x.is_ascii_hexdigit())
            .count();
        let k = h1 + 1 + h2;
        if b.get(k) == Some(&b':') {
            let rest = b[k + 1..]
                .iter()
                .take_while(|x| x.is_ascii_hexdigit() || **x == b':' || **x == b'.')
                .count();
            consider(k + 1 + rest, Tok::Ip(text(k + 1 + rest)));
        }
    }
    best
}

/// A keyword, or an option name when `]` follows (after blanks), as lexer.ll's trailing
/// context rule does; flex prefers the longer match, so `vendor-class` beats `vendor`.
fn lex_word(b: &[u8], i: &mut usize, version: KeaVersion) -> Tok {
    let start = *i;
    let mut end = start + 1;
    while end < b.len() && is_name_char(b[end]) {
        end += 1;
    }
    // The name rule cannot end on '-' or '_'.
    let mut name_end = end;
    while name_end > start + 1 && matches!(b[name_end - 1], b'-' | b'_') {
        name_end -= 1;
    }
    let after = b[name_end..]
        .iter()
        .position(|x| *x != b' ' && *x != b'\t' && *x != b'\n');
    let closes = after.is_some_and(|k| b[name_end + k] == b']');
    let word = std::str::from_utf8(&b[start..end]).unwrap_or("");
    // Longest keyword that is a prefix of the run (keywords contain only letters, digits, '-').
    let keyword = WORDS
        .iter()
        .filter(|w| w.len() > 1 && word.starts_with(**w) && known(w, version))
        .max_by_key(|w| w.len());
    let name_len = name_end - start;
    match keyword {
        Some(k) if k.len() >= name_len || !closes => {
            *i = start + k.len();
            Tok::Word(k)
        }
        _ if closes => {
            *i = name_end;
            Tok::OptionName(String::from_utf8_lossy(&b[start..name_end]).into_owned())
        }
        _ => {
            // Not a keyword, not before ']': flex matches one character and fails.
            *i = start + 1;
            Tok::Word("?")
        }
    }
}
