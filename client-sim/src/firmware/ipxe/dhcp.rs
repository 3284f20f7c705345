//! iPXE's DHCP session (src/net/udp/dhcp.c; timers from src/net/retry.c and config/dhcp.h;
//! firmware.md B.2-B.4), sans-IO.
//!
//! Discovery sends at 0, 1, 3, 7 s (the retry timer doubles from 1 s and fails past 10 s, at
//! 15 s). With an offer in hand iPXE still waits, for ProxyDHCP, until more than 2 s have
//! passed (`DHCP_DISC_PROXY_TIMEOUT_SEC`) unless the offer itself is ProxyDHCP-capable, so
//! against a plain server the REQUEST goes out at about 3 s (OBSERVED 0, 0.97, 2.97 s). The
//! latest offer of the highest priority (175.1) wins. Requests at 0, .25, .75, 1.75, ... fail
//! at 15.75 s; a NAK restarts discovery. `secs` carries iPXE's metadata:
//! `count << 2 | have_offer << 1 | have_proxy`.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use netbootd::time::Instant;
use netbootd::wire::dhcp::Message;
use netbootd::wire::frame::{Datagram, BROADCAST_MAC};
use netbootd::wire::MacAddr;

use super::packets::Identity;

/// iPXE's retry timer: starts at `min`, doubles on every expiry, fails once past `max`.
#[derive(Debug, Clone)]
pub struct Retry {
    timeout: Duration,
    max: Duration,
    pub deadline: Instant,
}

impl Retry {
    pub fn start(now: Instant, min: Duration, max: Duration) -> Retry {
        Retry {
            timeout: min,
            max,
            deadline: now + min,
        }
    }

    /// The timer fired: false when the session has now failed.
    pub fn expired(&mut self, now: Instant) -> bool {
        self.timeout *= 2;
        if self.timeout > self.max {
            return false;
        }
        self.deadline = now + self.timeout;
        true
    }
}

/// What the DHCPACK gave iPXE (its `net0.dhcp` settings block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub ack: Message,
    pub server: Ipv4Addr,
    pub address: Ipv4Addr,
    /// The ProxyDHCP answer iPXE registered as its `proxydhcp` settings, if any.
    pub proxy: Option<Box<Message>>,
}

impl Lease {
    fn ipv4(&self, code: u8) -> Option<Ipv4Addr> {
        let v = self.ack.option(code)?;
        (v.len() >= 4).then(|| Ipv4Addr::new(v[0], v[1], v[2], v[3]))
    }

    pub fn netmask(&self) -> Option<Ipv4Addr> {
        self.ipv4(1)
    }

    pub fn gateway(&self) -> Option<Ipv4Addr> {
        self.ipv4(3)
    }

    /// `next-server`: the siaddr field (175.3 maps to it) of the settings block the file
    /// name comes from (autoboot.c `fetch_next_server_and_filename`); option 66 is never
    /// used.
    pub fn next_server(&self) -> Option<Ipv4Addr> {
        let block = self.boot_block();
        (!block.siaddr.is_unspecified()).then_some(block.siaddr)
    }

    /// `filename`: a non-empty `file` field wins over option 67 (dhcppkt.c `dhcppkt_fetch`);
    /// the DHCPACK's (`net0.dhcp`) before the ProxyDHCP answer's.
    pub fn filename(&self) -> Option<String> {
        file_of(self.boot_block())
    }

    /// The first settings block with a file name, searched as iPXE does: net0.dhcp, then
    /// proxydhcp (`reprioritise_settings`).
    fn boot_block(&self) -> &Message {
        if file_of(&self.ack).is_some() {
            return &self.ack;
        }
        match &self.proxy {
            Some(p) if file_of(p).is_some() => p.as_ref(),
            _ => &self.ack,
        }
    }
}

