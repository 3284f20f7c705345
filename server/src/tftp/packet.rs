//! TFTP packets (RFC 1350) with option extension (RFC 2347 OACK, RFC 2348 blksize, RFC 2349
//! timeout/tsize, RFC 7440 windowsize).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Rrq {
        filename: Vec<u8>,
        mode: String,
        options: Vec<(String, String)>,
    },
    Wrq {
        filename: Vec<u8>,
        mode: String,
        options: Vec<(String, String)>,
    },
    Data {
        block: u16,
        data: Vec<u8>,
    },
    /// A DATA packet already framed, shared by every transfer of its file
    /// ([`crate::wire::payload::Blocks`]): sent as it is, never decoded into.
    SharedData(crate::wire::Payload),
    Ack {
        block: u16,
    },
    Error {
        code: u16,
        message: String,
    },
    Oack {
        options: Vec<(String, String)>,
    },
}

/// RFC 1350 section 5 and RFC 2347 error codes.
pub mod code {
    pub const UNDEFINED: u16 = 0;
    pub const NOT_FOUND: u16 = 1;
    pub const ACCESS: u16 = 2;
    pub const DISK_FULL: u16 = 3;
    pub const ILLEGAL: u16 = 4;
    pub const UNKNOWN_TID: u16 = 5;
    pub const EXISTS: u16 = 6;
    pub const OPTIONS: u16 = 8;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("packet of {0} bytes is too short")]
    TooShort(usize),
    #[error("unknown opcode {0}")]
    Opcode(u16),
    #[error("request field {0} is not NUL-terminated")]
    Unterminated(&'static str),
    #[error("option {0:?} has no value")]
    OptionValue(String),
}

fn fields(body: &[u8]) -> Vec<&[u8]> {
    if body.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<&[u8]> = body.split(|b| *b == 0).collect();
    // split leaves an empty tail after the final NUL.
    if body.last() == Some(&0) {
        out.pop();
    }
    out
}

/// A request's filename, mode and options.
type Request = (Vec<u8>, String, Vec<(String, String)>);

fn request(body: &[u8]) -> Result<Request, PacketError> {
    if body.last() != Some(&0) {
        return Err(PacketError::Unterminated("filename/mode"));
    }
    let parts = fields(body);
    let filename = parts
        .first()
        .ok_or(PacketError::Unterminated("filename"))?
        .to_vec();
    let mode = parts
        .get(1)
        .ok_or(PacketError::Unterminated("mode"))?
        .to_ascii_lowercase();
    let mode = String::from_utf8_lossy(&mode).into_owned();
    let mut options = Vec::new();
    let mut rest = parts[2..].iter();
    while let Some(name) = rest.next() {
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        let value = rest
            .next()
            .ok_or_else(|| PacketError::OptionValue(name.clone()))?;
        options.push((name, String::from_utf8_lossy(value).into_owned()));
    }
    Ok((filename, mode, options))
}

impl Packet {
    pub fn decode(bytes: &[u8]) -> Result<Packet, PacketError> {
        if bytes.len() < 4 && !(bytes.len() >= 2 && bytes[1] == 6) {
            return Err(PacketError::TooShort(bytes.len()));
        }
        let opcode = u16::from_be_bytes([bytes[0], bytes[1]]);
        let body = &bytes[2..];
        Ok(match opcode {
            1 | 2 => {
                let (filename, mode, options) = request(body)?;
                if opcode == 1 {
                    Packet::Rrq {
                        filename,
                        mode,
                        options,
                    }
                } else {
                    Packet::Wrq {
                        filename,
                        mode,
                        options,
                    }
                }
            }
            3 => Packet::Data {
                block: u16::from_be_bytes([body[0], body[1]]),
                data: body[2..].to_vec(),
            },
            4 => Packet::Ack {
                block: u16::from_be_bytes([body[0], body[1]]),
            },
            5 => {
                let msg = &body[2..];
                let msg = msg.split(|b| *b == 0).next().unwrap_or_default();
                Packet::Error {
                    code: u16::from_be_bytes([body[0], body[1]]),
                    message: String::from_utf8_lossy(msg).into_owned(),
                }
            }
            6 => {
                let parts = fields(body);
                let mut options = Vec::new();
                for pair in parts.chunks(2) {
                    let name = String::from_utf8_lossy(pair[0]).to_ascii_lowercase();
                    let value = pair
                        .get(1)
                        .ok_or_else(|| PacketError::OptionValue(name.clone()))?;
                    options.push((name, String::from_utf8_lossy(value).into_owned()));
                }
                Packet::Oack { options }
            }
            other => return Err(PacketError::Opcode(other)),
        })
    }

