//! Option definitions: Kea's standard tables per release and a registry that adds the
//! configuration's own `option-def` entries.

use std::sync::OnceLock;

use serde::Deserialize;

use crate::kea::KeaVersion;

/// Kea's OptionDataType names (src/lib/dhcp/option_data_types.h), as written in `option-def`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataType {
    Empty,
    Binary,
    Boolean,
    Int8,
    Int16,
    Int32,
    Uint8,
    Uint16,
    Uint32,
    Ipv4Address,
    Ipv6Address,
    Ipv6Prefix,
    Psid,
    String,
    Tuple,
    Fqdn,
    Record,
    Internal,
}

impl DataType {
    /// The `type` value of an `option-def` entry (OptionDataTypeUtil::getDataType).
    pub fn from_kea_name(name: &str) -> Option<DataType> {
        Some(match name {
            "empty" => DataType::Empty,
            "binary" => DataType::Binary,
            "boolean" => DataType::Boolean,
            "int8" => DataType::Int8,
            "int16" => DataType::Int16,
            "int32" => DataType::Int32,
            "uint8" => DataType::Uint8,
            "uint16" => DataType::Uint16,
            "uint32" => DataType::Uint32,
            "ipv4-address" => DataType::Ipv4Address,
            "ipv6-address" => DataType::Ipv6Address,
            "ipv6-prefix" => DataType::Ipv6Prefix,
            "psid" => DataType::Psid,
            "string" => DataType::String,
            "tuple" => DataType::Tuple,
            "fqdn" => DataType::Fqdn,
            "record" => DataType::Record,
            _ => return None,
        })
    }
}

/// One option definition: standard or from `option-def`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct OptionDef {
    pub name: String,
    pub code: u16,
    pub space: String,
    #[serde(rename = "type")]
    pub ty: DataType,
    pub array: bool,
    pub record: Vec<DataType>,
    /// The option space carried inside this option ("" for none).
    pub encapsulates: String,
}

#[derive(Deserialize)]
struct Table {
    options: Vec<OptionDef>,
}

/// The standard option definitions of `version` (every space of the table).
pub fn standard(version: KeaVersion) -> &'static [OptionDef] {
    static TABLES: [OnceLock<Vec<OptionDef>>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let (slot, text) = match version {
        KeaVersion::V2_2 => (&TABLES[0], include_str!("kea-2.2.json")),
        KeaVersion::V2_4 => (&TABLES[1], include_str!("kea-2.4.json")),
        KeaVersion::V2_6 => (&TABLES[2], include_str!("kea-2.6.json")),
        KeaVersion::V3_0 => (&TABLES[3], include_str!("kea-3.0.json")),
    };
    slot.get_or_init(|| {
        serde_json::from_str::<Table>(text)
            .expect("generated option table parses")
            .options
    })
}

/// Standard definitions plus the configuration's own, looked up by space and name or code.
#[derive(Clone, Debug)]
pub struct Registry {
    standard: &'static [OptionDef],
    custom: Vec<OptionDef>,
}

impl Registry {
    pub fn new(version: KeaVersion) -> Self {
        Registry {
            standard: standard(version),
            custom: Vec::new(),
        }
    }

    pub fn add(&mut self, def: OptionDef) {
        self.custom.push(def);
    }

    pub fn custom(&self) -> &[OptionDef] {
        &self.custom
    }

    fn all(&self) -> impl Iterator<Item = &OptionDef> {
        self.standard.iter().chain(self.custom.iter())
    }

    pub fn is_standard_space(&self, space: &str) -> bool {
        self.standard.iter().any(|d| d.space == space)
    }

    pub fn standard_by_code(&self, space: &str, code: u16) -> Option<&OptionDef> {
        self.standard
            .iter()
            .find(|d| d.space == space && d.code == code)
    }

    /// LibDHCP's lookup order: the space's standard definitions, the configured ones, then
    /// for dhcp4 the "last resort" table (option 43, vendor-encapsulated-options).
    pub fn by_name(&self, space: &str, name: &str) -> Option<&OptionDef> {
        let space = canonical_space(space);
        self.all()
            .find(|d| d.space == space && d.name == name)
            .or_else(|| self.last_resort(space, |d| d.name == name))
    }

    pub fn by_code(&self, space: &str, code: u16) -> Option<&OptionDef> {
        let space = canonical_space(space);
        self.all()
            .find(|d| d.space == space && d.code == code)
            .or_else(|| self.last_resort(space, |d| d.code == code))
    }

    fn last_resort(&self, space: &str, pick: impl Fn(&OptionDef) -> bool) -> Option<&OptionDef> {
        (space == "dhcp4")
            .then(|| {
                self.standard
                    .iter()
                    .find(|d| d.space == "last-resort-v4" && pick(d))
            })
            .flatten()
    }
}

/// DOCSIS 3 options live in Kea's "docsis3-v4" space, which LibDHCP also serves as the vendor
/// space of enterprise 4491 (docsis3_option_defs.h, LibDHCP::getVendorOptionDefs).
fn canonical_space(space: &str) -> &str {
    match space {
        "docsis3-v4" => "vendor-4491",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guides_options_are_known_in_every_release() {
        for v in KeaVersion::ALL {
            let r = Registry::new(v);
            assert_eq!(
                r.by_name("dhcp4", "client-system").map(|d| d.code),
                Some(93)
            );
            assert_eq!(r.by_name("dhcp4", "user-class").map(|d| d.code), Some(77));
            assert_eq!(r.by_code("dhcp4", 67).map(|d| d.ty), Some(DataType::String));
        }
    }

    /// Kea 2.2's std_option_defs.h has no relay-agent sub-option table; 3.0's has one.
    #[test]
    fn agent_suboptions_appear_in_later_releases() {
        let space = "dhcp-agent-options-space";
        assert!(Registry::new(KeaVersion::V2_2).by_code(space, 1).is_none());
        assert!(Registry::new(KeaVersion::V3_0).by_code(space, 1).is_some());
    }
}
