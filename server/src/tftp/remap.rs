//! tftpd-hpa's `--map-file` filename rewriting, as Debian 12's tftpd-hpa 5.2 does it
//! (tftp-hpa tftpd/remap.c: `parseline`, `rewrite_string`, `genmatchstring`).
//!
//! A rule line is `flags regex [replacement]`, fields split on unescaped whitespace, an
//! unescaped `#` starting a comment. Flags: `r` rewrite the match, `g` repeat the rewrite
//! until the regex stops matching, `i` ignore case, `e` end processing when the rule matches,
//! `s` start over from the first rule, `a` refuse the request (the replacement is the error
//! message), `~` act when the regex does *not* match, `4`/`6` IPv4/IPv6 clients only, `G`/`P`
//! reads/writes only. The replacement knows `\0`-`\9`, `\i` (client address), `\x` (client
//! IPv4 address in hex), `\U`, `\L`, `\E` and `\\`; any other `\c` is a plain `c`.

use std::net::IpAddr;
use std::path::Path;

use regex::{Regex, RegexBuilder};

/// tftpd-hpa gives up after this many rule steps (remap.c's deadman counter) and refuses the
/// request with "Remap table failure".
const DEADMAN_STEPS: u32 = 1024;

/// The longest name a rewrite may make (PATH_MAX: no longer name can be opened). tftpd-hpa
/// 5.2 has no such bound: a global rule that grows the name on each pass (`rg ^(.*)$ \1\1`
/// doubles it) allocates until its per-request child dies (tfmalloc exits when malloc
/// fails, so the client gets no answer). netbootd is one process for every client, so it
/// refuses the request with deadman's message instead.
const MAX_NAME: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum RemapError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// The wording follows tftpd-hpa's syslog lines, with the file and line in front.
    #[error("{path}:{line}: remap rule contains invalid flag \"{flag}\"")]
    Flag {
        path: String,
        line: usize,
        flag: char,
    },
    #[error("{path}:{line}: rule flags {0} and {1} cannot be combined", .pair.0, .pair.1)]
    Combination {
        path: String,
        line: usize,
        pair: (char, char),
    },
    #[error("{path}:{line}: no regex on remap")]
    NoRegex { path: String, line: usize },
    #[error("{path}:{line}: bad regex in remap: {message}")]
    Regex {
        path: String,
        line: usize,
        message: String,
    },
}

#[derive(Debug, Default, Clone, Copy)]
struct Flags {
    rewrite: bool,
    global: bool,
    exit: bool,
    restart: bool,
    abort: bool,
    inverse: bool,
    ipv4: bool,
    ipv6: bool,
    get: bool,
    put: bool,
}

#[derive(Debug)]
struct Rule {
    flags: Flags,
    regex: Regex,
    replacement: String,
}

/// Which request a name comes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Read,
    Write,
}

/// The rules of one map file, in order.
#[derive(Debug)]
pub struct RemapRules {
    rules: Vec<Rule>,
}

/// Splits off the next field: leading whitespace skipped, ended by an unescaped space or `#`
/// (remap.c `readescstring`; the backslashes stay in the field).
fn field<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let text = rest.trim_start();
    let mut escaped = false;
    let mut end = text.len();
    for (i, c) in text.char_indices() {
        if !escaped && (c.is_whitespace() || c == '#') {
            end = i;
            break;
        }
        escaped = !escaped && c == '\\';
    }
    *rest = &text[end..];
    (end > 0).then(|| &text[..end])
}

impl RemapRules {
    pub fn load(path: &Path) -> Result<RemapRules, RemapError> {
        let shown = path.display().to_string();
        let text = std::fs::read(path).map_err(|source| RemapError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&shown, &String::from_utf8_lossy(&text))
    }

