//! Positions and diagnostics, printed the way Kea prints them.
//!
//! Kea has two position formats and we keep both, because users grep logs for them:
//! - bison locations from the config parser: `file:62.9-24` (line.col, then the last column
//!   of the token when it spans more than one), see Kea's `location.hh` and
//!   `Parser4Context::error`;
//! - element positions from the configuration backend: `(file:122:22)`, see
//!   `isc::data::Element::Position::str()`.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// A 1-based line and column; columns count bytes, as flex's `yyleng` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// The place of a token or a value: its file and its first and last character (inclusive).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Span {
    pub file: Arc<str>,
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    pub fn new(file: Arc<str>, start: Pos, end: Pos) -> Self {
        Span { file, start, end }
    }

    /// A span from the start of `self` to the end of `other` (same file assumed).
    pub fn to(&self, other: &Span) -> Span {
        Span {
            file: self.file.clone(),
            start: self.start,
            end: other.end,
        }
    }

    /// Kea's element position, `file:line:col`, as printed after semantic errors.
    pub fn element(&self) -> ElementPos<'_> {
        ElementPos(self)
    }
}

/// Bison location format: `file:L.C`, `file:L.C-C2` or `file:L.C-L2.C2`.
impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}.{}", self.file, self.start.line, self.start.col)?;
        if self.end.line != self.start.line {
            write!(f, "-{}.{}", self.end.line, self.end.col)
        } else if self.end.col != self.start.col {
            write!(f, "-{}", self.end.col)
        } else {
            Ok(())
        }
    }
}

/// `file:line:col`, Kea's `Element::Position` format.
pub struct ElementPos<'a>(&'a Span);

impl fmt::Display for ElementPos<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        write!(f, "{}:{}:{}", s.file, s.start.line, s.start.col)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// Which stage of Kea found the problem: the parser (syntax, keywords, types) reports with a
/// bison location before the message; later stages put the element position after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Syntax,
    Semantic,
}

/// Where Kea puts the position in the printed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Layout {
    /// `file:L.C-C2: message` (bison's location, `Parser4Context::error`).
    #[default]
    Bison,
    /// `file:L:C: message` (an element position first, `Parser4Context::unique`).
    ElementFirst,
    /// `message (file:L:C)` (the config parsers' `isc_throw(DhcpConfigError, ... << pos)`).
    ElementLast,
    /// The message already names its places (`Parser4Context::require`); the span only
    /// serves machine-readable output.
    Verbatim,
}

/// One warning or error about a configuration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub stage: Stage,
    #[serde(skip)]
    pub layout: Layout,
    pub span: Option<Span>,
    /// Kea's `(near N)`: the byte in a bad string where the lexer gave up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub near: Option<usize>,
    pub message: String,
}

impl Diagnostic {
    pub fn syntax_error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            stage: Stage::Syntax,
            layout: Layout::Bison,
            span: Some(span),
            near: None,
            message: message.into(),
        }
    }

    pub fn syntax_warning(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            stage: Stage::Syntax,
            layout: Layout::Bison,
            span: Some(span),
            near: None,
            message: message.into(),
        }
    }

    /// An error without a position (a file that cannot be opened, an unclosed comment).
    pub fn fatal(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            stage: Stage::Syntax,
            layout: Layout::Verbatim,
            span: None,
            near: None,
            message: message.into(),
        }
    }

    pub fn semantic_error(span: Option<Span>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            stage: Stage::Semantic,
            layout: Layout::ElementLast,
            span,
            near: None,
            message: message.into(),
        }
    }

    pub fn semantic_warning(span: Option<Span>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            stage: Stage::Semantic,
            layout: Layout::ElementLast,
            span,
            near: None,
            message: message.into(),
        }
    }

    /// The same diagnostic printed with another layout.
    pub fn laid_out(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// The same diagnostic with Kea's `(near N)` marker.
    pub fn near(mut self, near: usize) -> Self {
        self.near = Some(near);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Kea's own wording: `file:35.43: Extraneous comma...` for the parser,
/// `message (file:122:22)` for later stages.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.span, self.layout) {
            (Some(span), Layout::Bison) => match self.near {
                Some(near) => write!(f, "{} (near {}): {}", span, near, self.message),
                None => write!(f, "{}: {}", span, self.message),
            },
            (Some(span), Layout::ElementFirst) => {
                write!(f, "{}: {}", span.element(), self.message)
            }
            (Some(span), Layout::ElementLast) => {
                write!(f, "{} ({})", self.message, span.element())
            }
            (_, _) => f.write_str(&self.message),
        }
    }
}

/// Kea's words: the DHCP4_CONFIG_SYNTAX_WARNING log message, then `Syntax check failed with:`
/// for the parser and `Error encountered:` for the config parsers (kea-dhcp4's main.cc).
pub fn kea_line(d: &Diagnostic) -> String {
    match (d.is_error(), d.stage) {
        (false, _) => format!("DHCP4_CONFIG_SYNTAX_WARNING configuration syntax warning: {d}"),
        (true, Stage::Syntax) => format!("Syntax check failed with: {d}"),
        (true, Stage::Semantic) => format!("Error encountered: {d}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(l1: u32, c1: u32, l2: u32, c2: u32) -> Span {
        Span::new(
            "k.conf".into(),
            Pos { line: l1, col: c1 },
            Pos { line: l2, col: c2 },
        )
    }

    #[test]
    fn bison_location_formats() {
        assert_eq!(span(35, 43, 35, 43).to_string(), "k.conf:35.43");
        assert_eq!(span(62, 9, 62, 24).to_string(), "k.conf:62.9-24");
        assert_eq!(span(3, 5, 4, 2).to_string(), "k.conf:3.5-4.2");
    }

    #[test]
    fn semantic_errors_put_the_element_position_last() {
        let d = Diagnostic::semantic_error(Some(span(122, 22, 122, 27)), "bad subnet");
        assert_eq!(d.to_string(), "bad subnet (k.conf:122:22)");
    }
}
