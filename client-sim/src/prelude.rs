//! What a test needs: `use bootsim::prelude::*;`.

#[cfg(feature = "audit")]
pub use crate::api::{audit, Audit, ClientAudit};
pub use crate::api::{Boot, Error, Machine, Network, Run, Validation};
pub use crate::chain::Firmware;
pub use crate::net::lan::{Faults, LinkFaults};
pub use crate::transcript::{Outcome, Stage, Transcript};
pub use crate::validate::Report;
