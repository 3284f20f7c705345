//! Subnet selection as CfgSubnets4::selectSubnet does it: a relayed query by its relay
//! address (`relay.ip-addresses`, then the subnet holding giaddr), a renewing client by its
//! ciaddr, a local client by the interface it came in on (`interface`, then the subnet holding
//! that interface's address); a subnet whose client-class the query lacks is skipped.

use crate::kea::expr::ClassSet;
use crate::kea::model::{Config, Subnet};

use super::Incoming;

fn class_allowed(config: &Config, subnet: &Subnet, classes: &ClassSet) -> bool {
    let network = subnet.shared_network.map(|i| &config.shared_networks[i]);
    let required = subnet
        .scope
        .client_class
        .as_ref()
        .or(network.and_then(|n| n.scope.client_class.as_ref()));
    required.is_none_or(|c| classes.contains(c))
}

pub fn subnet<'a>(config: &'a Config, q: &Incoming, classes: &ClassSet) -> Option<&'a Subnet> {
    let allowed = |s: &&Subnet| class_allowed(config, s, classes);
    let msg = &q.msg;
    if !msg.giaddr.is_unspecified() {
        let by_relay = config.subnets.iter().filter(allowed).find(|s| {
            let network = s.shared_network.map(|i| &config.shared_networks[i]);
            s.relay.contains(&msg.giaddr) || network.is_some_and(|n| n.relay.contains(&msg.giaddr))
        });
        return by_relay.or_else(|| {
            config
                .subnets
                .iter()
                .filter(allowed)
                .find(|s| s.prefix.contains(&msg.giaddr))
        });
    }
    if !msg.ciaddr.is_unspecified() && *q.source.ip() == msg.ciaddr {
        if let Some(s) = config
            .subnets
            .iter()
            .filter(allowed)
            .find(|s| s.prefix.contains(&msg.ciaddr))
        {
            return Some(s);
        }
    }
    let by_iface = config.subnets.iter().filter(allowed).find(|s| {
        let network = s.shared_network.map(|i| &config.shared_networks[i]);
        s.interface.as_deref() == Some(&*q.iface)
            || network.is_some_and(|n| n.interface.as_deref() == Some(&*q.iface))
    });
    by_iface.or_else(|| {
        config
            .subnets
            .iter()
            .filter(allowed)
            .find(|s| s.prefix.contains(&q.iface_addr))
    })
}
