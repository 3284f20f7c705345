//! Reading field captures: pcap (microsecond and nanosecond magic, either byte order) and
//! pcapng (several sections and interfaces, `if_tsresol`) through pcap-file's slice parsers,
//! so every packet keeps its byte offset in the file. Link layers: Ethernet (with 802.1Q and
//! QinQ tags), Linux cooked v1 (SLL) and v2 (SLL2), raw IPv4. A file cut short is read up to
//! the last whole packet and says where it ended; a frame cut by the snapshot length is kept
//! and flagged. Only an unreadable file header is an error.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use netbootd::time::Instant;
use netbootd::wire::MacAddr;

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{DataLink, PcapError, TsResolution};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: not a pcap or pcapng capture: {reason}")]
    NotACapture { file: String, reason: String },
}

/// A whole capture file as far as it could be read.
#[derive(Debug, Clone)]
pub struct Capture {
    pub file: String,
    pub packets: Vec<Packet>,
    /// Where reading stopped when the file did not end cleanly.
    pub cut: Option<Cut>,
    /// Frames that are not IPv4 over a link layer we read (ARP, IPv6, unknown link types).
    pub ignored: usize,
}

/// Where and why a capture file stopped being readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// The 1-based number the unreadable packet would have had.
    pub packet: usize,
    /// Byte offset in the file where its record starts.
    pub offset: usize,
    pub reason: String,
}

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "capture ends early at packet {} (byte offset {}): {}",
            self.packet, self.offset, self.reason
        )
    }
}

/// One captured frame, decoded down to UDP or ICMP when it carries IPv4.
#[derive(Debug, Clone)]
pub struct Packet {
    /// 1-based, as Wireshark numbers frames.
    pub number: usize,
    /// Time since the first packet of the file.
    pub at: Instant,
    /// Byte offset of the packet record in the file.
    pub offset: usize,
    /// The frame was longer on the wire than in the file (snapshot length).
    pub snapped: bool,
    pub src_mac: Option<MacAddr>,
    /// 802.1Q/802.1ad VLAN ids, outer first.
    pub vlans: Vec<u16>,
    pub ip: Ipv4,
}

#[derive(Debug, Clone)]
pub struct Ipv4 {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub body: Transport,
}

#[derive(Debug, Clone)]
pub enum Transport {
    Udp {
        src_port: u16,
        dst_port: u16,
        payload: Vec<u8>,
    },
    /// ICMP, with the start of the datagram it reports on for errors (type 3 etc.).
    Icmp {
        kind: u8,
        code: u8,
        quoted: Vec<u8>,
    },
    Other(u8),
}

/// Reads a capture file. Only a file that cannot be opened or has no capture header is an
/// error; everything after the header is read as far as it goes.
pub fn read_file(path: &Path) -> Result<Capture, ReadError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        file: file.clone(),
        source,
    })?;
    read_bytes(&file, &bytes)
}

/// Reads a capture held in memory; `file` names it in errors and notes.
pub fn read_bytes(file: &str, bytes: &[u8]) -> Result<Capture, ReadError> {
    let not = |reason: String| ReadError::NotACapture {
        file: file.to_string(),
        reason,
    };
    if bytes.len() < 4 {
        return Err(not(format!(
            "{} bytes, too short for a header",
            bytes.len()
        )));
    }
    let mut capture = Capture {
        file: file.to_string(),
        packets: Vec::new(),
        cut: None,
        ignored: 0,
    };
    // pcapng's Section Header Block type (0x0A0D0D0A) is a palindrome, so no byte order is needed.
    if bytes[..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
        read_pcapng(bytes, &mut capture).map_err(|e| not(e.to_string()))?;
    } else {
        read_pcap(bytes, &mut capture).map_err(|e| not(e.to_string()))?;
    }
    if let Some(first) = capture.packets.first().map(|p| p.at) {
        for p in &mut capture.packets {
            p.at = Instant::ZERO + (p.at - first);
        }
    }
    Ok(capture)
}

fn why(e: &PcapError) -> String {
    match e {
        PcapError::IncompleteBuffer => "the file ends inside this packet's record".into(),
        other => other.to_string(),
    }
}

