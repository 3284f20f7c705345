//! Which address a client gets (AllocEngine::allocateLease4): its reservation, else the lease
//! it already holds, else the address it asks for (option 50) when free and permitted, else
//! the next free address of a pool its classes may use, walking each pool from where the last
//! allocation stopped, as Kea 2.2's IterativeAllocator does (so two clients discovering at
//! once are offered different addresses).

use std::net::Ipv4Addr;

use crate::kea::model::Pool;

use super::{Ctx, Engine};

fn pool_allowed(pool: &Pool, ctx: &Ctx) -> bool {
    pool.client_class
        .as_ref()
        .is_none_or(|c| ctx.classes.contains(c))
}

/// Free for this client: no lease, or its own, or an expired one; not reserved for another.
fn free(engine: &Engine, ctx: &Ctx, addr: Ipv4Addr) -> bool {
    let leased_to_other = engine
        .leases
        .get(addr)
        .is_some_and(|l| !ctx.client.owns(l) && !l.is_expired(ctx.now));
    let reserved_to_other =
        ctx.subnet.reservations.iter().any(|r| {
            r.ip_address == Some(addr) && ctx.host.is_none_or(|h| h.ip_address != Some(addr))
        });
    !leased_to_other && !reserved_to_other
}

/// Whether `addr` may be given to this client: inside a permitted pool (or its reservation)
/// and free.
pub fn allowed(engine: &Engine, ctx: &Ctx, addr: Ipv4Addr) -> bool {
    let reserved = ctx.host.and_then(|h| h.ip_address) == Some(addr);
    let in_pool = ctx
        .subnet
        .pools
        .iter()
        .any(|p| p.contains(addr) && pool_allowed(p, ctx));
    (reserved || in_pool) && free(engine, ctx, addr)
}

pub fn choose(engine: &Engine, ctx: &Ctx) -> Option<Ipv4Addr> {
    if let Some(addr) = ctx.host.and_then(|h| h.ip_address) {
        if free(engine, ctx, addr) {
            return Some(addr);
        }
    }
    let held = engine
        .leases
        .find_client(
            ctx.subnet.id,
            ctx.client.hwaddr,
            ctx.client.client_id.as_deref(),
        )
        .filter(|l| ctx.client.owns(l))
        .map(|l| l.address);
    if let Some(addr) = held {
        if allowed(engine, ctx, addr) {
            return Some(addr);
        }
    }
    let requested = ctx.q.msg.option_ref(50).and_then(|v| super::ipv4(&v));
    if let Some(addr) = requested {
        if allowed(engine, ctx, addr) {
            return Some(addr);
        }
    }
    for (i, pool) in ctx.subnet.pools.iter().enumerate() {
        if !pool_allowed(pool, ctx) {
            continue;
        }
        let (first, last) = (u32::from(pool.first), u32::from(pool.last));
        let key = (ctx.subnet.id, i);
        let start = engine
            .cursor
            .borrow()
            .get(&key)
            .map(|c| if *c >= last { first } else { c + 1 })
            .unwrap_or(first);
        let size = u64::from(last - first) + 1;
        let mut n = start;
        for _ in 0..size {
            let addr = Ipv4Addr::from(n);
            if free(engine, ctx, addr) {
                engine.cursor.borrow_mut().insert(key, n);
                return Some(addr);
            }
            n = if n >= last { first } else { n + 1 };
        }
    }
    None
}
