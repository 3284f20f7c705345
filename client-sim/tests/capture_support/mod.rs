//! Helpers for the capture tests: where the field captures are, running the CLI, and
//! re-framing real frames (SLL, SLL2, 802.1Q, QinQ, nanosecond pcap, pcapng with two
//! interfaces) so the derived variants are made by code from captured bytes.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bootsim::capture::{audit, read_bytes, Audit};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::{Block, PcapNgReader, PcapNgWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

pub fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("BOOTSIM_FIELD_PCAPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/field-pcaps")
        });
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: the field captures are not at {} (../shared is absent)",
            dir.display()
        );
        None
    }
}

pub fn audit_path(path: &Path) -> Audit {
    let bytes = std::fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    audit(&read_bytes(&name, &bytes).unwrap(), None)
}

pub fn bootsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bootsim"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The Ethernet frames of a corpus capture with their times and original lengths.
pub fn frames(path: &Path) -> Vec<(Duration, Vec<u8>)> {
    let file = std::fs::File::open(path).unwrap();
    if path.extension().is_some_and(|e| e == "pcapng") {
        let mut r = PcapNgReader::new(file).unwrap();
        let mut out = Vec::new();
        while let Some(block) = r.next_block() {
            if let Block::EnhancedPacket(p) = block.unwrap().into_owned() {
                let resol = r
                    .packet_interface(&p)
                    .and_then(|i| {
                        i.options.iter().find_map(|o| match o {
                            InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
                            _ => None,
                        })
                    })
                    .unwrap_or(6);
                let ticks = p.timestamp.as_nanos() as u64;
                let at = Duration::from_nanos(ticks * 10u64.pow(9 - u32::from(resol)));
                out.push((at, p.data.into_owned()));
            }
        }
        out
    } else {
        let mut r = PcapReader::new(file).unwrap();
        let mut out = Vec::new();
        while let Some(p) = r.next_packet() {
            let p = p.unwrap();
            out.push((p.timestamp, p.data.into_owned()));
        }
        out
    }
}

pub fn write_pcap(frames: &[(Duration, Vec<u8>)], link: DataLink, ts: TsResolution) -> Vec<u8> {
    let header = PcapHeader {
        datalink: link,
        ts_resolution: ts,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
    for (at, f) in frames {
        w.write_packet(&PcapPacket::new(*at, f.len() as u32, f))
            .unwrap();
    }
    w.into_writer()
}

/// Linux cooked v1: packet type, ARPHRD_ETHER, address length 6, the sender's MAC padded to
/// 8 bytes, then the Ethernet type (LINKTYPE_LINUX_SLL).
pub fn to_sll(f: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 1, 0, 6];
    out.extend_from_slice(&f[6..12]);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&f[12..]);
    out
}

/// Linux cooked v2: Ethernet type, reserved, interface index, ARPHRD_ETHER, packet type,
/// address length, the address padded to 8 bytes (LINKTYPE_LINUX_SLL2).
pub fn to_sll2(f: &[u8]) -> Vec<u8> {
    let mut out = f[12..14].to_vec();
    out.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6]);
    out.extend_from_slice(&f[6..12]);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&f[14..]);
    out
}

/// 802.1Q tags inserted after the MAC addresses, outer first (802.1ad 0x88a8 for QinQ).
pub fn tagged(f: &[u8], vlans: &[u16]) -> Vec<u8> {
    let mut out = f[..12].to_vec();
    for (i, v) in vlans.iter().enumerate() {
        let tpid: u16 = if i == 0 && vlans.len() > 1 {
            0x88a8
        } else {
            0x8100
        };
        out.extend_from_slice(&tpid.to_be_bytes());
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&f[12..]);
    out
}

/// pcapng, frames spread over two interfaces, nanosecond `if_tsresol`.
pub fn write_pcapng_two_interfaces(frames: &[(Duration, Vec<u8>)]) -> Vec<u8> {
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    for _ in 0..2 {
        w.write_block(&Block::InterfaceDescription(InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen: 0,
            options: vec![InterfaceDescriptionOption::IfTsResol(9)],
        }))
        .unwrap();
    }
    for (i, (at, f)) in frames.iter().enumerate() {
        w.write_block(&Block::EnhancedPacket(EnhancedPacketBlock {
            interface_id: (i % 2) as u32,
            timestamp: *at,
            original_len: f.len() as u32,
            data: f.as_slice().into(),
            options: vec![],
        }))
        .unwrap();
    }
    w.into_inner()
}

/// What must not change when only the framing changes.
pub fn essence(a: &Audit) -> String {
    a.clients
        .iter()
        .map(|c| {
            let steps: Vec<String> = c
                .steps
                .iter()
                .map(|s| {
                    format!(
                        "{} {:.3} {} {} {:?}",
                        s.number, s.at, s.stage, s.detail, s.packets
                    )
                })
                .collect();
            format!(
                "{} {:?} {:?} {}\n{}\n",
                c.mac,
                c.firmware,
                c.outcome,
                c.diagnosis,
                steps.join("\n")
            )
        })
        .collect()
}

/// A classic pcap written big-endian (magic a1b2c3d4 as the bytes a1 b2 c3 d4).
pub fn write_pcap_big_endian(frames: &[(Duration, Vec<u8>)]) -> Vec<u8> {
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        endianness: Endianness::Big,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
    for (at, f) in frames {
        w.write_packet(&PcapPacket::new(*at, f.len() as u32, f))
            .unwrap();
    }
    let out = w.into_writer();
    assert_eq!(out[..4], [0xa1, 0xb2, 0xc3, 0xd4]);
    out
}