    pub fn parse(path: &str, text: &str) -> Result<RemapRules, RemapError> {
        let mut rules = Vec::new();
        for (index, raw) in text.split('\n').enumerate() {
            let line = index + 1;
            let cleaned: String = raw.chars().filter(|c| *c != '\r' && *c != '\0').collect();
            let mut rest = cleaned.as_str();
            let Some(flag_text) = field(&mut rest) else {
                continue; // blank or comment
            };
            let mut flags = Flags::default();
            let mut icase = false;
            for flag in flag_text.chars() {
                match flag {
                    'r' => flags.rewrite = true,
                    'g' => flags.global = true,
                    'e' => flags.exit = true,
                    's' => flags.restart = true,
                    'a' => flags.abort = true,
                    'i' => icase = true,
                    '~' => flags.inverse = true,
                    '4' => flags.ipv4 = true,
                    '6' => flags.ipv6 = true,
                    'G' => flags.get = true,
                    'P' => flags.put = true,
                    _ => {
                        return Err(RemapError::Flag {
                            path: path.into(),
                            line,
                            flag,
                        })
                    }
                }
            }
            let combinations = [
                (flags.rewrite && flags.inverse, ('r', '~')),
                (flags.rewrite && flags.abort, ('r', 'a')),
                (flags.abort && flags.restart, ('a', 's')),
                (flags.exit && flags.abort, ('a', 'e')),
                (flags.exit && flags.restart, ('e', 's')),
            ];
            if let Some((_, pair)) = combinations.iter().find(|(bad, _)| *bad) {
                return Err(RemapError::Combination {
                    path: path.into(),
                    line,
                    pair: *pair,
                });
            }
            // `g` means nothing without `r` (remap.c clears it).
            flags.global &= flags.rewrite;
            let Some(pattern) = field(&mut rest) else {
                return Err(RemapError::NoRegex {
                    path: path.into(),
                    line,
                });
            };
            let regex = RegexBuilder::new(pattern)
                .case_insensitive(icase)
                .build()
                .map_err(|e| RemapError::Regex {
                    path: path.into(),
                    line,
                    message: e.to_string().lines().last().unwrap_or("").to_string(),
                })?;
            let replacement = field(&mut rest).unwrap_or("").to_string();
            rules.push(Rule {
                flags,
                regex,
                replacement,
            });
        }
        Ok(RemapRules { rules })
    }

    /// Rewrites `name` for a request from `client`; `Err` carries the message of a refusal
    /// (an `a` rule's text, or "Remap table failure" when the rules loop).
    pub fn rewrite(
        &self,
        name: &str,
        direction: Direction,
        client: IpAddr,
    ) -> Result<String, String> {
        let mut current = name.to_string();
        let mut deadman = DEADMAN_STEPS;
        let mut index = 0;
        while let Some(rule) = self.rules.get(index) {
            index += 1;
            let f = rule.flags;
            let skip = (f.get && direction != Direction::Read)
                || (f.put && direction != Direction::Write)
                || (f.ipv4 && !client.is_ipv4())
                || (f.ipv6 && !client.is_ipv6());
            if skip {
                continue;
            }
            if deadman == 0 {
                return Err("Remap table failure".into());
            }
            deadman -= 1;
            if rule.regex.is_match(&current) == f.inverse {
                continue;
            }
            if f.rewrite {
                while let Some(caps) = rule.regex.captures(&current) {
                    let whole = caps.get(0).map_or(0..0, |m| m.range());
                    let groups: Vec<Option<&str>> =
                        caps.iter().map(|m| m.map(|m| m.as_str())).collect();
                    let expanded = expand(&rule.replacement, &groups, client);
                    if current.len() - whole.len() + expanded.len() > MAX_NAME {
                        return Err("Remap table failure".into());
                    }
                    current = format!(
                        "{}{}{}",
                        &current[..whole.start],
                        expanded,
                        &current[whole.end..]
                    );
                    if !f.global {
                        break;
                    }
                    if deadman == 0 {
                        return Err("Remap table failure".into());
                    }
                    deadman -= 1;
                }
            }
            if f.abort {
                // The message is the replacement field, its escapes expanded (remap.c: an
                // abort rule's pattern becomes the error text; empty means the default).
                let groups: Vec<Option<&str>> = rule
                    .regex
                    .captures(&current)
                    .map(|c| c.iter().map(|m| m.map(|m| m.as_str())).collect())
                    .unwrap_or_default();
                let message = expand(&rule.replacement, &groups, client);
                return Err(if message.is_empty() {
                    "Remap table failure".to_string()
                } else {
                    message
                });
            }
            if f.exit {
                return Ok(current);
            }
            if f.restart {
                index = 0;
            }
        }
        Ok(current)
    }
}

#[derive(Clone, Copy)]
enum Case {
    Keep,
    Upper,
    Lower,
}