fn read_pcap(bytes: &[u8], capture: &mut Capture) -> Result<(), PcapError> {
    let (mut rest, parser) = PcapParser::new(bytes)?;
    let header = parser.header();
    let link = header.datalink;
    let nanos = header.ts_resolution == TsResolution::NanoSecond;
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let number = capture.packets.len() + capture.ignored + 1;
        match parser.next_raw_packet(rest) {
            Ok((next, raw)) => {
                rest = next;
                let frac = if nanos {
                    u64::from(raw.ts_frac)
                } else {
                    u64::from(raw.ts_frac) * 1000
                };
                let at = Instant::from_duration(
                    Duration::from_secs(u64::from(raw.ts_sec)) + Duration::from_nanos(frac),
                );
                let snapped = raw.orig_len as usize > raw.data.len();
                capture.push(number, at, offset, snapped, link, &raw.data);
            }
            Err(e) => {
                capture.cut = Some(Cut {
                    packet: number,
                    offset,
                    reason: why(&e),
                });
                break;
            }
        }
    }
    Ok(())
}

/// Interface link type and time unit, from its Interface Description Block.
#[derive(Clone, Copy)]
struct Interface {
    link: DataLink,
    /// `if_tsresol`: bit 7 clear = 10^-n s, set = 2^-n s; absent = microseconds
    /// (pcapng draft, section 4.2).
    tsresol: u8,
}

fn ticks_to_time(ticks: u64, tsresol: u8) -> Duration {
    let n = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 != 0 {
        let per_sec = 1u128.checked_shl(n).unwrap_or(u128::MAX);
        Duration::from_nanos((u128::from(ticks) * 1_000_000_000 / per_sec) as u64)
    } else if n <= 9 {
        Duration::from_nanos(ticks.saturating_mul(10u64.pow(9 - n)))
    } else {
        Duration::from_nanos(ticks / 10u64.saturating_pow(n - 9))
    }
}

fn read_pcapng(bytes: &[u8], capture: &mut Capture) -> Result<(), PcapError> {
    let (mut rest, mut parser) = PcapNgParser::new(bytes)?;
    let mut interfaces: Vec<Interface> = Vec::new();
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let number = capture.packets.len() + capture.ignored + 1;
        let (next, block) = match parser.next_block(rest) {
            Ok(b) => b,
            Err(e) => {
                capture.cut = Some(Cut {
                    packet: number,
                    offset,
                    reason: why(&e),
                });
                break;
            }
        };
        rest = next;
        match block {
            Block::SectionHeader(_) => interfaces.clear(),
            Block::InterfaceDescription(idb) => {
                let tsresol = idb
                    .options
                    .iter()
                    .find_map(|o| match o {
                        InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
                        _ => None,
                    })
                    .unwrap_or(6);
                interfaces.push(Interface {
                    link: idb.linktype,
                    tsresol,
                });
            }
            Block::EnhancedPacket(epb) => {
                let Some(iface) = interfaces.get(epb.interface_id as usize).copied() else {
                    capture.cut = Some(Cut {
                        packet: number,
                        offset,
                        reason: format!("packet on undeclared interface {}", epb.interface_id),
                    });
                    break;
                };
                // pcap-file hands the raw tick count over as nanoseconds; scale it here.
                let ticks = u64::try_from(epb.timestamp.as_nanos()).unwrap_or(u64::MAX);
                let at = Instant::from_duration(ticks_to_time(ticks, iface.tsresol));
                let snapped = epb.original_len as usize > epb.data.len();
                capture.push(number, at, offset, snapped, iface.link, &epb.data);
            }
            Block::SimplePacket(spb) => {
                let link = interfaces
                    .first()
                    .map(|i| i.link)
                    .unwrap_or(DataLink::ETHERNET);
                let snapped = spb.original_len as usize > spb.data.len();
                let at = capture.packets.last().map(|p| p.at).unwrap_or_default();
                capture.push(number, at, offset, snapped, link, &spb.data);
            }
            _ => {}
        }
    }
    Ok(())
}

