//! The DHCPv4 engine, sans-IO: a decoded query in, a reply (or the reason for silence) out,
//! as Kea's Dhcpv4Srv answers with the same kea-dhcp4.conf (src/bin/dhcp4/dhcp4_srv.cc:
//! processDiscover, processRequest, processRelease, processDecline, processInform). The caller
//! owns sockets, clocks and the lease file; the engine owns the leases in memory and returns
//! every change it made ([`Engine::take_changes`]) for the caller to record before it answers.

mod alloc;
mod classes;
mod reply;
mod select;

use std::borrow::Cow;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

pub use classes::Classifier;

use super::addressing::{self, Destination};
use super::lease::{Lease, LeaseChange, LeaseState, LeaseTable};
use crate::kea::model::{Config, Reservation, Subnet};
use crate::time::{Epoch, Instant};
use crate::wire::dhcp::Message;

pub const DISCOVER: u8 = 1;
pub const OFFER: u8 = 2;
pub const REQUEST: u8 = 3;
pub const DECLINE: u8 = 4;
pub const ACK: u8 = 5;
pub const NAK: u8 = 6;
pub const RELEASE: u8 = 7;
pub const INFORM: u8 = 8;

/// A query as a transport received it.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Boxed, as is the reply: a message is some 330 bytes (`sname` and `file`), and both
    /// pass through several hands between the socket and the lease file.
    pub msg: Box<Message>,
    /// UDP payload length (pkt.len in expressions).
    pub len: usize,
    /// Shared with the port: a query clones a pointer, not the name.
    pub iface: std::sync::Arc<str>,
    /// The receiving interface's address: the server identifier, and the address subnets are
    /// selected by for directly connected clients.
    pub iface_addr: Ipv4Addr,
    pub source: SocketAddrV4,
    pub destination: Ipv4Addr,
    /// The transport can unicast to a client without an address (AF_PACKET, in-memory hub).
    pub direct_response: bool,
}

/// Why no reply was sent (Kea logs the same decisions at debug level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Silence {
    NoMessageType,
    UnsupportedType(u8),
    NoSubnet,
    /// A REQUEST in SELECTING state for another server.
    OtherServer(Ipv4Addr),
    /// Not authoritative and the client's address is not ours to judge.
    NotAuthoritative,
    NoAddress,
    /// RELEASE and DECLINE get no answer by design.
    NoReplyExpected,
    /// A RELEASE or DECLINE of an address the client does not hold: ignored, no answer
    /// (Dhcpv4Srv::processRelease and declineLease: `leased` false is Kea's
    /// DHCP4_RELEASE_FAIL_NO_LEASE / DHCP4_DECLINE_LEASE_NOT_FOUND, true its
    /// DHCP4_RELEASE_FAIL_WRONG_CLIENT / DHCP4_DECLINE_LEASE_MISMATCH, after
    /// Lease::belongsToClient).
    NotOwned {
        address: Ipv4Addr,
        leased: bool,
    },
}

impl Silence {
    /// RELEASE and DECLINE, whatever became of them: no answer was due, nothing was dropped.
    pub fn expected(&self) -> bool {
        matches!(self, Silence::NoReplyExpected | Silence::NotOwned { .. })
    }
}

#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per query, moved once; boxing buys nothing
pub enum Outcome {
    Reply {
        msg: Box<Message>,
        dest: Destination,
        /// The classes the query was assigned, in order (for transcripts).
        classes: crate::kea::expr::ClassSet,
        subnet: Option<u32>,
    },
    Silent(Silence),
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("client class {class}: {message}")]
    Class { class: String, message: String },
}

/// The lease changes of one decision (or several), in order, and what each replaced.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    changes: Vec<LeaseChange>,
    before: Vec<Option<Lease>>,
}

impl std::ops::Deref for Changes {
    type Target = [LeaseChange];
    fn deref(&self) -> &[LeaseChange] {
        &self.changes
    }
}

pub struct Engine {
    config: Arc<Config>,
    classifier: Classifier,
    leases: LeaseTable,
    /// Changes not yet taken by the caller, in the order they were made, with the lease each
    /// replaced (so a change the caller could not record can be undone).
    changes: Changes,
    /// Unix time at the clock's origin: lease times are written in it.
    epoch: Epoch,
    /// IterativeAllocator's last address per (subnet id, pool index); hashed with foldhash,
    /// as the keys come from the configuration, not from clients.
    cursor: std::cell::RefCell<
        std::collections::HashMap<(u32, usize), u32, foldhash::fast::RandomState>,
    >,
}

