//! Counting the frames a client sent again, for the transcript's `retransmissions` line.

use netbootd::wire::frame::Datagram;
use netbootd::wire::Payload;

/// Counts the frames a client sent again: a DHCP message of the same type as the one before
/// it, a TFTP request or acknowledgement repeating the last one sent from that port.
#[derive(Debug, Default)]
pub(super) struct Retransmits {
    pub(super) count: u32,
    last_dhcp: Option<u8>,
    /// The last TFTP packet sent from each source port (a chain uses a handful: a scan of
    /// them costs less than hashing the port on every ACK).
    last_tftp: Vec<(u16, Payload)>,
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
            let port = d.src.port();
            match self.last_tftp.iter_mut().find(|(p, _)| *p == port) {
                Some((_, last)) if *last == d.payload => self.count += 1,
                Some((_, last)) => *last = d.payload.clone(),
                None => self.last_tftp.push((port, d.payload.clone())),
            }
        }
    }
}
