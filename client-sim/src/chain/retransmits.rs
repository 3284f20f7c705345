//! Counting the frames a client sent again, for the transcript's `retransmissions` line.

use netbootd::wire::frame::Datagram;
use netbootd::wire::Payload;

/// Counts the frames a client sent again: a DHCP message of the same type as the one before
/// it, a TFTP request or acknowledgement repeating the last one sent from that port.
#[derive(Debug, Default)]
pub(super) struct Retransmits {
    pub(super) count: u32,
    last_dhcp: Option<u8>,
    /// The last TFTP packet sent from the port used last, held in the client itself (a
    /// storm compares millions of ACKs: no trip to another allocation for each)...
    recent: Option<(u16, Payload)>,
    /// ...and from each port used before it.
    older: Vec<(u16, Payload)>,
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
        if !tftp {
            return;
        }
        let port = d.src.port();
        if self.recent.as_ref().is_none_or(|(p, _)| *p != port) {
            let entry = match self.older.iter().position(|(p, _)| *p == port) {
                Some(k) => self.older.swap_remove(k),
                None => (port, Payload::default()),
            };
            if let Some(previous) = self.recent.replace(entry) {
                self.older.push(previous);
            }
        }
        let (_, last) = self.recent.as_mut().expect("set above");
        if *last == d.payload {
            self.count += 1;
        } else {
            *last = d.payload.clone();
        }
    }
}
