//! Kea's JSON dialect, read as `kea-dhcp4` reads it, keeping the position of every value.
//!
//! Follows Kea's flex lexer and the generic part of its bison grammar
//! (`src/bin/dhcp4/dhcp4_lexer.ll`, `dhcp4_parser.yy`, `parser_context.cc` at Kea-2.2.0):
//! - comments: `#` and `//` to the end of the line, `/* ... */` (unclosed: "Comment not closed.");
//! - `<?include "path"?>` anywhere a token may stand, the path opened as given (Kea `fopen`s
//!   it, so relative paths are relative to the working directory), at most 10 levels deep;
//! - a comma before `}` or `]` (or a doubled one) is accepted with the warning
//!   `Extraneous comma. A piece of configuration may have been omitted.` at the comma
//!   (`Parser4Context::warnAboutExtraCommas`);
//! - integers are `-?[0-9]+` (leading zeros allowed) into an i64; anything else numeric is a
//!   double; `true`/`false`/`null` are lower case only; strings accept only `\u00XX` escapes.
//!
//! The keyword grammar (which keys each map may hold, value types) lives in `grammar`; this
//! module gives it a tree, and, when the text is broken, the tree read up to the error so the
//! grammar can still find an earlier problem, as bison reading left to right would.
//!
//! `node` is the tree, `lexer` the tokens and includes, `parser` the grammar's generic part.

use std::path::Path;
use std::sync::Arc;

use super::diag::{Diagnostic, Span};

mod lexer;
pub mod node;
mod parser;

pub use node::{Entry, Node, Value};

/// What reading a configuration produced. `root` is present whenever a top-level map was
/// opened, complete when `error` is `None`, cut at the error otherwise.
#[derive(Clone, Debug, Default)]
pub struct Document {
    pub root: Option<Node>,
    pub warnings: Vec<Diagnostic>,
    pub error: Option<Diagnostic>,
    /// Every file read, the main one first, then includes in the order they were opened.
    pub files: Vec<Arc<str>>,
    /// Every separating comma in reading order: Kea warns about the one before an element its
    /// grammar refuses (bison reduces the trailing-comma rule first), see grammar::walk.
    pub commas: Vec<Span>,
}

#[derive(Debug, thiserror::Error)]
#[error("Unable to open file {path}: {source}")]
pub struct ReadError {
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

/// Reads `path` (and its includes). Only failing to open the main file is an `Err`: Kea's
/// `Parser4Context::parseFile` says "Unable to open file", and `netbootd check` exits 2 on it.
pub fn read_file(path: &Path) -> Result<Document, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError {
        path: path.display().to_string(),
        source,
    })?;
    Ok(parse_bytes(&path.display().to_string(), bytes))
}

/// Parses text as if it were the file `name`; includes are opened relative to the working
/// directory, as Kea does.
pub fn parse_str(name: &str, text: &str) -> Document {
    parse_bytes(name, text.as_bytes().to_vec())
}

pub fn parse_bytes(name: &str, bytes: Vec<u8>) -> Document {
    parser::read(name, bytes)
}

