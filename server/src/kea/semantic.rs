//! Kea's semantic checks (to be written): what the config parsers refuse after the grammar.

use super::diag::Diagnostic;
use super::json::Node;
use super::model::Config;
use super::system::System;
use super::KeaVersion;

#[derive(Debug)]
pub struct SemanticOutcome {
    pub warnings: Vec<Diagnostic>,
    pub result: Result<Config, Diagnostic>,
}

pub fn check(_root: &Node, _version: KeaVersion, _system: &dyn System) -> SemanticOutcome {
    SemanticOutcome {
        warnings: Vec::new(),
        result: Ok(Config::default()),
    }
}
