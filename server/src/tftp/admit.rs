//! Whether a request is served, and from which file: the decisions tftpd-hpa makes before a
//! transfer starts (tftpd.c `tftp`, `rewrite_access`, `validate_access`), made by the engine
//! for every shell. The map file first, then the mode, then the name inside the
//! root (reads) or the upload directory (writes).

use std::net::IpAddr;
use std::path::PathBuf;

use super::config::TftpConfig;
use super::packet::{code, Packet};
use super::path::{resolve, resolve_new, Refusal};
use super::remap::Direction;

/// A decoded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub direction: Direction,
    pub filename: Vec<u8>,
    pub mode: String,
    pub options: Vec<(String, String)>,
}

impl Request {
    /// The request in a datagram sent to the listening port; `None` for anything else.
    pub fn from_packet(packet: Packet) -> Option<Request> {
        match packet {
            Packet::Rrq {
                filename,
                mode,
                options,
            } => Some(Request {
                direction: Direction::Read,
                filename,
                mode,
                options,
            }),
            Packet::Wrq {
                filename,
                mode,
                options,
            } => Some(Request {
                direction: Direction::Write,
                filename,
                mode,
                options,
            }),
            _ => None,
        }
    }
}

/// A refusal: the ERROR to send and the reason to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub code: u16,
    pub message: String,
    pub reason: String,
}

impl Refused {
    pub fn packet(&self) -> Packet {
        Packet::Error {
            code: self.code,
            message: self.message.clone(),
        }
    }
}

/// An admitted request: the file, and the name as rewritten (for logs and transcripts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    pub path: PathBuf,
    pub name: String,
}

pub fn admit(config: &TftpConfig, request: &Request, client: IpAddr) -> Result<Admitted, Refused> {
    let refuse = |code: u16, message: &str, reason: String| Refused {
        code,
        message: message.into(),
        reason,
    };
    if request.mode != "octet" && request.mode != "netascii" {
        return Err(refuse(
            code::ILLEGAL,
            "Illegal TFTP operation",
            format!("mode {:?}", request.mode),
        ));
    }
    let mut name = request.filename.clone();
    if let Some(rules) = &config.remap {
        let text = String::from_utf8_lossy(&name).into_owned();
        match rules.rewrite(&text, request.direction, client) {
            Ok(rewritten) => name = rewritten.into_bytes(),
            Err(message) => {
                return Err(refuse(
                    code::ACCESS,
                    &message,
                    "refused by the map file".into(),
                ))
            }
        }
    }
    let shown = String::from_utf8_lossy(&name).escape_debug().to_string();
    let resolved = match (request.direction, &config.upload) {
        (Direction::Read, _) => resolve(&config.root, &name, config.secure),
        (Direction::Write, Some(upload)) => resolve_new(&upload.dir, &name),
        (Direction::Write, None) => {
            return Err(refuse(
                code::ACCESS,
                "Access violation",
                "write refused: server is read-only".into(),
            ))
        }
    };
    match resolved {
        Ok(path) => Ok(Admitted { path, name: shown }),
        Err(refusal) => {
            let (code, message) = match refusal {
                Refusal::NotFound => (code::NOT_FOUND, "File not found"),
                Refusal::Exists => (code::EXISTS, "File already exists"),
                _ => (code::ACCESS, "Access violation"),
            };
            Err(refuse(code, message, refusal.to_string()))
        }
    }
}
