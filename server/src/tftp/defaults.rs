//! tftpd-hpa's `/etc/default/tftpd-hpa`: shell assignments of TFTP_USERNAME, TFTP_DIRECTORY,
//! TFTP_ADDRESS and TFTP_OPTIONS, read as the Debian init script sources it, the options split
//! as the shell splits them and read with in.tftpd's own getopt_long rules. Errors name the
//! file and line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TftpdHpa {
    pub username: Option<String>,
    pub directory: PathBuf,
    pub address: SocketAddr,
    pub secure: bool,
    pub blocksize: Option<u16>,
    pub port_range: Option<(u16, u16)>,
    /// tftpd-hpa's -T: retransmit timeout in microseconds.
    pub retransmit_us: Option<u64>,
    /// tftpd-hpa's -m: the remap rule file.
    pub map_file: Option<PathBuf>,
    /// tftpd-hpa's -c: uploads may create files.
    pub create: bool,
    /// tftpd-hpa's -r: TFTP options never granted.
    pub refused: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct DefaultsError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

fn unquote(value: &str) -> String {
    let v = value.trim();
    if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

pub fn read(path: &Path) -> Result<TftpdHpa, DefaultsError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| DefaultsError {
        file: file.clone(),
        line: 0,
        message: e.to_string(),
    })?;
    parse(&file, &text)
}

pub fn parse(file: &str, text: &str) -> Result<TftpdHpa, DefaultsError> {
    let err = |line: usize, message: String| DefaultsError {
        file: file.to_string(),
        line,
        message,
    };
    let mut username = None;
    let mut directory = None;
    let mut address = ("0.0.0.0:69".to_string(), 0usize);
    let mut options = (String::new(), 0usize);
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(err(n, format!("not a shell assignment: {line}")));
        };
        let value = unquote(value);
        match key.trim() {
            "TFTP_USERNAME" => username = Some(value),
            "TFTP_DIRECTORY" => directory = Some((value, n)),
            "TFTP_ADDRESS" => address = (value, n),
            "TFTP_OPTIONS" => options = (value, n),
            other => return Err(err(n, format!("unknown variable {other}"))),
        }
    }
    let (directory, _) = directory.ok_or_else(|| err(0, "TFTP_DIRECTORY is not set".into()))?;
    let address_parsed = parse_address(&address.0).ok_or_else(|| {
        err(
            address.1,
            format!(
                "TFTP_ADDRESS \"{}\" is not an address:port (the guide's placeholder must be \
                 replaced by the server's address, e.g. \"192.168.1.1:69\")",
                address.0
            ),
        )
    })?;
    let mut out = TftpdHpa {
        username,
        directory: PathBuf::from(directory),
        address: address_parsed,
        secure: false,
        blocksize: None,
        port_range: None,
        retransmit_us: None,
        map_file: None,
        create: false,
        refused: Vec::new(),
    };
    let words =
        shell_words::split(&options.0).map_err(|e| err(options.1, format!("TFTP_OPTIONS: {e}")))?;
    apply_options(&words, &mut out).map_err(|message| err(options.1, message))?;
    Ok(out)
}

/// One of in.tftpd's options (tftp-hpa 5.2 tftpd.c: short options
/// "46cspvVlLa:B:u:U:r:t:T:R:m:P:", and their long names), with whether it takes a value.
const OPTIONS: &[(char, &str, bool)] = &[
    ('4', "ipv4", false),
    ('6', "ipv6", false),
    ('c', "create", false),
    ('s', "secure", false),
    ('p', "permissive", false),
    ('v', "verbose", false),
    ('V', "version", false),
    ('l', "listen", false),
    ('L', "foreground", false),
    ('a', "address", true),
    ('B', "blocksize", true),
    ('u', "user", true),
    ('U', "umask", true),
    ('r', "refuse", true),
    ('t', "timeout", true),
    ('T', "retransmit", true),
    ('R', "port-range", true),
    ('m', "map-file", true),
    ('P', "pidfile", true),
    // --verbosity has no short form.
    ('\0', "verbosity", true),
];

