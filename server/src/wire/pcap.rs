//! Captures: every run can be written as a pcap file (open it in Wireshark), and field
//! captures are read back for replay. Ethernet link type, microsecond timestamps, via the
//! pcap-file crate. Reading a damaged capture names the packet where it broke.

use std::io::{Read, Write};
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::DataLink;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("not a pcap capture: {0}")]
    Header(String),
    #[error("packet {number}: {reason}")]
    Packet { number: usize, reason: String },
    #[error("link type {0:?} is not Ethernet")]
    LinkType(DataLink),
    #[error("writing the capture: {0}")]
    Write(String),
}

/// One captured frame and when it was seen, relative to the start of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub at: Duration,
    pub frame: Vec<u8>,
}

/// Writes Ethernet frames to a pcap stream as they pass.
pub struct CaptureWriter<W: Write> {
    inner: PcapWriter<W>,
}

impl<W: Write> CaptureWriter<W> {
    pub fn new(out: W) -> Result<Self, CaptureError> {
        let header = PcapHeader {
            datalink: DataLink::ETHERNET,
            ..PcapHeader::default()
        };
        let inner =
            PcapWriter::with_header(out, header).map_err(|e| CaptureError::Write(e.to_string()))?;
        Ok(CaptureWriter { inner })
    }

    pub fn write(&mut self, at: Duration, frame: &[u8]) -> Result<(), CaptureError> {
        let packet = PcapPacket::new(at, frame.len() as u32, frame);
        self.inner
            .write_packet(&packet)
            .map(|_| ())
            .map_err(|e| CaptureError::Write(e.to_string()))
    }

    pub fn into_inner(self) -> W {
        self.inner.into_writer()
    }
}

/// Reads every frame of an Ethernet pcap capture. Timestamps become offsets from the first
/// packet. A truncated or corrupt capture is an error naming the packet (1-based).
pub fn read_capture(input: impl Read) -> Result<Vec<Captured>, CaptureError> {
    let mut reader = PcapReader::new(input).map_err(|e| CaptureError::Header(e.to_string()))?;
    let link = reader.header().datalink;
    if link != DataLink::ETHERNET {
        return Err(CaptureError::LinkType(link));
    }
    let mut frames = Vec::new();
    let mut first = None;
    while let Some(packet) = reader.next_packet() {
        let number = frames.len() + 1;
        let packet = packet.map_err(|e| CaptureError::Packet {
            number,
            reason: e.to_string(),
        })?;
        let start = *first.get_or_insert(packet.timestamp);
        frames.push(Captured {
            at: packet.timestamp.saturating_sub(start),
            frame: packet.data.into_owned(),
        });
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_truncation_names_the_packet() {
        let mut w = CaptureWriter::new(Vec::new()).unwrap();
        w.write(Duration::from_millis(5), &[1; 60]).unwrap();
        w.write(Duration::from_millis(3005), &[2; 342]).unwrap();
        let bytes = w.into_inner();
        let frames = read_capture(&bytes[..]).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].at, Duration::from_secs(3));
        assert_eq!(frames[1].frame, vec![2; 342]);

        let cut = &bytes[..bytes.len() - 10];
        let err = read_capture(cut).unwrap_err().to_string();
        assert!(err.starts_with("packet 2: "), "{err}");
        assert!(read_capture(&b"nope"[..]).is_err());
    }
}
