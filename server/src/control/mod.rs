//! Kea's control channel (src/lib/config/command_mgr.cc, src/bin/dhcp4/ctrl_dhcp4_srv.cc):
//! one JSON command per connection on the unix socket the config's `control-socket` names,
//! answered with Kea's result codes and texts, so kea-shell, Stork and scripts that talk to
//! Kea talk to netbootd. Statistics under Kea's names, also served to Prometheus.

pub mod commands;
pub mod json;
pub mod leases;
pub mod metrics;
pub mod socket;
pub mod stats;
