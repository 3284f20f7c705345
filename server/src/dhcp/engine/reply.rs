//! Building the reply: Kea's copyDefaultFields, setFixedFields (subnet, then the first class
//! that sets each of siaddr/sname/file, then the host reservation), the option list in
//! buildCfgOptionList's precedence (host, pool, subnet, shared network, classes in order,
//! global), appendRequestedOptions (option 55 and always-send), appendBasicOptions (routers,
//! domain-name-servers, domain-name), lease time and T1/T2 (setTeeTimes), then option 82 and
//! client-id echoed. Option 60 is never sent unless the configuration itself sets it and the
//! client asks: echoing `PXEClient` sends EDK2 to port 4011 (firmware.md A.6).

use std::borrow::Cow;
use std::net::Ipv4Addr;

use crate::kea::model::OptionData;
use crate::wire::dhcp::Message;

use super::{Ctx, Engine, ACK, NAK, OFFER};

fn set_text(field: &mut [u8], text: &str) {
    field.fill(0);
    let n = text.len().min(field.len());
    field[..n].copy_from_slice(&text.as_bytes()[..n]);
}

/// The reply's options by code, ascending (the order they are written in), each value
/// borrowed from the configuration (or the query) where it comes from there, or four bytes
/// made here: a reply copies each value once, into the message, and allocates for none.
/// Sixteen inline: a usual reply's options fit on the stack.
#[derive(Default)]
struct Chosen<'a>(smallvec::SmallVec<[(u8, Value<'a>); 16]>);

/// One option value of a reply.
enum Value<'a> {
    Taken(Cow<'a, [u8]>),
    /// An address or a time (server identifier, netmask, lease time, T1, T2).
    Four([u8; 4]),
}

impl std::ops::Deref for Value<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Value::Taken(v) => v,
            Value::Four(v) => v,
        }
    }
}

impl<'a> From<Cow<'a, [u8]>> for Value<'a> {
    fn from(v: Cow<'a, [u8]>) -> Self {
        Value::Taken(v)
    }
}

impl From<[u8; 4]> for Value<'_> {
    fn from(v: [u8; 4]) -> Self {
        Value::Four(v)
    }
}

impl<'a> Chosen<'a> {
    fn insert(&mut self, code: u8, data: impl Into<Value<'a>>) {
        match self.0.binary_search_by_key(&code, |(c, _)| *c) {
            Ok(i) => self.0[i].1 = data.into(),
            Err(i) => self.0.insert(i, (code, data.into())),
        }
    }

    /// Sets `code` unless an earlier source did.
    fn or_insert(&mut self, code: u8, data: &'a [u8]) {
        if let Err(i) = self.0.binary_search_by_key(&code, |(c, _)| *c) {
            self.0.insert(i, (code, Value::Taken(Cow::Borrowed(data))));
        }
    }
}

/// Option-data lists in precedence order: a handful, so on the stack.
type Lists<'a> = smallvec::SmallVec<[&'a [OptionData]; 8]>;

impl Engine {
    /// The option-data lists in Kea's precedence for this client.
    fn option_lists<'a>(&'a self, ctx: &'a Ctx, yiaddr: Ipv4Addr) -> Lists<'a> {
        let mut lists = Lists::new();
        if let Some(h) = ctx.host {
            lists.push(&h.options);
        }
        if let Some(pool) = ctx.subnet.pools.iter().find(|p| p.contains(yiaddr)) {
            lists.push(&pool.options);
        }
        lists.push(&ctx.subnet.scope.options);
        if let Some(n) = ctx.subnet.shared_network {
            lists.push(&self.config.shared_networks[n].scope.options);
        }
        for class in ctx.classes.iter() {
            if let Some(c) = self.config.class(class) {
                lists.push(&c.options);
            }
        }
        lists.push(&self.config.globals.options);
        lists
    }