impl Engine {
    /// An engine serving `config` with `leases` (loaded from the lease file, or empty); lease
    /// times are `epoch` plus the instants the caller passes.
    pub fn new(config: Arc<Config>, leases: LeaseTable, epoch: Epoch) -> Result<Self, EngineError> {
        let classifier = Classifier::new(&config)?;
        Ok(Engine {
            config,
            classifier,
            leases,
            changes: Changes::default(),
            epoch,
            cursor: Default::default(),
        })
    }

    /// A new configuration (SIGHUP): classes are recompiled, leases kept.
    pub fn reconfigure(&mut self, config: Arc<Config>) -> Result<(), EngineError> {
        self.classifier = Classifier::new(&config)?;
        self.config = config;
        self.cursor.borrow_mut().clear();
        Ok(())
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn leases(&self) -> &LeaseTable {
        &self.leases
    }

    /// Follows a corrected wall clock (the shell reads it again from time to time).
    pub fn set_epoch(&mut self, epoch: Epoch) {
        self.epoch = epoch;
    }

    /// The lease changes made since the last call, in order: the caller records them (in
    /// the lease file) before it sends the answer that promises them.
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
    }

    /// Takes back `changes` the caller could not record (the lease file refused the write),
    /// so memory agrees with the file again, as Kea's memfile keeps them in step by writing
    /// first (Memfile_LeaseMgr::addLeaseInternal). A lease changed again since is left alone.
    pub fn undo(&mut self, changes: &Changes) {
        for (change, before) in changes.changes.iter().zip(&changes.before).rev() {
            let address = change.lease().address;
            let after = match change {
                LeaseChange::Upsert(l) => Some(l),
                LeaseChange::Delete(_) => None,
            };
            if self.leases.get(address) != after {
                continue;
            }
            match before {
                Some(old) => self.leases.insert(old.clone()),
                None => {
                    self.leases.remove(address);
                }
            }
        }
    }

    /// Adds or replaces a lease, as an operator's command would (Kea's lease4-add/update).
    pub fn put_lease(&mut self, lease: Lease) {
        self.upsert(lease);
    }

    /// Removes the lease of `address`, as an operator's command would (Kea's lease4-del).
    pub fn remove_lease(&mut self, address: Ipv4Addr) -> Option<Lease> {
        let gone = self.leases.get(address).cloned();
        self.delete(address);
        gone
    }

    /// The Unix time at `now`, as leases record it.
    pub fn unix_secs(&self, now: Instant) -> u64 {
        self.epoch.unix_secs(now)
    }

    fn upsert(&mut self, lease: Lease) {
        let before = self.leases.replace(lease.clone());
        self.changes.changes.push(LeaseChange::Upsert(lease));
        self.changes.before.push(before);
    }

    fn delete(&mut self, address: Ipv4Addr) {
        if let Some(gone) = self.leases.remove(address) {
            self.changes.before.push(Some(gone.clone()));
            self.changes.changes.push(LeaseChange::Delete(gone));
        }
    }

    /// Answers one query at `now`.
    pub fn handle(&mut self, now: Instant, q: &Incoming) -> Result<Outcome, EngineError> {
        let now = self.epoch.unix_secs(now);
        let Some(kind) = q.msg.message_type() else {
            return Ok(Outcome::Silent(Silence::NoMessageType));
        };
        if !matches!(kind, DISCOVER | REQUEST | DECLINE | RELEASE | INFORM) {
            return Ok(Outcome::Silent(Silence::UnsupportedType(kind)));
        }
        let mut classes = self.classifier.early(&q.msg, q);
        // The engine is borrowed mutably below: the config is held by its Arc, not copied
        // (a subnet carries its pools and reservations).
        let config = Arc::clone(&self.config);
        let Some(subnet) = select::subnet(&config, q, &classes) else {
            return Ok(Outcome::Silent(Silence::NoSubnet));
        };
        let host = self.reservation(subnet, &q.msg).cloned();
        self.classifier
            .late(&mut classes, &q.msg, q, host.as_ref(), &self.config);
        let effective = self.config.effective(subnet);
        let client = ClientKey::of(&q.msg, effective.match_client_id);
        let ctx = Ctx {
            q,
            subnet,
            effective: &effective,
            host: host.as_ref(),
            classes: &classes,
            client: &client,
            now,
        };
        let outcome = match kind {
            DISCOVER => self.discover(&ctx),
            REQUEST => self.request(&ctx),
            RELEASE => Err(self.release(&ctx).err().unwrap_or(Silence::NoReplyExpected)),
            DECLINE => Err(self.decline(&ctx).err().unwrap_or(Silence::NoReplyExpected)),
            _ => Ok(self.reply(&ctx, ACK, Ipv4Addr::UNSPECIFIED, None)),
        };
        Ok(match outcome {
            Ok((msg, reply_type)) => {
                if reply_type != NAK {
                    if let Some(all) = self.with_required(&ctx, msg.yiaddr) {
                        classes = all;
                    }
                }
                let query = addressing::Query {
                    message_type: kind,
                    ciaddr: q.msg.ciaddr,
                    giaddr: q.msg.giaddr,
                    flags: q.msg.flags,
                    source: q.source,
                    relay_port_option: false,
                };
                let mut msg = msg;
                let dest =
                    addressing::destination(&query, reply_type, msg.yiaddr, q.direct_response);
                msg.flags = dest.flags;
                Outcome::Reply {
                    msg,
                    dest,
                    classes,
                    subnet: Some(subnet.id),
                }
            }
            Err(silence) => Outcome::Silent(silence),
        })
    }

