//! Counting the frames a client sent again, for the transcript's `retransmissions` line.

use std::collections::HashMap;

use netbootd::wire::frame::Datagram;
use netbootd::wire::Payload;

/// Counts the frames a client sent again: a DHCP message of the same type as the one before
/// it, a TFTP request or acknowledgement repeating the last one sent from that port.
#[derive(Debug, Default)]
pub(super) struct Retransmits {
    pub(super) count: u32,
    last_dhcp: Option<u8>,
    last_tftp: HashMap<u16, Payload>,
}

impl Retransmits {
    pub(super) fn observe(&mut self, d: &Datagram) {
        if d.dst.port() == 67 || d.dst.port() == 4011 {
            let kind = netbootd::wire::dhcp::Message::decode(&d.payload)
                .ok()
                .and_then(|m| m.message_type());
            if kind.is_some() && kind == self.last_dhcp {
                self.count += 1;
            }
            self.last_dhcp = kind;
            return;
        }
        let op = d.payload.get(..2);
        let tftp = matches!(op, Some([0, 1]) | Some([0, 4]));
        if tftp {
            let last = self.last_tftp.entry(d.src.port()).or_default();
            if *last == d.payload {
                self.count += 1;
            } else {
                *last = d.payload.clone();
            }
        }
    }
}