fn file_of(m: &Message) -> Option<String> {
    let field = c_string(&m.file);
    if !field.is_empty() {
        return Some(field);
    }
    m.option(67)
        .map(|v| {
            String::from_utf8_lossy(&v)
                .trim_end_matches('\0')
                .to_string()
        })
        .filter(|s| !s.is_empty())
}

/// `dhcp_has_pxeopts`: a boot server and file, or a PXE boot menu (43.9).
fn has_pxeopts(m: &Message) -> bool {
    let menu = m.option(43).is_some_and(|v| {
        let mut i = 0;
        while i + 1 < v.len() {
            if v[i] == 9 {
                return true;
            }
            i += 2 + v[i + 1] as usize;
        }
        false
    });
    (!m.siaddr.is_unspecified() && file_of(m).is_some()) || menu
}

pub fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[derive(Debug)]
enum State {
    Discovering {
        offer: Option<(u8, Message)>,
        proxy: bool,
    },
    /// After the ACK, asking the ProxyDHCP server on UDP 4011 for its PXE options
    /// (`dhcp_proxy_tx`): given up, without ProxyDHCP, after more than 2 s
    /// (`DHCP_REQ_PROXY_TIMEOUT_SEC`).
    ProxyRequesting {
        lease: Box<Lease>,
        proxy_server: Ipv4Addr,
        proxy_mac: MacAddr,
        started: Instant,
    },
    Requesting {
        offer: Message,
        server: Ipv4Addr,
    },
    Done(Box<Result<Lease, DhcpFailure>>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhcpFailure {
    /// No answer in time: iPXE prints "No configuration methods succeeded".
    TimedOut,
}

pub struct DhcpSession {
    id: Identity,
    xid: u32,
    started: Instant,
    count: u16,
    retry: Retry,
    state: State,
    /// The latest PXE-capable offer (option 60 "PXEClient"), its server and MAC.
    proxy_offer: Option<(u8, Message, Ipv4Addr, MacAddr)>,
    out: VecDeque<Datagram>,
    pub sent: Vec<(Instant, String)>,
}

fn server_id(m: &Message, source: Ipv4Addr) -> Ipv4Addr {
    // The pseudo server id: option 54, else siaddr, else the source address.
    m.option(54)
        .filter(|v| v.len() >= 4)
        .map(|v| Ipv4Addr::new(v[0], v[1], v[2], v[3]))
        .or_else(|| (!m.siaddr.is_unspecified()).then_some(m.siaddr))
        .unwrap_or(source)
}

/// Option 175.1 (priority), a signed byte; 0 when absent.
fn priority(m: &Message) -> i8 {
    let Some(encapsulated) = m.option(175) else {
        return 0;
    };
    let mut i = 0;
    while i + 1 < encapsulated.len() {
        let (tag, len) = (encapsulated[i], encapsulated[i + 1] as usize);
        if tag == 1 && len == 1 && i + 2 < encapsulated.len() {
            return encapsulated[i + 2] as i8;
        }
        i += 2 + len;
    }
    0
}

impl DhcpSession {
    pub fn new(id: Identity, xid: u32, now: Instant) -> DhcpSession {
        let mut s = DhcpSession {
            id,
            xid,
            started: now,
            count: 0,
            retry: Retry::start(now, Duration::from_secs(1), Duration::from_secs(10)),
            state: State::Discovering {
                offer: None,
                proxy: false,
            },
            proxy_offer: None,
            out: VecDeque::new(),
            sent: Vec::new(),
        };
        s.transmit(now);
        s
    }

    fn secs(&mut self) -> u16 {
        self.count += 1;
        let (offer, proxy) = match &self.state {
            State::Discovering { offer, proxy } => (offer.is_some(), *proxy),
            State::Requesting { .. } => (true, self.proxy_offer.is_some()),
            State::ProxyRequesting { .. } => (true, true),
            State::Done(_) => (false, false),
        };
        (self.count << 2) | (u16::from(offer) << 1) | u16::from(proxy)
    }

    fn transmit(&mut self, now: Instant) {
        let secs = self.secs();
        let (msg, what) = match &self.state {
            State::Discovering { .. } => (self.id.discover(self.xid, secs), "DHCPDISCOVER"),
            State::Requesting { offer, server } => (
                self.id.request(self.xid, secs, *server, offer.yiaddr),
                "DHCPREQUEST",
            ),
            State::ProxyRequesting {
                lease,
                proxy_server,
                proxy_mac,
                ..
            } => {
                let mut m = self
                    .id
                    .request(self.xid, secs, *proxy_server, lease.address);
                m.ciaddr = lease.address;
                self.sent.push((now, "ProxyDHCP REQUEST".into()));
                self.out.push_back(Datagram::new(
                    self.id.mac,
                    *proxy_mac,
                    SocketAddrV4::new(lease.address, 68),
                    SocketAddrV4::new(*proxy_server, 4011),
                    m.encode(),
                ));
                return;
            }
            State::Done(_) => return,
        };
        self.sent.push((now, what.to_string()));
        self.out.push_back(Datagram::new(
            self.id.mac,
            BROADCAST_MAC,
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
            SocketAddrV4::new(Ipv4Addr::BROADCAST, 67),
            msg.encode(),
        ));
    }

    pub fn poll_transmit(&mut self) -> Option<Datagram> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        (!matches!(self.state, State::Done(_))).then_some(self.retry.deadline)
    }

    pub fn outcome(&self) -> Option<&Result<Lease, DhcpFailure>> {
        match &self.state {
            State::Done(r) => Some(r),
            _ => None,
        }
    }

    fn request(&mut self, now: Instant, offer: Message) {
        let server = server_id(&offer, Ipv4Addr::UNSPECIFIED);
        self.state = State::Requesting { offer, server };
        self.retry = Retry::start(now, Duration::from_millis(250), Duration::from_secs(10));
        self.transmit(now);
    }

    /// With an offer, iPXE requests once ProxyDHCP had its chance (more than 2 s).
    /// `expired`: the discovery timer fired. `dhcp_timer_expired` (src/net/udp/dhcp.c)
    /// counts every expiry, also this one that sends nothing and only moves to the request
    /// state, whose own no-delay expiry counts again: the REQUEST after two DISCOVERs goes
    /// with count 4, secs 18 (OBSERVED under QEMU with Debian's 2019 build, three runs).
    fn maybe_request(&mut self, now: Instant, expired: bool) -> bool {
        if let State::Discovering {
            offer: Some((_, offer)),
            proxy,
        } = &self.state
        {
            if *proxy || now.saturating_duration_since(self.started) > Duration::from_secs(2) {
                let offer = offer.clone();
                if expired {
                    self.count += 1;
                }
                self.request(now, offer);
                return true;
            }
        }
        false
    }

    pub fn handle(&mut self, now: Instant, d: &Datagram) {
        let from_proxy = d.src.port() == 4011;
        if (d.src.port() != 67 && !from_proxy) || d.dst.port() != 68 {
            return;
        }
        let Ok(m) = Message::decode(&d.payload) else {
            return;
        };
        if m.op != 2 || m.xid != self.xid || m.client_mac() != self.id.mac {
            return;
        }
        if let State::ProxyRequesting { .. } = &self.state {
            // dhcp_proxy_rx: an OFFER or ACK from port 4011 carrying PXE options.
            if from_proxy && matches!(m.message_type(), Some(2) | Some(5)) && has_pxeopts(&m) {
                if let State::ProxyRequesting { mut lease, .. } = std::mem::replace(
                    &mut self.state,
                    State::Done(Box::new(Err(DhcpFailure::TimedOut))),
                ) {
                    lease.proxy = Some(Box::new(m));
                    self.state = State::Done(Box::new(Ok(*lease)));
                }
            }
            return;
        }
        if from_proxy {
            return;
        }
        if matches!(self.state, State::Discovering { .. })
            && matches!(m.message_type(), None | Some(2))
        {
            // A ProxyDHCP candidate: option 60 "PXEClient" and a server id (a plain DHCP
            // offer that carries PXEClient counts too).
            let pxe = m
                .option(60)
                .is_some_and(|v| v.len() >= 9 && v.starts_with(b"PXEClient"));
            let id = server_id(&m, *d.src.ip());
            if pxe && !id.is_unspecified() {
                let p = priority(&m) as u8;
                if self
                    .proxy_offer
                    .as_ref()
                    .is_none_or(|(best, ..)| (p as i8) >= (*best as i8))
                {
                    self.proxy_offer = Some((p, m.clone(), id, d.src_mac));
                }
            }
        }
        let have_proxy = self.proxy_offer.is_some();
        match &mut self.state {
            State::Discovering { offer, proxy } => {
                if !matches!(m.message_type(), None | Some(2)) {
                    return;
                }
                if have_proxy {
                    *proxy = true;
                }
                if !m.yiaddr.is_unspecified() {
                    let p = priority(&m) as u8;
                    // The latest offer of the highest priority wins (ties replace).
                    if offer
                        .as_ref()
                        .is_none_or(|(best, _)| (p as i8) >= (*best as i8))
                    {
                        *offer = Some((p, m));
                    }
                }
                self.maybe_request(now, false);
            }
            State::Requesting { offer, server } => {
                let from = server_id(&m, *d.src.ip());
                match m.message_type() {
                    Some(6) if from == *server => {
                        // A NAK: back to discovery.
                        self.started = now;
                        self.state = State::Discovering {
                            offer: None,
                            proxy: false,
                        };
                        self.retry =
                            Retry::start(now, Duration::from_secs(1), Duration::from_secs(10));
                        self.transmit(now);
                    }
                    None | Some(5) if from == *server && m.yiaddr == offer.yiaddr => {
                        let mut lease = Lease {
                            server: *server,
                            address: m.yiaddr,
                            ack: m,
                            proxy: None,
                        };
                        match self.proxy_offer.take() {
                            Some((_, p, _, _)) if has_pxeopts(&p) => {
                                lease.proxy = Some(Box::new(p));
                                self.state = State::Done(Box::new(Ok(lease)));
                            }
                            Some((_, _, proxy_server, proxy_mac)) => {
                                self.state = State::ProxyRequesting {
                                    lease: Box::new(lease),
                                    proxy_server,
                                    proxy_mac,
                                    started: now,
                                };
                                self.retry = Retry::start(
                                    now,
                                    Duration::from_millis(250),
                                    Duration::from_secs(10),
                                );
                                self.transmit(now);
                            }
                            None => self.state = State::Done(Box::new(Ok(lease))),
                        }
                    }
                    _ => {}
                }
            }
            State::ProxyRequesting { .. } | State::Done(_) => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.state, State::Done(_)) || now < self.retry.deadline {
            return;
        }
        if let State::ProxyRequesting { started, .. } = &self.state {
            // No ProxyDHCP answer within 2 s: carry on with the DHCP lease alone.
            if now.saturating_duration_since(*started) > Duration::from_secs(2)
                || !self.retry.expired(now)
            {
                if let State::ProxyRequesting { lease, .. } = std::mem::replace(
                    &mut self.state,
                    State::Done(Box::new(Err(DhcpFailure::TimedOut))),
                ) {
                    self.state = State::Done(Box::new(Ok(*lease)));
                }
                return;
            }
            return self.transmit(now);
        }
        if !self.retry.expired(now) {
            self.state = State::Done(Box::new(Err(DhcpFailure::TimedOut)));
            return;
        }
        if self.maybe_request(now, true) {
            return;
        }
        self.transmit(now);
    }
}
