//! DHCPv4 option definitions and option data as Kea understands them: the standard options
//! of each release (kea-X.Y.json, derived by ci/kea-options.py from Kea's
//! src/lib/dhcp/std_option_defs.h), the user's `option-def` entries, and the encoding of an
//! `option-data` entry's `data` into wire bytes (csv-format or hex).

mod encode;
mod table;

pub use encode::{decode_hex, encode, EncodeError};
pub use table::{standard, DataType, OptionDef, Registry};
