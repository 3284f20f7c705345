//! The typed, validated Kea DHCPv4 configuration (to be written).

#[derive(Clone, Debug, Default)]
pub struct Config {}
