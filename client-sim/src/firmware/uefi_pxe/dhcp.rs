//! EDK2's PXE DHCP phase as a sans-IO state machine: DORA, the BINL request when an offer
//! asks for it, and the boot server and file that the TFTP phase will use.
//!
//! Timing (firmware.md A.4): Dhcp4Dxe counts timeouts down on a 1-second periodic tick
//! (`Dhcp4Io.c: DhcpOnTimerTick`), with `mPxeDhcpTimeout = {4, 8, 16, 32}` and 4 tries
//! (`PxeBcDhcp4.c`, `PXEBC_DHCP_RETRIES`). The first window therefore closes one tick phase
//! plus 3 s after Start (OBSERVED 3.12 s), later ones exactly on later ticks. At every expiry
//! the cached offers go through selection; nothing acceptable → the DISCOVER is sent again.
//! `secs` is the elapsed time in whole seconds, rounded up (fits OBSERVED 0/4/12/28).

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use netbootd::time::Instant;
use netbootd::wire::dhcp::Message;
use netbootd::wire::frame::{Datagram, BROADCAST_MAC};
use netbootd::wire::MacAddr;

use super::offer::{self, Discarded, Offer, OfferCache, OfferKind, Selection};
use super::packets::Identity;
use super::PxeError;

/// `mPxeDhcpTimeout`, also Dhcp4Dxe's default request timeouts.
const DHCP_TIMEOUTS: [u64; 4] = [4, 8, 16, 32];
/// `PXEBC_BOOT_REQUEST_TIMEOUT`/`RETRIES` for the 4011 request: 1, 2, 3, 4 s
/// (OBSERVED requests at t=0, +1, +3, +6).
const BINL_TIMEOUTS: [u64; 4] = [1, 2, 3, 4];
pub const BINL_PORT: u16 = 4011;

/// Something the DHCP phase wants the world (and the transcript) to know.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Sent {
        at: Instant,
        what: &'static str,
    },
    OfferCached {
        at: Instant,
        from: Option<Ipv4Addr>,
        kind: OfferKind,
    },
    OfferDiscarded {
        at: Instant,
        from: Option<Ipv4Addr>,
        why: Discarded,
    },
    Selected {
        at: Instant,
        rule: u8,
        offer: Ipv4Addr,
    },
    Console {
        at: Instant,
        line: String,
    },
}

/// Where the boot file lives, as `PxeBcDhcp4BootInfo` decides it (A.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootInfo {
    pub station: Ipv4Addr,
    pub server: Ipv4Addr,
    pub server_mac: MacAddr,
    pub file: String,
    /// Option 13 × 512, when the offer gave it (then no TFTP size probe).
    pub size_hint: Option<u64>,
}

#[derive(Debug)]
enum State {
    Idle,
    Selecting {
        tries: usize,
        deadline: Instant,
        secs: u16,
    },
    Requesting {
        selection: Selection,
        tries: usize,
        deadline: Instant,
        secs: u16,
    },
    Binl {
        ack: Box<Offer>,
        ack_mac: MacAddr,
        targets: Vec<Ipv4Addr>,
        target: usize,
        tries: usize,
        xid: u32,
        deadline: Instant,
        reply: Option<Box<Offer>>,
    },
    Done(Result<BootInfo, PxeError>),
}

pub struct DhcpPhase {
    id: Identity,
    xid: u32,
    tick_phase: Duration,
    started: Instant,
    cache: OfferCache,
    state: State,
    outbox: VecDeque<Datagram>,
    events: Vec<Event>,
    /// MAC of the server each cached offer came from (ARP is not emulated: unicasts go to the
    /// MAC the server's own frames came from).
    offer_macs: Vec<MacAddr>,
}

fn secs_since(start: Instant, now: Instant) -> u16 {
    let d = now.saturating_duration_since(start);
    let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    whole.min(u64::from(u16::MAX)) as u16
}

fn broadcast(id: &Identity, m: &Message) -> Datagram {
    Datagram::new(
        id.mac,
        BROADCAST_MAC,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
        SocketAddrV4::new(Ipv4Addr::BROADCAST, 67),
        m.encode(),
    )
}

