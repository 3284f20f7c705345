//! iPXE's script language, the parts that need no network: reading a script into lines and
//! labels (src/image/script.c `script_probe`, `process_script`, `script_exec_line`),
//! splitting a line into commands (src/core/exec.c `split_command`, `command_terminator`),
//! expanding `${...}` (src/core/settings.c `expand_settings`, `parse_setting_name`).
//! firmware.md B.7, B.8. Options are read by `commands::options`.

/// `#!ipxe` or `#!gpxe` followed by a whitespace byte.
pub fn is_script(bytes: &[u8]) -> bool {
    bytes.len() > 6
        && (bytes.starts_with(b"#!ipxe") || bytes.starts_with(b"#!gpxe"))
        && bytes[6].is_ascii_whitespace()
}

/// One logical line of a script: where it starts (1-based) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub number: usize,
    pub text: String,
}

/// Lines split on `\n`, a trailing `\r` dropped, a trailing `\` joining the next line.
pub fn lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let (number, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        if let Some(body) = raw.strip_suffix('\\') {
            joined.push_str(body);
            pending = Some((number, joined));
            continue;
        }
        joined.push_str(raw);
        out.push(Line {
            number,
            text: joined,
        });
    }
    if let Some((number, text)) = pending {
        out.push(Line { number, text });
    }
    out
}

/// A label line `:name [command...]`: the name and what follows it on the line.
pub fn label(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim_start().strip_prefix(':')?;
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    Some((&rest[..end], rest[end..].trim_start()))
}

/// The line's tokens, split on whitespace only (no quoting in iPXE).
pub fn tokens(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

/// How the next command depends on this one's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Always,
    OnSuccess,
    OnFailure,
    /// End of the line (or a comment).
    End,
}

/// The command starting at `tokens[from]`: its length and what separates it from the next.
pub fn command_at(tokens: &[String], from: usize) -> (usize, Then) {
    for (i, t) in tokens[from..].iter().enumerate() {
        if t.starts_with('#') {
            return (i, Then::End);
        }
        match t.as_str() {
            "||" => return (i, Then::OnFailure),
            "&&" => return (i, Then::OnSuccess),
            ";" => return (i, Then::Always),
            _ => {}
        }
    }
    (tokens.len() - from, Then::End)
}

/// Expands `${...}`: the innermost `${` up to the first `}` after it, again and again, so
/// `${net${i}/mac}` works. `lookup` gets the inside (`[block/]name[:type]`) and returns the
/// formatted value; unknown settings expand to nothing.
pub fn expand(text: &str, lookup: &dyn Fn(&str) -> String) -> String {
    let mut s = text.to_string();
    // Bounded: every round removes one `${`.
    for _ in 0..=s.matches("${").count() {
        let Some(start) = s.rfind("${") else { break };
        let Some(len) = s[start..].find('}') else {
            break;
        };
        let inner = s[start + 2..start + len].to_string();
        let value = lookup(&inner);
        s.replace_range(start..start + len + 1, &value);
    }
    s
}

/// A setting reference split into block, name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingName<'a> {
    pub block: Option<&'a str>,
    pub name: &'a str,
    pub kind: Option<&'a str>,
}

pub fn setting_name(inner: &str) -> SettingName<'_> {
    let (path, kind) = match inner.rsplit_once(':') {
        Some((p, k)) => (p, Some(k)),
        None => (inner, None),
    };
    match path.rsplit_once('/') {
        Some((block, name)) => SettingName {
            block: Some(block),
            name,
            kind,
        },
        None => SettingName {
            block: None,
            name: path,
            kind,
        },
    }
}

/// A setting's raw value and its natural type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Ipv4([u8; 4]),
    Bytes(Vec<u8>),
    Uint(u64),
    Uuid([u8; 16]),
}

fn hex(bytes: &[u8], sep: &str) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(sep)
}

