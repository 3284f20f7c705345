//! The keyword schema of one Kea release: which keys each map of kea-dhcp4.conf accepts and the
//! shape of each value. The tables (kea-X.Y.json beside this file) are derived by
//! ci/kea-grammar.py from Kea's own src/bin/dhcp4/dhcp4_parser.yy and dhcp4_lexer.ll at the
//! release tag, so differences between releases (2.2's `output_options`, 2.4's
//! `output-options`, 3.0's `control-sockets`, ...) come from Kea's grammar, not from memory.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::kea::KeaVersion;

/// The shape a value must have, as the grammar rule after the keyword's COLON says.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shape {
    Int,
    Float,
    Bool,
    String,
    Null,
    /// `value`: any JSON value (user-context contents, parameters of hooks).
    Any,
    /// `map_value`: any map.
    AnyMap,
    /// `list_generic`: any list.
    AnyList,
    /// `list_strings`: a list of strings.
    StringList,
    /// Keywords the lexer recognises in this context (`i:` marks flex's `(?i:...)` rules),
    /// plus plain tokens (`BOOLEAN`, `STRING`, ...) the rule also takes.
    Enum {
        values: Vec<String>,
        also: Vec<String>,
    },
    Map(MapShape),
    List {
        empty: bool,
        item: Box<Shape>,
    },
}

#[derive(Debug, Deserialize)]
pub struct MapShape {
    /// `Parser4Context::contextName()` of the parser context inside this map.
    pub context: String,
    /// Whether the grammar allows `{}` (a `%empty` alternative).
    pub empty: bool,
    /// Keys `Parser4Context::require` demands when the map closes.
    pub required: Vec<String>,
    pub keys: BTreeMap<String, Shape>,
}

#[derive(Debug, Deserialize)]
struct Table {
    root: Shape,
}

fn load(text: &str) -> Shape {
    // The tables are generated and committed; a broken one is a build defect caught by the
    // unit tests below, never by a user.
    serde_json::from_str::<Table>(text)
        .expect("generated grammar table parses")
        .root
}

/// The root shape (`{"Dhcp4": {...}}`) of `version`'s grammar.
pub fn root(version: KeaVersion) -> &'static Shape {
    static TABLES: [OnceLock<Shape>; 4] = [
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
    slot.get_or_init(|| load(text))
}

impl Shape {
    /// The map shape at `path` (keys; `[]` steps into list items), for callers that need to
    /// know whether a release has a key.
    pub fn at(&self, path: &[&str]) -> Option<&Shape> {
        let mut shape = self;
        for step in path {
            shape = match (shape, *step) {
                (Shape::List { item, .. }, "[]") => item,
                (Shape::Map(map), key) => map.keys.get(key)?,
                _ => return None,
            };
        }
        Some(shape)
    }
}

impl Shape {
    /// Whether an enum keyword matches `text` as Kea's lexer would.
    pub fn enum_accepts(values: &[String], text: &str) -> bool {
        values.iter().any(|v| match v.strip_prefix("i:") {
            Some(v) => v.eq_ignore_ascii_case(text),
            None => v == text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_release_table_loads_and_has_dhcp4() {
        for v in KeaVersion::ALL {
            assert!(
                root(v).at(&["Dhcp4", "subnet4", "[]", "pools"]).is_some(),
                "{v}"
            );
        }
    }

    /// Kea 2.2's and 2.4's dhcp4_lexer.ll know only `output_options`; 2.6 added
    /// `output-options` and still accepts the old spelling (3.0 too).
    #[test]
    fn output_options_spelling_follows_the_release() {
        let logger = ["Dhcp4", "loggers", "[]"];
        let key = |v, k| root(v).at(&[logger[0], logger[1], logger[2], k]).is_some();
        assert!(key(KeaVersion::V2_2, "output_options"));
        assert!(!key(KeaVersion::V2_2, "output-options"));
        assert!(!key(KeaVersion::V2_4, "output-options"));
        assert!(key(KeaVersion::V2_6, "output-options"));
        assert!(key(KeaVersion::V3_0, "output_options"));
        assert!(key(KeaVersion::V3_0, "output-options"));
    }
}
