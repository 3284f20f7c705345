//! Checking a configuration as `kea-dhcp4 -t` does: the parser first (JSON dialect, then the
//! keyword grammar of the chosen release), then the semantic checks of Kea's config parsers.
//! Kea stops at the first error of either stage; warnings printed before it are kept.

use std::path::Path;

use super::diag::Diagnostic;
use super::json::{self, Document, ReadError};
use super::model::Config;
use super::system::System;
use super::{grammar, semantic, KeaVersion};

/// What checking found, in the order Kea reports it.
#[derive(Debug)]
pub struct Outcome {
    /// Warnings from the parser (before the first error) and from the semantic checks.
    pub warnings: Vec<Diagnostic>,
    /// The first error, if any: the configuration is invalid.
    pub error: Option<Diagnostic>,
    /// The validated configuration, when there was no error.
    pub config: Option<Config>,
    /// Every file read (the main one, then includes).
    pub files: Vec<std::sync::Arc<str>>,
}

impl Outcome {
    pub fn is_valid(&self) -> bool {
        self.error.is_none()
    }
}

/// Reads and checks `path`. `Err` only when the main file cannot be read (exit 2).
pub fn check_file(
    path: &Path,
    version: KeaVersion,
    system: &dyn System,
) -> Result<Outcome, ReadError> {
    let doc = json::read_file(path)?;
    Ok(check_document(&doc, version, system))
}

pub fn check_document(doc: &Document, version: KeaVersion, system: &dyn System) -> Outcome {
    let syntax = grammar::validate(doc, version);
    let mut outcome = Outcome {
        warnings: syntax.warnings,
        error: syntax.error,
        config: None,
        files: doc.files.clone(),
    };
    if outcome.error.is_some() {
        return outcome;
    }
    let root = doc
        .root
        .as_ref()
        .expect("the grammar accepted the document, so it has a root");
    let semantic = semantic::check(root, version, system);
    outcome.warnings.extend(semantic.warnings);
    match semantic.result {
        Ok(config) => outcome.config = Some(config),
        Err(error) => outcome.error = Some(error),
    }
    outcome
}