    /// Host reservation of this client in the subnet (reservations-in-subnet), else global
    /// (reservations-global), matched by the configured identifier kinds.
    fn reservation<'a>(&'a self, subnet: &'a Subnet, msg: &Message) -> Option<&'a Reservation> {
        let scope = self.config.effective_reservations(subnet);
        let matches = |r: &&Reservation| reservation_matches(r, msg);
        let in_subnet = scope
            .in_subnet
            .then(|| subnet.reservations.iter().find(matches))
            .flatten();
        in_subnet.or_else(|| {
            scope
                .global
                .then(|| self.config.reservations.iter().find(matches))
                .flatten()
        })
    }
}

fn reservation_matches(r: &Reservation, msg: &Message) -> bool {
    use crate::kea::model::IdentifierKind::*;
    let (kind, id) = &r.identifier;
    match kind {
        HwAddress => msg.hwaddr() == id.as_slice(),
        ClientId => msg.option_ref(61).is_some_and(|c| *c == id[..]),
        CircuitId => msg
            .option_ref(82)
            .and_then(|d| crate::kea::expr::sub_option(&d, 1))
            .is_some_and(|c| &c == id),
        Duid | FlexId => false,
    }
}

/// How the engine recognises a client: client-id when match-client-id and present, else
/// the hardware address (Kea's Lease4 matching in AllocEngine). Borrowed from the query;
/// copied only into a lease it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKey<'q> {
    pub hwaddr: &'q [u8],
    pub client_id: Option<Cow<'q, [u8]>>,
    pub by_client_id: bool,
}

impl<'q> ClientKey<'q> {
    fn of(msg: &'q Message, match_client_id: bool) -> Self {
        let client_id = msg.option_ref(61);
        ClientKey {
            hwaddr: msg.hwaddr(),
            by_client_id: match_client_id && client_id.is_some(),
            client_id,
        }
    }

    /// Kea's Lease4::belongsToClient: the same client id, or, when either side has none,
    /// the same hardware address (so iPXE, which sends option 61, keeps the address the
    /// firmware got without one).
    fn owns(&self, lease: &Lease) -> bool {
        let same_hw = !self.hwaddr.is_empty() && lease.hwaddr == self.hwaddr;
        if !self.by_client_id {
            return same_hw;
        }
        if self.client_id.is_some() && lease.client_id.as_deref() == self.client_id.as_deref() {
            return true;
        }
        (self.client_id.is_none() || lease.client_id.is_none()) && same_hw
    }
}

#[derive(Clone, Copy)]
struct Ctx<'a> {
    q: &'a Incoming,
    subnet: &'a Subnet,
    /// The subnet's parameters after inheritance, resolved once per query (several steps
    /// read them).
    effective: &'a crate::kea::model::Effective,
    host: Option<&'a Reservation>,
    classes: &'a crate::kea::expr::ClassSet,
    client: &'a ClientKey<'a>,
    /// Seconds since the Unix epoch, as leases record time.
    now: u64,
}

type Answer = Result<(Box<Message>, u8), Silence>;

