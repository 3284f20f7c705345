//! tftpd-hpa's `/etc/default/tftpd-hpa`: shell assignments of TFTP_USERNAME, TFTP_DIRECTORY,
//! TFTP_ADDRESS and TFTP_OPTIONS, read as the Debian init script sources it. Errors name the
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
    // "[address][:port]" as in.tftpd -a takes it; a bare ":69" means all addresses.
    let addr_text = if address.0.starts_with(':') {
        format!("0.0.0.0{}", address.0)
    } else if !address.0.contains(':') {
        format!("{}:69", address.0)
    } else {
        address.0.clone()
    };
    let address_parsed: SocketAddr = addr_text.parse().map_err(|_| {
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
    };
    let words: Vec<&str> = options.0.split_whitespace().collect();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .map(|v| v.to_string())
                .ok_or_else(|| err(options.1, format!("{name} needs a value")))
        };
        match *w {
            "-s" | "--secure" => out.secure = true,
            "-c" | "--create" => out.create = true,
            "-m" | "--map-file" => out.map_file = Some(PathBuf::from(value(w)?)),
            "-l" | "--listen" | "-v" | "--verbose" | "-4" | "--ipv4" | "-L" | "--foreground" => {}
            "-B" | "--blocksize" => {
                let v = value(w)?;
                out.blocksize = Some(
                    v.parse()
                        .map_err(|_| err(options.1, format!("bad blocksize {v}")))?,
                );
            }
            "-R" | "--port-range" => {
                let v = value(w)?;
                let range = v
                    .split_once(':')
                    .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                    .filter(|(a, b): &(u16, u16)| a <= b)
                    .ok_or_else(|| err(options.1, format!("bad port range {v}")))?;
                out.port_range = Some(range);
            }
            "-T" | "--retransmit" => {
                let v = value(w)?;
                out.retransmit_us = Some(
                    v.parse()
                        .map_err(|_| err(options.1, format!("bad retransmit {v}")))?,
                );
            }
            other => {
                return Err(err(
                    options.1,
                    format!("TFTP_OPTIONS: {other} is not supported by netbootd"),
                ))
            }
        }
    }
    Ok(out)
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
        let e = parse("f", "TFTP_DIRECTORY=/x\nTFTP_OPTIONS=\"-s --permissive\"\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f:2: TFTP_OPTIONS: --permissive is not supported by netbootd"
        );
    }
}