impl DhcpPhase {
    /// `xid` is the session's transaction id (EDK2 seeds it randomly per service);
    /// `tick_phase` is how far into its first second Dhcp4Dxe's tick falls (0..1 s).
    pub fn new(id: Identity, xid: u32, tick_phase: Duration) -> Self {
        DhcpPhase {
            id,
            xid,
            tick_phase: tick_phase.min(Duration::from_millis(999)),
            started: Instant::ZERO,
            cache: OfferCache::default(),
            state: State::Idle,
            outbox: VecDeque::new(),
            events: Vec::new(),
            offer_macs: Vec::new(),
        }
    }

    /// `EfiPxeBcStart` then the first DISCOVER; EDK2 prints one dot for it.
    pub fn start(&mut self, now: Instant) {
        self.started = now;
        self.console(now, ">>Start PXE over IPv4.");
        self.send_discover(now, 0);
    }

    fn console(&mut self, at: Instant, line: &str) {
        self.events.push(Event::Console {
            at,
            line: line.to_string(),
        });
    }

    fn send_discover(&mut self, now: Instant, tries: usize) {
        let secs = secs_since(self.started, now);
        let m = self.id.discover(self.xid, secs);
        self.outbox.push_back(broadcast(&self.id, &m));
        self.events.push(Event::Sent {
            at: now,
            what: "DHCPDISCOVER",
        });
        let first = tries == 0;
        let window = Duration::from_secs(DHCP_TIMEOUTS[tries]);
        let deadline = if first {
            now + self.tick_phase + window - Duration::from_secs(1)
        } else {
            now + window
        };
        self.state = State::Selecting {
            tries,
            deadline,
            secs,
        };
    }

    pub fn poll_transmit(&mut self) -> Option<Datagram> {
        self.outbox.pop_front()
    }