/// An option found: its short letter, its long name, its value.
type Found = (char, &'static str, Option<String>);

/// Splits `words` into options as glibc's getopt_long does for in.tftpd: clustered short
/// options (`-vvv`, `-sc`), a value glued (`-B1468`) or in the next word (`-B 1468`), long
/// options with `=` or the next word, unambiguous long prefixes (`--block=1468`), `--` ending
/// the options.
fn getopt(words: &[String]) -> Result<Vec<Found>, String> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        i += 1;
        if word == "--" {
            if let Some(rest) = words.get(i) {
                return Err(format!("{rest}: netbootd serves TFTP_DIRECTORY only"));
            }
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, glued) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let exact = OPTIONS.iter().find(|o| o.1 == name);
            let prefixed: Vec<_> = OPTIONS.iter().filter(|o| o.1.starts_with(name)).collect();
            let option = match (exact, prefixed.as_slice()) {
                (Some(o), _) => o,
                (None, [o]) => o,
                (None, []) => return Err(format!("unrecognized option '--{name}'")),
                (None, _) => return Err(format!("option '--{name}' is ambiguous")),
            };
            let value = match (option.2, glued) {
                (true, Some(v)) => Some(v),
                (true, None) => {
                    let v = words.get(i).cloned();
                    i += 1;
                    Some(v.ok_or_else(|| format!("option '--{}' requires an argument", option.1))?)
                }
                (false, Some(_)) => {
                    return Err(format!("option '--{}' doesn't allow an argument", option.1))
                }
                (false, None) => None,
            };
            found.push((option.0, option.1, value));
            continue;
        }
        let Some(cluster) = word.strip_prefix('-').filter(|c| !c.is_empty()) else {
            return Err(format!("{word}: netbootd serves TFTP_DIRECTORY only"));
        };
        for (at, c) in cluster.char_indices() {
            let option = OPTIONS
                .iter()
                .find(|o| o.0 == c && c != '\0')
                .ok_or_else(|| format!("invalid option -- '{c}'"))?;
            if !option.2 {
                found.push((option.0, option.1, None));
                continue;
            }
            let rest = &cluster[at + c.len_utf8()..];
            let value = if rest.is_empty() {
                let v = words.get(i).cloned();
                i += 1;
                v.ok_or_else(|| format!("option requires an argument -- '{c}'"))?
            } else {
                rest.to_string()
            };
            found.push((option.0, option.1, Some(value)));
            break;
        }
    }
    Ok(found)
}

/// Applies in.tftpd's options to what netbootd will serve.
fn apply_options(words: &[String], out: &mut TftpdHpa) -> Result<(), String> {
    let options = getopt(words).map_err(|e| format!("TFTP_OPTIONS: {e}"))?;
    for (short, long, value) in options {
        let value = value.unwrap_or_default();
        let number = |what: &str| format!("bad {what} {value}");
        match short {
            's' => out.secure = true,
            'c' => out.create = true,
            'm' => out.map_file = Some(PathBuf::from(&value)),
            'u' => out.username = Some(value),
            'r' => out.refused.push(value.to_ascii_lowercase()),
            'a' => {
                out.address = parse_address(&value)
                    .ok_or_else(|| format!("--address {value} is not an address:port"))?
            }
            'B' => out.blocksize = Some(value.parse().map_err(|_| number("blocksize"))?),
            'T' => out.retransmit_us = Some(value.parse().map_err(|_| number("retransmit"))?),
            'R' => {
                let range = value
                    .split_once(':')
                    .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                    .filter(|(a, b): &(u16, u16)| a <= b)
                    .ok_or_else(|| number("port range"))?;
                out.port_range = Some(range);
            }
            // Standalone, in the foreground, logging through tracing: what netbootd does
            // anyway. -t is inetd mode's idle exit, which a standalone server never takes;
            // -4 is what an IPv4 TFTP_ADDRESS gives.
            'l' | 'L' | 'v' | 't' | '4' | '\0' => {}
            _ => {
                return Err(format!(
                    "TFTP_OPTIONS: --{long} is not supported by netbootd"
                ))
            }
        }
    }
    Ok(())
}