    /// The packet as a datagram's payload: a shared DATA packet stays shared.
    pub fn into_payload(self) -> crate::wire::Payload {
        match self {
            Packet::SharedData(packet) => packet,
            other => other.encode().into(),
        }
    }

    /// The block a DATA packet carries, shared or not.
    pub fn data_block(&self) -> Option<u16> {
        self.data().map(|(block, _)| block)
    }

    /// A DATA packet's block and contents, shared or not: what a reader of the engine's
    /// output matches on, since a `Cached` file's reads come out as [`Packet::SharedData`].
    pub fn data(&self) -> Option<(u16, &[u8])> {
        match self {
            Packet::Data { block, data } => Some((*block, data)),
            Packet::SharedData(p) => Some((u16::from_be_bytes([p[2], p[3]]), &p[4..])),
            _ => None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Encodes into `out`, replacing what it held: a shell sending block after block
    /// reuses one buffer.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.clear();
        let strings = |out: &mut Vec<u8>, items: &[&[u8]]| {
            for s in items {
                out.extend_from_slice(s);
                out.push(0);
            }
        };
        match self {
            Packet::Rrq {
                filename,
                mode,
                options,
            }
            | Packet::Wrq {
                filename,
                mode,
                options,
            } => {
                let op: u16 = if matches!(self, Packet::Rrq { .. }) {
                    1
                } else {
                    2
                };
                out.extend(op.to_be_bytes());
                strings(out, &[filename, mode.as_bytes()]);
                for (k, v) in options {
                    strings(out, &[k.as_bytes(), v.as_bytes()]);
                }
            }
            Packet::Data { block, data } => {
                out.reserve(4 + data.len());
                out.extend(3u16.to_be_bytes());
                out.extend(block.to_be_bytes());
                out.extend_from_slice(data);
            }
            Packet::SharedData(packet) => out.extend_from_slice(packet),
            Packet::Ack { block } => {
                out.extend(4u16.to_be_bytes());
                out.extend(block.to_be_bytes());
            }
            Packet::Error { code, message } => {
                out.extend(5u16.to_be_bytes());
                out.extend(code.to_be_bytes());
                strings(out, &[message.as_bytes()]);
            }
            Packet::Oack { options } => {
                out.extend(6u16.to_be_bytes());
                for (k, v) in options {
                    strings(out, &[k.as_bytes(), v.as_bytes()]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edk2_size_probe_round_trips() {
        let rrq = Packet::Rrq {
            filename: b"ipxe.efi".to_vec(),
            mode: "octet".into(),
            options: vec![
                ("tsize".into(), "0".into()),
                ("blksize".into(), "1468".into()),
                ("windowsize".into(), "4".into()),
            ],
        };
        let bytes = rrq.encode();
        assert_eq!(&bytes[..12], b"\x00\x01ipxe.efi\x00o");
        assert_eq!(Packet::decode(&bytes).unwrap(), rrq);
    }

    #[test]
    fn malformed_requests_are_errors_not_panics() {
        assert!(Packet::decode(b"\x00\x01abc").is_err());
        assert!(Packet::decode(b"\x00\x01abc\x00octet\x00tsize\x00").is_err());
        assert!(Packet::decode(b"\x00\x09\x00\x00").is_err());
        assert!(Packet::decode(b"\x00").is_err());
        assert_eq!(
            Packet::decode(b"\x00\x06").unwrap(),
            Packet::Oack { options: vec![] }
        );
    }
}
