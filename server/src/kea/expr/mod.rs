//! Kea's client-classification expression language (src/lib/eval): lexer, parser and
//! evaluator, with the tokens of each release, and classification in Kea's order
//! (Dhcpv4Exchange::classifyPacket / evaluateClasses in src/bin/dhcp4/dhcp4_srv.cc).

pub mod ast;
mod classify;
mod eval;
pub mod explain;
mod lexer;
mod packet;
mod parser;

use std::fmt;

pub use ast::{Expr, Str};
pub use classify::{classify, depends_on_known, ClassDef, ClassSet};
pub use eval::{evaluate, evaluate_traced, EvalError, Step, Term};
pub use packet::{sub_option, Packet, PacketError};
pub use parser::parse;

/// Resolves `option[name]` in the dhcp4 space (EvalContext::convertOptionName).
pub trait OptionLookup {
    fn option_code(&self, name: &str) -> Option<u16>;
}

/// What `member('x')` may name (EvalContext::isClientClassDefined).
pub trait ClassLookup {
    fn is_defined(&self, class: &str) -> bool;
}

/// Kea's built-in classes and prefixes (client_class_def.cc builtinNames/builtinPrefixes).
pub fn is_builtin_class(name: &str) -> bool {
    matches!(name, "ALL" | "KNOWN" | "UNKNOWN" | "BOOTP")
        || ["VENDOR_CLASS_", "HA_", "AFTER_", "EXTERNAL_"]
            .iter()
            .any(|p| name.len() > p.len() && name.starts_with(p))
}

/// A parse error: Kea's EvalParseError text is `<string>:L.C[-C2]: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ExprError {
    pub line: u32,
    pub first: u32,
    pub last: u32,
    pub message: String,
}

impl ExprError {
    pub fn at(line: u32, first: u32, last: u32, message: impl Into<String>) -> Self {
        ExprError {
            line,
            first,
            last,
            message: message.into(),
        }
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<string>:{}.{}", self.line, self.first)?;
        if self.last > self.first {
            write!(f, "-{}", self.last)?;
        }
        write!(f, ": {}", self.message)
    }
}