/// Parser4Context::warnAboutExtraCommas.
pub const EXTRA_COMMA: &str = "Extraneous comma. A piece of configuration may have been omitted.";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Document {
        parse_str("t.json", text)
    }

    fn error(text: &str) -> String {
        parse(text).error.expect("an error").to_string()
    }

    #[test]
    fn comments_of_all_three_kinds() {
        let doc = parse("# shell\n{ // line\n \"a\": /* c\n */ 1 }\n");
        assert!(doc.error.is_none(), "{:?}", doc.error);
        let root = doc.root.unwrap();
        assert_eq!(root.get("a").unwrap().as_int(), Some(1));
        assert_eq!(root.get("a").unwrap().span.to_string(), "t.json:4.5");
    }

    #[test]
    fn positions_are_bison_locations() {
        let doc = parse("{\n  \"output-options\": [ ]\n}");
        let root = doc.root.unwrap();
        let e = &root.entries().unwrap()[0];
        assert_eq!(e.key_span.to_string(), "t.json:2.3-18");
    }

    #[test]
    fn extraneous_commas_warn_at_the_comma() {
        let doc = parse("{ \"a\": [1, 2,], \"b\": 3, }");
        assert!(doc.error.is_none());
        let w: Vec<String> = doc.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            w,
            [
                "t.json:1.13: Extraneous comma. A piece of configuration may have been omitted.",
                "t.json:1.23: Extraneous comma. A piece of configuration may have been omitted."
            ]
        );
    }

    #[test]
    fn doubled_comma_is_one_warning_then_accepted() {
        let doc = parse("{ \"a\": [1,,2] }");
        assert!(doc.error.is_none());
        assert_eq!(doc.warnings.len(), 1);
        assert_eq!(
            doc.root.unwrap().get("a").unwrap().items().unwrap().len(),
            2
        );
    }

    #[test]
    fn numbers_follow_keas_flex_rules() {
        let doc = parse("{\"a\": 007, \"b\": -1.5e3, \"c\": +4}");
        let root = doc.root.unwrap();
        assert_eq!(root.get("a").unwrap().value, Value::Int(7));
        assert_eq!(root.get("b").unwrap().value, Value::Float(-1500.0));
        assert_eq!(root.get("c").unwrap().value, Value::Float(4.0));
        assert_eq!(
            error("{\"a\": 99999999999999999999}"),
            "t.json:1.7-26: Failed to convert 99999999999999999999 to an integer."
        );
    }

    #[test]
    fn lexer_errors_name_the_place() {
        assert_eq!(
            error("{\"a\": True}"),
            "t.json:1.7-10: JSON true reserved keyword is lower case only"
        );
        assert_eq!(error("{\"a\": x}"), "t.json:1.7: Invalid character: x");
        assert_eq!(
            error("{\"a\": \"\\q\"}"),
            "t.json:1.7-10 (near 2): Bad escape in \"\\q\""
        );
        assert_eq!(
            error("{\"a\": \"\\u0100\"}"),
            "t.json:1.7-14 (near 3): Unsupported unicode escape in \"\\u0100\""
        );
        assert_eq!(error("/* open\n{"), "Comment not closed. (/* in line 1");
    }

    #[test]
    fn syntax_errors_keep_the_tree_read_so_far() {
        let doc = parse("{ \"a\": { \"b\": 1 \"c\": 2 } }");
        assert_eq!(
            doc.error.unwrap().to_string(),
            "t.json:1.17-19: syntax error, unexpected constant string, expecting \",\" or }"
        );
        let root = doc.root.unwrap();
        assert_eq!(root.get("a").unwrap().get("b").unwrap().as_int(), Some(1));
    }

    #[test]
    fn unicode_escape_decodes_latin1() {
        let doc = parse("{\"a\": \"caf\\u00e9\"}");
        assert_eq!(doc.root.unwrap().get("a").unwrap().as_str(), Some("café"));
    }

    #[test]
    fn includes_splice_another_file_with_its_own_positions() {
        let dir = tempfile::tempdir().unwrap();
        let inc = dir.path().join("inc.json");
        std::fs::write(&inc, "\n  { \"x\": 1 }").unwrap();
        let text = format!("{{ \"a\": <?include \"{}\"?> }}", inc.display());
        let doc = parse(&text);
        assert!(doc.error.is_none(), "{:?}", doc.error);
        let x = doc
            .root
            .unwrap()
            .get("a")
            .unwrap()
            .get("x")
            .unwrap()
            .clone();
        assert_eq!(x.span.to_string(), format!("{}:2.10", inc.display()));
        assert_eq!(doc.files.len(), 2);
        assert_eq!(
            error("{ \"a\": <?include \"/nonexistent/x.json\"?> }"),
            "Can't open include file /nonexistent/x.json"
        );
    }

    #[test]
    fn top_level_must_be_a_map() {
        assert_eq!(
            error("[1]"),
            "t.json:1.1: syntax error, unexpected [, expecting {"
        );
        assert_eq!(
            error(""),
            "t.json:1.1: syntax error, unexpected end of file, expecting {"
        );
    }
}
