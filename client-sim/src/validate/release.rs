//! Which Kea releases accept a config, from the keywords it uses: each release's grammar
//! (netbootd's tables derived from that release's dhcp4_parser.yy) reads the file, and the
//! first keyword a release refuses says why (`control-sockets` is 3.0's, `output-options`
//! came with 2.6, `pool-id` with 2.6, `only-in-additional-list` with 3.0, ...). `validate`
//! then runs against the newest release that accepts the file, unless told otherwise.

use std::path::Path;

use serde::Serialize;

use netbootd::kea::{grammar, json, KeaVersion};

/// One release's verdict on the config's keywords.
#[derive(Debug, Clone, Serialize)]
pub struct Release {
    pub version: String,
    pub accepts: bool,
    /// Kea's parser error for a release that refuses the file.
    pub refusal: Option<String>,
}

/// Every release we follow, oldest first; `None` when the file cannot be read (the server
/// build reports that).
pub fn releases(config: &Path) -> Option<Vec<(KeaVersion, Release)>> {
    let doc = json::read_file(config).ok()?;
    Some(
        KeaVersion::ALL
            .iter()
            .map(|&v| {
                let error = grammar::validate(&doc, v).error;
                let refusal = error.map(|e| match &e.span {
                    Some(span) => format!("line {}: {}", span.start.line, e.message),
                    None => e.message,
                });
                (
                    v,
                    Release {
                        version: v.to_string(),
                        accepts: refusal.is_none(),
                        refusal,
                    },
                )
            })
            .collect(),
    )
}

/// The newest release that accepts the file, else the newest release.
pub fn newest_accepting(releases: &[(KeaVersion, Release)]) -> KeaVersion {
    releases
        .iter()
        .rev()
        .find(|(_, r)| r.accepts)
        .map_or(KeaVersion::default(), |(v, _)| *v)
}
