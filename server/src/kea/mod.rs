//! Kea's `kea-dhcp4.conf`: its JSON dialect, its keyword grammar per release, the typed model,
//! the semantic checks `kea-dhcp4 -t` makes, and the client-classification expression language.

pub mod check;
pub mod diag;
pub mod expr;
pub mod grammar;
pub mod json;
pub mod model;
pub mod options;
pub mod semantic;
pub mod summary;
pub mod system;
pub mod version;

pub use version::KeaVersion;