impl Engine {
    /// The classes once the required ones of the shared network, subnet and the pool holding
    /// `yiaddr` are evaluated; None when none are required.
    fn with_required(&self, ctx: &Ctx, yiaddr: Ipv4Addr) -> Option<crate::kea::expr::ClassSet> {
        let network = ctx
            .subnet
            .shared_network
            .map(|n| &self.config.shared_networks[n].scope.require_client_classes);
        let pool = ctx
            .subnet
            .pools
            .iter()
            .find(|p| !yiaddr.is_unspecified() && p.contains(yiaddr))
            .map(|p| &p.require_client_classes);
        let names: Vec<&String> = network
            .into_iter()
            .chain([&ctx.subnet.scope.require_client_classes])
            .chain(pool)
            .flatten()
            .collect();
        if names.is_empty() {
            return None;
        }
        let mut classes = ctx.classes.clone();
        self.classifier
            .required(&mut classes, &names, &ctx.q.msg, ctx.q);
        Some(classes)
    }
}

impl Engine {
    fn discover(&self, ctx: &Ctx) -> Answer {
        let addr = alloc::choose(self, ctx).ok_or(Silence::NoAddress)?;
        Ok(self.reply(ctx, OFFER, addr, Some(self.lifetime(ctx))))
    }

    /// RFC 2131 4.3.2: SELECTING (server id and requested address), INIT-REBOOT (requested
    /// address, no ciaddr), RENEWING/REBINDING (ciaddr).
    fn request(&mut self, ctx: &Ctx) -> Answer {
        let msg = &ctx.q.msg;
        if let Some(id) = msg.option_ref(54) {
            let id = ipv4(&id);
            if id != Some(ctx.q.iface_addr) {
                return Err(Silence::OtherServer(id.unwrap_or(Ipv4Addr::UNSPECIFIED)));
            }
        }
        let requested = msg
            .option_ref(50)
            .and_then(|v| ipv4(&v))
            .unwrap_or(msg.ciaddr);
        let authoritative = ctx.effective.authoritative;
        let ours = self.leases.get(requested).cloned();
        let acceptable = ctx.subnet.prefix.contains(&requested)
            && match &ours {
                Some(lease) => ctx.client.owns(lease) || lease.is_expired(ctx.now),
                None => alloc::allowed(self, ctx, requested),
            };
        if !acceptable {
            // Kea answers NAK when it knows the client (or is authoritative); an unknown client
            // asking for an address we never gave out is someone else's business.
            let knows_client = self
                .leases
                .find_client(
                    ctx.subnet.id,
                    ctx.client.hwaddr,
                    ctx.client.client_id.as_deref(),
                )
                .is_some();
            if authoritative || knows_client || msg.option_ref(54).is_some() {
                return Ok(self.reply(ctx, NAK, Ipv4Addr::UNSPECIFIED, None));
            }
            return Err(Silence::NotAuthoritative);
        }
        let valid = self.lifetime(ctx);
        // The client's other lease in this subnet, if any, goes (one lease per client).
        if let Some(old) = self
            .leases
            .find_client(
                ctx.subnet.id,
                ctx.client.hwaddr,
                ctx.client.client_id.as_deref(),
            )
            .map(|l| l.address)
        {
            if old != requested {
                self.delete(old);
            }
        }
        self.upsert(Lease {
            address: requested,
            hwaddr: ctx.client.hwaddr.to_vec(),
            client_id: ctx.client.client_id.as_deref().map(<[u8]>::to_vec),
            valid_lifetime: valid,
            cltt: ctx.now,
            subnet_id: ctx.subnet.id,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname: ctx
                .host
                .and_then(|h| h.hostname.clone())
                .unwrap_or_default(),
            state: LeaseState::Default,
            user_context: None,
            pool_id: 0,
        });
        Ok(self.reply(ctx, ACK, requested, Some(valid)))
    }

    /// Deletes the client's own lease of ciaddr; anyone else's stays.
    fn release(&mut self, ctx: &Ctx) -> Result<(), Silence> {
        let addr = ctx.q.msg.ciaddr;
        self.owned(ctx, addr)?;
        self.delete(addr);
        Ok(())
    }

    /// `Ok` when `addr` is leased to the querying client.
    fn owned(&self, ctx: &Ctx, addr: Ipv4Addr) -> Result<(), Silence> {
        match self.leases.get(addr) {
            Some(l) if ctx.client.owns(l) => Ok(()),
            other => Err(Silence::NotOwned {
                address: addr,
                leased: other.is_some(),
            }),
        }
    }

