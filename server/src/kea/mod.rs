//! Kea's `kea-dhcp4.conf`: its JSON dialect, its keyword grammar per release, the typed model,
//! the semantic checks `kea-dhcp4 -t` makes, and the client-classification expression language.

pub mod diag;
pub mod json;