impl Value {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Value::Text(s) => s.as_bytes().to_vec(),
            Value::Ipv4(b) => b.to_vec(),
            Value::Bytes(b) => b.clone(),
            Value::Uint(n) => {
                let b = n.to_be_bytes();
                let first = b.iter().position(|x| *x != 0).unwrap_or(7);
                b[first..].to_vec()
            }
            Value::Uuid(u) => u.to_vec(),
        }
    }

    /// The value formatted as `kind` (its natural type when None), as iPXE's setting types
    /// format it; an unknown type gives nothing.
    pub fn format(&self, kind: Option<&str>) -> String {
        let bytes = self.bytes();
        match kind {
            None => match self {
                Value::Text(s) => s.clone(),
                Value::Ipv4(b) => format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]),
                Value::Bytes(b) => hex(b, ":"),
                Value::Uint(n) => n.to_string(),
                Value::Uuid(_) => self.format(Some("uuid")),
            },
            Some("string") => String::from_utf8_lossy(&bytes).into_owned(),
            Some("uristring") => String::from_utf8_lossy(&bytes)
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.~".contains(c) {
                        c.to_string()
                    } else {
                        let mut b = [0u8; 4];
                        c.encode_utf8(&mut b)
                            .bytes()
                            .map(|x| format!("%{x:02X}"))
                            .collect()
                    }
                })
                .collect(),
            Some("ipv4") if bytes.len() == 4 => {
                format!("{}.{}.{}.{}", bytes[0], bytes[1], bytes[2], bytes[3])
            }
            Some("hex") => hex(&bytes, ":"),
            Some("hexhyp") => hex(&bytes, "-"),
            Some("hexraw") => hex(&bytes, ""),
            Some("uint8" | "uint16" | "uint32" | "int8" | "int16" | "int32") => {
                let mut n: u64 = 0;
                for b in bytes.iter().take(8) {
                    n = (n << 8) | u64::from(*b);
                }
                n.to_string()
            }
            Some("uuid" | "guid") if bytes.len() == 16 => {
                let b = &bytes;
                format!(
                    "{}-{}-{}-{}-{}",
                    hex(&b[0..4], ""),
                    hex(&b[4..6], ""),
                    hex(&b[6..8], ""),
                    hex(&b[8..10], ""),
                    hex(&b[10..16], "")
                )
            }
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_join_continuations_and_drop_cr() {
        let l = lines("#!ipxe\r\necho a \\\nb\n:end echo x\n");
        assert_eq!(l[1].text, "echo a b");
        assert_eq!(l[1].number, 2);
        assert_eq!(label(&l[2].text), Some(("end", "echo x")));
        assert_eq!(l[2].number, 4);
    }

    #[test]
    fn commands_split_on_separators_and_comments() {
        let t = tokens("iseq a b && goto x || goto y # done");
        assert_eq!(command_at(&t, 0), (3, Then::OnSuccess));
        assert_eq!(command_at(&t, 4), (2, Then::OnFailure));
        assert_eq!(command_at(&t, 7), (2, Then::End));
    }

    #[test]
    fn expansion_is_innermost_first_and_unknowns_are_empty() {
        let lookup = |inner: &str| match inner {
            "i" => "0".to_string(),
            "net0/mac" => "52:54:00:12:34:56".to_string(),
            _ => String::new(),
        };
        assert_eq!(expand("${net${i}/mac}", &lookup), "52:54:00:12:34:56");
        assert_eq!(expand("x=[${undefined}]", &lookup), "x=[]");
        assert_eq!(expand("no end ${x", &lookup), "no end ${x");
    }

    #[test]
    fn values_format_as_ipxe_types() {
        let mac = Value::Bytes(vec![0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        assert_eq!(mac.format(None), "52:54:00:12:34:56");
        assert_eq!(mac.format(Some("hexhyp")), "52-54-00-12-34-56");
        assert_eq!(mac.format(Some("hexraw")), "525400123456");
        assert_eq!(
            Value::Ipv4([192, 168, 1, 1]).format(Some("hex")),
            "c0:a8:01:01"
        );
        assert_eq!(Value::Text("a b".into()).format(Some("uristring")), "a%20b");
        assert_eq!(
            setting_name("net0/mac:hexhyp"),
            SettingName {
                block: Some("net0"),
                name: "mac",
                kind: Some("hexhyp")
            }
        );
    }
}