/// The replacement text with its escapes expanded (remap.c `genmatchstring`; `\i` and `\x`
/// from tftpd.c's `rewrite_macros`).
fn expand(pattern: &str, groups: &[Option<&str>], client: IpAddr) -> String {
    let mut out = String::new();
    let mut case = Case::Keep;
    let push = |out: &mut String, text: &str, case: Case| match case {
        Case::Keep => out.push_str(text),
        Case::Upper => out.push_str(&text.to_uppercase()),
        Case::Lower => out.push_str(&text.to_lowercase()),
    };
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            push(&mut out, c.encode_utf8(&mut [0; 4]), case);
            continue;
        }
        match chars.next() {
            Some(d @ '0'..='9') => {
                let group = d as usize - '0' as usize;
                if let Some(Some(text)) = groups.get(group) {
                    push(&mut out, text, case);
                }
            }
            Some('U') => case = Case::Upper,
            Some('L') => case = Case::Lower,
            Some('E') => case = Case::Keep,
            Some('i') => push(&mut out, &client.to_string(), case),
            Some('x') => {
                let hex = match client {
                    IpAddr::V4(v4) => format!("{:08X}", u32::from(v4)),
                    IpAddr::V6(v6) => format!("{:032X}", u128::from(v6)),
                };
                push(&mut out, &hex, case);
            }
            Some('\\') | None => out.push('\\'),
            Some(other) => push(&mut out, other.encode_utf8(&mut [0; 4]), case),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> IpAddr {
        "192.168.1.23".parse().unwrap()
    }

    fn rules(text: &str) -> RemapRules {
        RemapRules::parse("map", text).unwrap()
    }

    #[test]
    fn windows_style_paths_and_a_prefix_are_rewritten() {
        // The classic tftpd-hpa map file for PXE clients that send DOS paths.
        let r = rules("rg \\\\ /   # backslashes to slashes\nr ^/tftpboot/ /\n");
        assert_eq!(
            r.rewrite("\\pxelinux\\x.0", Direction::Read, client()),
            Ok("/pxelinux/x.0".into())
        );
        assert_eq!(
            r.rewrite("/tftpboot/ipxe.efi", Direction::Read, client()),
            Ok("/ipxe.efi".into())
        );
    }

    #[test]
    fn groups_case_and_client_macros_expand() {
        let r = rules("ri ^(.*)\\.EFI$ \\U\\1\\E.efi\nr ^cfg$ cfg-\\x-\\i\n");
        assert_eq!(
            r.rewrite("boot.efi", Direction::Read, client()),
            Ok("BOOT.efi".into())
        );
        assert_eq!(
            r.rewrite("cfg", Direction::Read, client()),
            Ok("cfg-C0A80117-192.168.1.23".into())
        );
    }

    #[test]
    fn abort_exit_inverse_and_direction_flags() {
        let r = rules("aP .* No\\ uploads\ne ^keep\nG~ \\.efi$\nr .* x\n");
        assert_eq!(
            r.rewrite("a.bin", Direction::Write, client()),
            Err("No uploads".into())
        );
        assert_eq!(
            r.rewrite("keep.bin", Direction::Read, client()),
            Ok("keep.bin".into())
        );
        // `G~`: a read not ending in .efi matches (nothing to do), then `r` rewrites it.
        assert_eq!(
            r.rewrite("other", Direction::Read, client()),
            Ok("x".into())
        );
    }

    #[test]
    fn a_looping_rule_set_is_refused_not_hung() {
        let r = rules("rs a aa\n");
        assert_eq!(
            r.rewrite("a", Direction::Read, client()),
            Err("Remap table failure".into())
        );
    }

    #[test]
    fn a_rule_that_grows_the_name_without_end_is_refused_not_run_out_of_memory() {
        // Each global pass doubles the name: 1,024 passes would need 2^1024 bytes.
        let r = rules("rg ^(.*)$ \\1\\1\n");
        assert_eq!(
            r.rewrite("a", Direction::Read, client()),
            Err("Remap table failure".into())
        );
        // Growing up to PATH_MAX is fine: twelve doublings of one byte are 4,096.
        let r = rules("r ^(.*)$ \\1\\1\n".repeat(12).as_str());
        assert_eq!(
            r.rewrite("a", Direction::Read, client()).map(|n| n.len()),
            Ok(4096)
        );
    }

    #[test]
    fn broken_rules_name_their_line() {
        let err = RemapRules::parse("m", "# fine\nrz x y\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "m:2: remap rule contains invalid flag \"z\""
        );
        let err = RemapRules::parse("m", "ra x y\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "m:1: rule flags r and a cannot be combined"
        );
        assert_eq!(
            RemapRules::parse("m", "\n\nr\n").unwrap_err().to_string(),
            "m:3: no regex on remap"
        );
        assert!(RemapRules::parse("m", "r ( x\n")
            .unwrap_err()
            .to_string()
            .starts_with("m:1: bad regex in remap"));
    }
}