    /// The address is in use by someone else: keep it out of the pool for
    /// decline-probation-period (Kea's lease state 1).
    fn decline(&mut self, ctx: &Ctx) -> Result<(), Silence> {
        let Some(addr) = ctx.q.msg.option_ref(50).and_then(|v| ipv4(&v)) else {
            return Ok(());
        };
        self.owned(ctx, addr)?;
        if let Some(mut lease) = self.leases.get(addr).cloned() {
            lease.state = LeaseState::Declined;
            lease.hwaddr.clear();
            lease.client_id = None;
            lease.cltt = ctx.now;
            lease.valid_lifetime = self.config.decline_probation_period;
            self.upsert(lease);
        }
        Ok(())
    }

    /// valid-lifetime, or the client's request (option 51) inside min/max (Kea's
    /// AllocEngine::getValidLft).
    fn lifetime(&self, ctx: &Ctx) -> u32 {
        let e = ctx.effective;
        let mut valid = e.valid_lifetime;
        for class in ctx.classes.iter() {
            if let Some(v) = self.config.class(class).and_then(|c| c.valid_lifetime) {
                valid = v;
                break;
            }
        }
        if let Some(asked) = ctx.q.msg.option_ref(51).filter(|v| v.len() == 4) {
            let asked = u32::from_be_bytes([asked[0], asked[1], asked[2], asked[3]]);
            let scope = &ctx.subnet.scope;
            let min = scope
                .min_valid_lifetime
                .or(self.config.globals.min_valid_lifetime);
            let max = scope
                .max_valid_lifetime
                .or(self.config.globals.max_valid_lifetime);
            if let (Some(min), Some(max)) = (min, max) {
                valid = asked.clamp(min, max);
            }
        }
        valid
    }

    /// One reclamation cycle (expired-leases-processing, Kea's
    /// AllocEngine::reclaimExpiredLeases4): expired leases, declined ones whose probation has
    /// run out included, at most `max-reclaim-leases` of them (0: all), oldest first, become
    /// expired-reclaimed with their hostname and DNS flags cleared, so the client can get
    /// the same address back (lease affinity); with `hold-reclaimed-time` 0 they are removed
    /// at once instead. Every change is returned by [`Engine::take_changes`].
    pub fn reclaim(&mut self, now: Instant) -> usize {
        let settings = &self.config.expired_leases;
        let remove = settings.hold_reclaimed_time == 0;
        let max = settings.max_reclaim_leases as usize;
        self.reclaim_expired(now, remove, max)
    }

    /// Reclaims up to `max` expired leases (0: all), removing them when `remove` (the
    /// `leases-reclaim` command's argument) and keeping them expired-reclaimed otherwise.
    pub fn reclaim_expired(&mut self, now: Instant, remove: bool, max: usize) -> usize {
        let now = self.epoch.unix_secs(now);
        let mut expired: Vec<&Lease> = self
            .leases
            .iter()
            .filter(|l| {
                matches!(l.state, LeaseState::Default | LeaseState::Declined) && l.is_expired(now)
            })
            .collect();
        expired.sort_by_key(|l| (l.expire(), l.address));
        let chosen: Vec<Lease> = expired
            .into_iter()
            .take(if max == 0 { usize::MAX } else { max })
            .cloned()
            .collect();
        for mut lease in chosen.iter().cloned() {
            if remove {
                self.delete(lease.address);
            } else {
                lease.state = LeaseState::ExpiredReclaimed;
                lease.hostname.clear();
                lease.fqdn_fwd = false;
                lease.fqdn_rev = false;
                self.upsert(lease);
            }
        }
        chosen.len()
    }

    /// Removes expired-reclaimed leases held longer than `hold-reclaimed-time` (Kea's
    /// deleteExpiredReclaimedLeases4, run every flush-reclaimed-timer-wait-time).
    pub fn flush_reclaimed(&mut self, now: Instant) -> usize {
        let now = self.epoch.unix_secs(now);
        let hold = u64::from(self.config.expired_leases.hold_reclaimed_time);
        let old: Vec<Ipv4Addr> = self
            .leases
            .iter()
            .filter(|l| l.state == LeaseState::ExpiredReclaimed && l.expire() + hold < now)
            .map(|l| l.address)
            .collect();
        for a in &old {
            self.delete(*a);
        }
        old.len()
    }
}

fn ipv4(v: &[u8]) -> Option<Ipv4Addr> {
    (v.len() == 4).then(|| Ipv4Addr::new(v[0], v[1], v[2], v[3]))
}