    pub(super) fn reply(
        &self,
        ctx: &Ctx,
        kind: u8,
        yiaddr: Ipv4Addr,
        lease_time: Option<u32>,
    ) -> (Box<Message>, u8) {
        // Required classes take part in the answer's options and fields once the address is
        // known (Dhcpv4Srv::requiredClassify before buildCfgOptionList).
        let required = (kind != NAK)
            .then(|| self.with_required(ctx, yiaddr))
            .flatten();
        let with_required;
        let ctx = match &required {
            Some(classes) => {
                with_required = Ctx { classes, ..*ctx };
                &with_required
            }
            None => ctx,
        };
        let q = &ctx.q.msg;
        let mut msg = Box::new(Message {
            op: 2,
            htype: q.htype,
            hlen: q.hlen,
            hops: q.hops,
            xid: q.xid,
            secs: 0,
            flags: q.flags,
            ciaddr: if kind == NAK || q.message_type() == Some(super::DISCOVER) {
                Ipv4Addr::UNSPECIFIED
            } else {
                q.ciaddr
            },
            yiaddr,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: q.giaddr,
            chaddr: q.chaddr,
            ..Message::default()
        });
        let mut options = Chosen::default();
        options.insert(54, ctx.q.iface_addr.octets());
        if kind != NAK {
            self.fixed_fields(ctx, &mut msg);
            let lists = self.option_lists(ctx, yiaddr);
            let first = |code: u8| {
                lists
                    .iter()
                    .flat_map(|l| l.iter())
                    .find(|o| o.space == "dhcp4" && o.code == u16::from(code))
            };
            if let Some(prl) = q.option_ref(55) {
                for &code in prl.iter() {
                    if let Some(o) = first(code) {
                        options.or_insert(code, &o.data);
                    }
                }
            }
            for list in &lists {
                for o in list.iter().filter(|o| o.always_send && o.space == "dhcp4") {
                    if let Ok(code) = u8::try_from(o.code) {
                        options.or_insert(code, &o.data);
                    }
                }
            }
            for code in [3u8, 6, 15] {
                if let Some(o) = first(code) {
                    options.or_insert(code, &o.data);
                }
            }
            if let Some(valid) = lease_time {
                options.insert(1, ctx.subnet.prefix.netmask().octets());
                options.insert(51, valid.to_be_bytes());
                self.tee_times(ctx, valid, &mut options);
            }
        }
        if self.config.echo_client_id {
            if let Some(id) = q.option_ref(61) {
                options.insert(61, id);
            }
        }
        // RFC 3046 2.2: the relay agent information goes back as received, last.
        let relay_info = q.option_ref(82);
        msg.options.reserve(options.0.len() + 3);
        msg.options.push(53, &[kind]);
        for (code, data) in &options.0 {
            if *code != 53 && *code != 82 {
                msg.options.push(*code, data);
            }
        }
        if let Some(info) = relay_info {
            msg.options.push(82, &info);
        }
        msg.options.end();
        let _ = (OFFER, ACK);
        (msg, kind)
    }

    fn fixed_fields(&self, ctx: &Ctx, msg: &mut Message) {
        let e = ctx.effective;
        msg.siaddr = e.next_server;
        if !e.server_hostname.is_empty() {
            set_text(&mut msg.sname, &e.server_hostname);
        }
        if !e.boot_file_name.is_empty() {
            set_text(&mut msg.file, &e.boot_file_name);
        }
        let (mut siaddr, mut sname, mut file) = (false, false, false);
        for class in ctx.classes.iter() {
            let Some(c) = self.config.class(class) else {
                continue;
            };
            if let (false, Some(ns)) = (siaddr, c.next_server) {
                if !ns.is_unspecified() {
                    msg.siaddr = ns;
                    siaddr = true;
                }
            }
            if let (false, Some(s)) = (sname, &c.server_hostname) {
                set_text(&mut msg.sname, s);
                sname = true;
            }
            if let (false, Some(f)) = (file, &c.boot_file_name) {
                set_text(&mut msg.file, f);
                file = true;
            }
        }
        if let Some(h) = ctx.host {
            if let Some(ns) = h.next_server {
                msg.siaddr = ns;
            }
            if let Some(s) = &h.server_hostname {
                set_text(&mut msg.sname, s);
            }
            if let Some(f) = &h.boot_file_name {
                set_text(&mut msg.file, f);
            }
        }
    }

    /// Dhcpv4Srv::setTeeTimes: explicit renew/rebind timers, or percentages of the lease
    /// when calculate-tee-times is on; each only when shorter than what follows it.
    fn tee_times(&self, ctx: &Ctx, valid: u32, options: &mut Chosen) {
        let e = ctx.effective;
        let t2 = e.rebind_timer.or_else(|| {
            e.calculate_tee_times
                .then(|| (f64::from(valid) * e.t2_percent).round() as u32)
        });
        let mut limit = valid;
        if let Some(t2) = t2.filter(|t| *t > 0 && *t < valid) {
            options.insert(59, t2.to_be_bytes());
            limit = t2;
        }
        let t1 = e.renew_timer.or_else(|| {
            e.calculate_tee_times
                .then(|| (f64::from(valid) * e.t1_percent).round() as u32)
        });
        if let Some(t1) = t1.filter(|t| *t > 0 && *t < limit) {
            options.insert(58, t1.to_be_bytes());
        }
    }
}