/// "[address][:port]" as in.tftpd -a takes it; a bare ":69" means all addresses.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else if !text.contains(':') {
        format!("{text}:69")
    } else {
        text.to_string()
    };
    full.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guides_placeholder_address_is_refused_with_its_line() {
        let text = include_str!("../../../fixtures/seed/tftpd-hpa");
        let e = parse("/etc/default/tftpd-hpa", text).unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.to_string().starts_with(
            "/etc/default/tftpd-hpa:4: TFTP_ADDRESS \"TFTP_server_address:69\" is not an address:port"
        ));
    }

    #[test]
    fn a_filled_in_file_is_read() {
        let text = include_str!("../../../fixtures/seed/tftpd-hpa")
            .replace("TFTP_server_address", "192.168.1.1");
        let d = parse("f", &text).unwrap();
        assert_eq!(d.directory, PathBuf::from("/srv/tftp"));
        assert_eq!(d.address, "192.168.1.1:69".parse().unwrap());
        assert!(d.secure);
        assert_eq!(d.username.as_deref(), Some("tftp"));
        let d = parse(
            "f",
            "TFTP_DIRECTORY=/x\nTFTP_ADDRESS=\":6969\"\nTFTP_OPTIONS=\"-s -B 1468 -R 4000:4100\"\n",
        )
        .unwrap();
        assert_eq!(d.address, "0.0.0.0:6969".parse().unwrap());
        assert_eq!(
            (d.blocksize, d.port_range),
            (Some(1468), Some((4000, 4100)))
        );
        let d = parse("f", "TFTP_DIRECTORY=/x\nTFTP_OPTIONS=\"-c -m /etc/map\"\n").unwrap();
        assert!(d.create);
        assert_eq!(d.map_file, Some(PathBuf::from("/etc/map")));
        let d = parse(
            "f",
            "TFTP_DIRECTORY=/x\nTFTP_OPTIONS=\"-vvv -sc -B1468 --port-r=4000:4100 --refuse tsize -u 'tftp user'\"\n",
        )
        .unwrap();
        assert!(d.secure && d.create);
        assert_eq!(
            (d.blocksize, d.port_range, &d.refused[..]),
            (Some(1468), Some((4000, 4100)), &["tsize".to_string()][..])
        );
        assert_eq!(d.username.as_deref(), Some("tftp user"));
        let d = parse(
            "f",
            "TFTP_DIRECTORY=/x\nTFTP_OPTIONS='--blocksize=512 -T 200000'\n",
        )
        .unwrap();
        assert_eq!((d.blocksize, d.retransmit_us), (Some(512), Some(200_000)));
        for (options, message) in [
            ("-x", "TFTP_OPTIONS: invalid option -- 'x'"),
            ("-B", "TFTP_OPTIONS: option requires an argument -- 'B'"),
            ("--p", "TFTP_OPTIONS: option '--p' is ambiguous"),
            (
                "--secure=1",
                "TFTP_OPTIONS: option '--secure' doesn't allow an argument",
            ),
            (
                "-s /srv/other",
                "TFTP_OPTIONS: /srv/other: netbootd serves TFTP_DIRECTORY only",
            ),
            ("-B big", "bad blocksize big"),
        ] {
            let e = parse(
                "f",
                &format!("TFTP_DIRECTORY=/x\nTFTP_OPTIONS=\"{options}\"\n"),
            )
            .unwrap_err();
            assert_eq!(e.to_string(), format!("f:2: {message}"), "{options}");
        }
        let e = parse("f", "TFTP_DIRECTORY=/x\nTFTP_OPTIONS=\"-s --permissive\"\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f:2: TFTP_OPTIONS: --permissive is not supported by netbootd"
        );
    }
}