    /// The events so far, in order; the list keeps its buffer (a download adds an event
    /// per window).
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, Event> {
        self.events.drain(..)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Selecting { deadline, .. }
            | State::Requesting { deadline, .. }
            | State::Binl { deadline, .. } => Some(*deadline),
            State::Idle | State::Done(_) => None,
        }
    }

    pub fn outcome(&self) -> Option<&Result<BootInfo, PxeError>> {
        match &self.state {
            State::Done(r) => Some(r),
            _ => None,
        }
    }

    /// The offers heard so far, for the transcript.
    pub fn offers(&self) -> &[Offer] {
        &self.cache.offers
    }

    fn finish(&mut self, now: Instant, result: Result<BootInfo, PxeError>) {
        if let Err(e) = &result {
            self.console(now, &format!("  {e}"));
        }
        self.state = State::Done(result);
    }

    /// Dhcp4Dxe's input filter (`DhcpInput`): a reply for us, right xid and chaddr.
    fn ours(&self, m: &Message, xid: u32) -> bool {
        m.op == 2 && m.xid == xid && m.hwaddr() == self.id.mac.as_bytes()
    }

    pub fn handle(&mut self, now: Instant, d: &Datagram) {
        let Ok(m) = Message::decode(&d.payload) else {
            return;
        };
        let for_us = d.dst.port() == 68 && self.ours(&m, self.xid);
        match &mut self.state {
            State::Selecting { .. } if for_us => {
                let is_offer = matches!(m.message_type(), None | Some(2));
                // `DhcpHandleSelect`: a DHCP offer must carry a server id.
                if !is_offer || (m.message_type().is_some() && m.option(54).is_none()) {
                    return;
                }
                let from = m
                    .option(54)
                    .and_then(|v| v.get(..4).map(|b| [b[0], b[1], b[2], b[3]]));
                let from = from.map(Ipv4Addr::from);
                match offer::classify(m, now).and_then(|o| {
                    let kind = o.kind;
                    self.cache.insert(o).map(|_| kind)
                }) {
                    Ok(kind) => {
                        self.offer_macs.push(d.src_mac);
                        self.events.push(Event::OfferCached {
                            at: now,
                            from,
                            kind,
                        });
                    }
                    Err(why) => self
                        .events
                        .push(Event::OfferDiscarded { at: now, from, why }),
                }
            }
            State::Requesting { selection, .. } if for_us => {
                let chosen = &self.cache.offers[selection.offer];
                match m.message_type() {
                    Some(6) => {
                        let e = PxeError::E07("DHCPNAK received".into());
                        self.finish(now, Err(e));
                    }
                    Some(5) | None => {
                        // `DhcpHandleRequest`: same server id, same address, or not ours.
                        if m.option(54).map(|v| v.to_vec())
                            != chosen.server_id.map(|s| s.octets().to_vec())
                        {
                            return;
                        }
                        if m.yiaddr != chosen.message.yiaddr {
                            let e = PxeError::E07(format!(
                                "ACK for {} but the offer was {}: DHCPDECLINE",
                                m.yiaddr, chosen.message.yiaddr
                            ));
                            self.finish(now, Err(e));
                            return;
                        }
                        let selection = selection.clone();
                        self.bound(now, m, d.src_mac, selection);
                    }
                    _ => {}
                }
            }
            State::Binl {
                xid, reply, ack, ..
            } if d.dst.port() == BINL_PORT && m.op == 2 && m.xid == *xid => {
                if m.hwaddr() != ack.message.hwaddr() || reply.is_some() {
                    return;
                }
                if let Ok(o) = offer::classify(m, now) {
                    if o.kind == OfferKind::ProxyPxe10 || o.boot_file.is_some() {
                        *reply = Some(Box::new(o));
                    }
                }
            }
            _ => {}
        }
    }

    /// The ACK is in: print the station address, then BINL or straight to the boot info.
    fn bound(&mut self, now: Instant, ack: Message, ack_mac: MacAddr, selection: Selection) {
        self.console(now, &format!("  Station IP address is {}", ack.yiaddr));
        let Ok(ack) = offer::classify(ack, now) else {
            return self.finish(now, Err(PxeError::E99("unusable DHCPACK".into())));
        };
        let chosen_kind = self.cache.offers[selection.offer].kind;
        let binl_targets: Vec<Ipv4Addr> = match chosen_kind {
            OfferKind::DhcpBinl => {
                let siaddr = ack.message.siaddr;
                let target = if siaddr.is_unspecified() {
                    ack.server_id.unwrap_or(siaddr)
                } else {
                    siaddr
                };
                vec![target]
            }
            OfferKind::DhcpOnly if !selection.proxy.is_empty() => {
                let proxies: Vec<&Offer> = selection
                    .proxy
                    .iter()
                    .map(|&i| &self.cache.offers[i])
                    .collect();
                if proxies[0].kind == OfferKind::ProxyBinl {
                    proxies
                        .iter()
                        .map(|p| {
                            let s = p.message.siaddr;
                            if s.is_unspecified() {
                                p.server_id.unwrap_or(s)
                            } else {
                                s
                            }
                        })
                        .collect()
                } else {
                    let proxy = proxies[0].clone();
                    return self.boot_info(now, &ack, ack_mac, Some(&proxy));
                }
            }
            _ => Vec::new(),
        };
        if binl_targets.is_empty() {
            return self.boot_info(now, &ack, ack_mac, None);
        }
        // A new xid for the boot-server exchange (`PxeBcRetryBinlOffer` → `Dhcp4->Build`).
        let xid = self.xid.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        self.state = State::Binl {
            ack: Box::new(ack),
            ack_mac,
            targets: binl_targets,
            target: 0,
            tries: 0,
            xid,
            deadline: now,
            reply: None,
        };
        self.send_binl(now);
    }

    fn send_binl(&mut self, now: Instant) {
        let State::Binl {
            ack,
            ack_mac,
            targets,
            target,
            tries,
            xid,
            deadline,
            ..
        } = &mut self.state
        else {
            return;
        };
        // OBSERVED (capD): secs 0, 1, 2, 3 at t = 0, +1, +3, +6: the try number, not time.
        let m = self
            .id
            .binl_request(*xid, *tries as u16, ack.message.yiaddr);
        let d = Datagram::new(
            self.id.mac,
            *ack_mac,
            SocketAddrV4::new(ack.message.yiaddr, BINL_PORT),
            SocketAddrV4::new(targets[*target], BINL_PORT),
            m.encode(),
        );
        *deadline = now + Duration::from_secs(BINL_TIMEOUTS[*tries]);
        self.outbox.push_back(d);
        self.events.push(Event::Sent {
            at: now,
            what: "DHCPREQUEST to port 4011",
        });
    }

    /// `PxeBcDhcp4BootInfo`: the PXE reply, else the proxy offer, else the ACK decides.
    fn boot_info(&mut self, now: Instant, ack: &Offer, ack_mac: MacAddr, proxy: Option<&Offer>) {
        let source = proxy.unwrap_or(ack);
        if source.kind == OfferKind::ProxyPxe10 || source.kind == OfferKind::DhcpPxe10 {
            // A.7: 43.6 bit 3 with a boot file skips the menu; a menu whose first item is
            // type 0, or no menu at all, means local boot.
            let skip_menu = source.discovery_control & 0x08 != 0 && source.boot_file.is_some();
            if !skip_menu && source.first_menu_type.unwrap_or(0) == 0 {
                return self.finish(now, Err(PxeError::E21));
            }
            if !skip_menu {
                let e = PxeError::E99("PXE boot server discovery is not emulated".into());
                return self.finish(now, Err(e));
            }
        }
        let server = if source.message.siaddr.is_unspecified() {
            source.server_id.unwrap_or(Ipv4Addr::UNSPECIFIED)
        } else {
            source.message.siaddr
        };
        self.console(now, &format!("  Server IP address is {server}"));
        let Some(file) = source.boot_file.clone() else {
            return self.finish(now, Err(PxeError::E53));
        };
        self.console(now, &format!("  NBP filename is {file}"));
        let size_hint = source
            .message
            .option(13)
            .filter(|v| v.len() == 2)
            .map(|v| u64::from(u16::from_be_bytes([v[0], v[1]])) * 512);
        let info = BootInfo {
            station: ack.message.yiaddr,
            server,
            server_mac: ack_mac,
            file,
            size_hint,
        };
        self.state = State::Done(Ok(info));
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match self.poll_timeout() {
            Some(deadline) if now >= deadline => {}
            _ => return,
        }
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Selecting { tries, secs, .. } => {
                if let Some(selection) = offer::select(&self.cache) {
                    let chosen = &self.cache.offers[selection.offer];
                    let server = chosen.server_id.unwrap_or(chosen.message.siaddr);
                    let address = chosen.message.yiaddr;
                    self.events.push(Event::Selected {
                        at: now,
                        rule: selection.rule,
                        offer: address,
                    });
                    if chosen.kind == OfferKind::Bootp {
                        // A BOOTP reply needs no REQUEST.
                        let ack = chosen.message.clone();
                        let mac = self.offer_macs[selection.offer];
                        return self.bound(now, ack, mac, selection);
                    }
                    let m = self.id.request(self.xid, secs, server, address);
                    self.outbox.push_back(broadcast(&self.id, &m));
                    self.events.push(Event::Sent {
                        at: now,
                        what: "DHCPREQUEST",
                    });
                    self.state = State::Requesting {
                        selection,
                        tries: 0,
                        deadline: now + Duration::from_secs(DHCP_TIMEOUTS[0]),
                        secs,
                    };
                } else if tries + 1 < DHCP_TIMEOUTS.len() {
                    self.send_discover(now, tries + 1);
                } else if self.cache.offers.is_empty() && !self.cache.proxy_heard {
                    self.finish(now, Err(PxeError::E18));
                } else {
                    self.finish(now, Err(PxeError::E16));
                }
            }
            State::Requesting {
                selection,
                tries,
                secs,
                ..
            } => {
                if tries + 1 >= DHCP_TIMEOUTS.len() {
                    return self.finish(now, Err(PxeError::E18));
                }
                let chosen = &self.cache.offers[selection.offer];
                let server = chosen.server_id.unwrap_or(chosen.message.siaddr);
                let m = self
                    .id
                    .request(self.xid, secs, server, chosen.message.yiaddr);
                self.outbox.push_back(broadcast(&self.id, &m));
                self.events.push(Event::Sent {
                    at: now,
                    what: "DHCPREQUEST",
                });
                self.state = State::Requesting {
                    selection,
                    tries: tries + 1,
                    deadline: now + Duration::from_secs(DHCP_TIMEOUTS[tries + 1]),
                    secs,
                };
            }
            State::Binl {
                ack,
                ack_mac,
                targets,
                target,
                tries,
                xid,
                reply,
                ..
            } => {
                // `TransmitReceive` waits the whole timeout, then looks at what came.
                if let Some(reply) = reply {
                    return self.boot_info(now, &ack, ack_mac, Some(&reply));
                }
                let (target, tries) = if tries + 1 < BINL_TIMEOUTS.len() {
                    (target, tries + 1)
                } else if target + 1 < targets.len() {
                    (target + 1, 0)
                } else {
                    return self.finish(now, Err(PxeError::E16));
                };
                self.state = State::Binl {
                    ack,
                    ack_mac,
                    targets,
                    target,
                    tries,
                    xid,
                    deadline: now,
                    reply: None,
                };
                self.send_binl(now);
            }
            other => self.state = other,
        }
    }
}
