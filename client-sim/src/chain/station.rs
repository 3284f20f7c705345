//! The chain as a [`Station`] of the segment: frames and timers go to the stage running
//! now, and the chain moves on to the next stage when one has finished and everything it
//! queued has left.

use netbootd::time::Instant;
use netbootd::wire::frame::Datagram;
use netbootd::wire::MacAddr;

use super::{ChainClient, Running};
use crate::net::lan::Station;

impl Station for ChainClient {
    fn poll_transmit(&mut self) -> Option<Datagram> {
        loop {
            let d = match &mut self.stage {
                Running::Pxe { machine, .. } => machine.poll_transmit(),
                Running::Ipxe { machine, .. } => machine.poll_transmit(),
                Running::Done => return None,
            };
            if let Some(d) = d {
                self.retransmits.observe(&d);
                self.t.retransmissions = self.retransmits.count;
                return Some(d);
            }
            // Everything the stage had queued has left: it may now be finished.
            let before = std::mem::discriminant(&self.stage);
            let steps = self.t.steps.len();
            self.advance(self.now);
            if std::mem::discriminant(&self.stage) == before && self.t.steps.len() == steps {
                return None;
            }
        }
    }

    fn handle(&mut self, now: Instant, d: &Datagram) {
        self.now = now;
        match &mut self.stage {
            Running::Pxe { machine, .. } => machine.handle(now, d),
            Running::Ipxe { machine, .. } => machine.handle(now, d),
            Running::Done => return,
        }
        self.advance(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        match &mut self.stage {
            Running::Pxe { machine, .. } => machine.handle_timeout(now),
            Running::Ipxe { machine, .. } => machine.handle_timeout(now),
            Running::Done => return,
        }
        self.advance(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match &self.stage {
            Running::Pxe { machine, .. } => machine.poll_timeout(),
            Running::Ipxe { machine, .. } => machine.poll_timeout(),
            Running::Done => None,
        }
    }

    fn finished(&self) -> bool {
        matches!(self.stage, Running::Done)
    }

    fn mac(&self) -> Option<MacAddr> {
        Some(self.client.mac)
    }
}