impl Capture {
    fn push(
        &mut self,
        number: usize,
        at: Instant,
        offset: usize,
        snapped: bool,
        link: DataLink,
        data: &[u8],
    ) {
        match decode_frame(link, data) {
            Some((src_mac, vlans, ip)) => self.packets.push(Packet {
                number,
                at,
                offset,
                snapped,
                src_mac,
                vlans,
                ip,
            }),
            None => {
                // Keep numbering in step with Wireshark: an ignored frame still takes a number.
                self.ignored += 1;
            }
        }
    }
}

type Decoded = (Option<MacAddr>, Vec<u16>, Ipv4);

/// Link layer to IPv4. SLL: 16-byte header, protocol at offset 14, sender address at 6
/// (tcpdump.org LINKTYPE_LINUX_SLL). SLL2: 20-byte header, protocol at offset 0, address at 12
/// (LINKTYPE_LINUX_SLL2).
fn decode_frame(link: DataLink, data: &[u8]) -> Option<Decoded> {
    let (src_mac, sliced) = match link {
        DataLink::ETHERNET => {
            let src = data.get(6..12).and_then(|s| s.try_into().ok()).map(MacAddr);
            (src, LaxSlicedPacket::from_ethernet(data).ok()?)
        }
        DataLink::LINUX_SLL => {
            let proto = u16::from_be_bytes([*data.get(14)?, *data.get(15)?]);
            let src = sll_address(data.get(4..6)?, data.get(6..14)?);
            (
                src,
                LaxSlicedPacket::from_ether_type(EtherType(proto), data.get(16..)?),
            )
        }
        DataLink::LINUX_SLL2 => {
            let proto = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
            let src = sll_address(&[0, *data.get(11)?], data.get(12..20)?);
            (
                src,
                LaxSlicedPacket::from_ether_type(EtherType(proto), data.get(20..)?),
            )
        }
        DataLink::RAW | DataLink::IPV4 => (None, LaxSlicedPacket::from_ip(data).ok()?),
        _ => return None,
    };
    let vlans = match &sliced.vlan {
        Some(etherparse::VlanSlice::SingleVlan(v)) => vec![v.vlan_identifier().value()],
        Some(etherparse::VlanSlice::DoubleVlan(v)) => vec![
            v.outer().vlan_identifier().value(),
            v.inner().vlan_identifier().value(),
        ],
        None => Vec::new(),
    };
    let Some(LaxNetSlice::Ipv4(ip)) = &sliced.net else {
        return None;
    };
    let header = ip.header();
    let body = match &sliced.transport {
        Some(TransportSlice::Udp(udp)) => Transport::Udp {
            src_port: udp.source_port(),
            dst_port: udp.destination_port(),
            payload: udp.payload().to_vec(),
        },
        Some(TransportSlice::Icmpv4(icmp)) => Transport::Icmp {
            kind: icmp.type_u8(),
            code: icmp.code_u8(),
            quoted: icmp.payload().to_vec(),
        },
        _ => Transport::Other(ip.payload_ip_number().0),
    };
    Some((
        src_mac,
        vlans,
        Ipv4 {
            src: header.source_addr(),
            dst: header.destination_addr(),
            ttl: header.ttl(),
            body,
        },
    ))
}

/// The sender's address from a cooked header, when it is a 6-byte one.
fn sll_address(len: &[u8], addr: &[u8]) -> Option<MacAddr> {
    let len = u16::from_be_bytes([len[0], len[1]]);
    (len == 6)
        .then(|| addr[..6].try_into().ok().map(MacAddr))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsresol_scales_ticks() {
        assert_eq!(ticks_to_time(1_500_000, 6), Duration::from_millis(1500));
        assert_eq!(ticks_to_time(1_500_000_000, 9), Duration::from_millis(1500));
        assert_eq!(ticks_to_time(3 << 20, 0x80 | 20), Duration::from_secs(3));
    }

    #[test]
    fn garbage_is_not_a_capture_and_names_the_file() {
        let err = read_bytes("x.pcap", b"hello world, not a capture")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("x.pcap: not a pcap"), "{err}");
        assert!(read_bytes("y.pcap", b"ab").is_err());
    }
}
