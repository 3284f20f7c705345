//! Kea's keyword grammar: the parser stage of `kea-dhcp4 -t` after the JSON dialect. Kea's
//! bison parser (src/bin/dhcp4/dhcp4_parser.yy) reads keywords per context, so an unknown key,
//! a value of the wrong type, a repeated key or a missing required key stops it with a
//! message we reproduce here, at the same place.

pub mod schema;
mod walk;

use super::diag::Diagnostic;
use super::json::{self, Document};
use super::KeaVersion;

/// What the parser stage found: its warnings up to the first error, and that error.
#[derive(Debug, Default)]
pub struct SyntaxOutcome {
    pub warnings: Vec<Diagnostic>,
    pub error: Option<Diagnostic>,
}

/// Validates the tree against the grammar of `version`. A JSON-level error (`doc.error`) and
/// the first grammar error compete by position, as bison reading left to right would; warnings
/// after the winning error are dropped because Kea never reaches them.
pub fn validate(doc: &Document, version: KeaVersion) -> SyntaxOutcome {
    let grammar = doc
        .root
        .as_ref()
        .and_then(|root| walk::first_error(root, schema::root(version)));
    let mut comma_warning = None;
    let json_error = doc.error.clone().map(|mut j| {
        let may_be_empty = doc
            .root
            .as_ref()
            .is_some_and(|root| walk::open_container_may_be_empty(root, schema::root(version)));
        if may_be_empty && j.message.contains(", expecting \",\" or ") {
            j.message = j.message.replace(", expecting \",\" or ", ", expecting ");
        }
        j
    });
    let (error, at) = match (grammar, json_error) {
        (Some(g), Some(j)) if !walk::before(&g.at, j.span.as_ref()) => (Some(j.clone()), j.span),
        (Some(g), _) => {
            if g.after_comma {
                comma_warning = doc
                    .commas
                    .iter()
                    .rfind(|c| c.file == g.at.file && c.start < g.at.start)
                    .cloned();
            }
            (Some(g.diagnostic), Some(g.at))
        }
        (None, j) => (j.clone(), j.and_then(|j| j.span)),
    };
    let mut warnings: Vec<Diagnostic> = doc
        .warnings
        .iter()
        .filter(|w| match (&at, &w.span) {
            (Some(at), Some(ws)) if at.file == ws.file => ws.start < at.start,
            _ => true,
        })
        .cloned()
        .collect();
    if let Some(comma) = comma_warning {
        if !warnings.iter().any(|w| w.span.as_ref() == Some(&comma)) {
            warnings.push(Diagnostic::syntax_warning(comma, json::EXTRA_COMMA));
        }
    }
    SyntaxOutcome { warnings, error }
}
