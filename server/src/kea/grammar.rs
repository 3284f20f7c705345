//! Kea's keyword grammar (to be written): which keys each map holds and their value types.

use super::diag::Diagnostic;
use super::json::Document;
use super::KeaVersion;

/// What the parser stage found: its warnings up to the first error, and that error.
#[derive(Debug, Default)]
pub struct SyntaxOutcome {
    pub warnings: Vec<Diagnostic>,
    pub error: Option<Diagnostic>,
}

/// Validates the tree against the grammar of `version`; `doc.error` (a JSON-level error) and
/// the first grammar error compete by position, as bison reading left to right would.
pub fn validate(doc: &Document, _version: KeaVersion) -> SyntaxOutcome {
    SyntaxOutcome {
        warnings: doc.warnings.clone(),
        error: doc.error.clone(),
    }
}
