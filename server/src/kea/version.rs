//! The Kea releases whose grammar `netbootd check --kea-version` reproduces.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// A Kea release line. Ordered, so `version >= KeaVersion::V2_4` reads as "2.4 and later".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum KeaVersion {
    #[serde(rename = "2.2")]
    V2_2,
    #[serde(rename = "2.4")]
    V2_4,
    #[serde(rename = "2.6")]
    V2_6,
    /// The newest release we follow, and the default.
    #[default]
    #[serde(rename = "3.0")]
    V3_0,
}

impl KeaVersion {
    pub const ALL: [KeaVersion; 4] = [
        KeaVersion::V2_2,
        KeaVersion::V2_4,
        KeaVersion::V2_6,
        KeaVersion::V3_0,
    ];

    /// The git tag in isc-projects/kea whose grammar this release follows.
    pub fn tag(self) -> &'static str {
        match self {
            KeaVersion::V2_2 => "Kea-2.2.0",
            KeaVersion::V2_4 => "Kea-2.4.0",
            KeaVersion::V2_6 => "Kea-2.6.0",
            KeaVersion::V3_0 => "Kea-3.0.0",
        }
    }
}

impl fmt::Display for KeaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeaVersion::V2_2 => "2.2",
            KeaVersion::V2_4 => "2.4",
            KeaVersion::V2_6 => "2.6",
            KeaVersion::V3_0 => "3.0",
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown Kea version '{0}' (known: 2.2, 2.4, 2.6, 3.0)")]
pub struct UnknownVersion(String);

impl FromStr for KeaVersion {
    type Err = UnknownVersion;

    /// Accepts `2.2`, `2.2.0`, `2.2.1`...: the grammar changes only between release lines.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let line: Vec<&str> = s.split('.').take(2).collect();
        match line.as_slice() {
            ["2", "2"] => Ok(KeaVersion::V2_2),
            ["2", "4"] => Ok(KeaVersion::V2_4),
            ["2", "6"] => Ok(KeaVersion::V2_6),
            ["3", "0"] => Ok(KeaVersion::V3_0),
            _ => Err(UnknownVersion(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_lines_and_orders_them() {
        assert_eq!("2.2.0".parse::<KeaVersion>().unwrap(), KeaVersion::V2_2);
        assert_eq!("3.0".parse::<KeaVersion>().unwrap(), KeaVersion::V3_0);
        assert!("2.5".parse::<KeaVersion>().is_err());
        assert!(KeaVersion::V2_2 < KeaVersion::V2_4);
        assert_eq!(KeaVersion::default(), KeaVersion::V3_0);
    }
}
