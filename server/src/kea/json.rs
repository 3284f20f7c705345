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

use std::path::Path;
use std::sync::Arc;

use super::diag::{Diagnostic, Pos, Span};

/// A value with the place it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
    /// A map or list the text broke off inside (the partial tree after an error): bison never
    /// reached its closing bracket, so the grammar must not judge what happens there (an empty
    /// map, a missing required key), only what was read.
    pub open: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Node>),
    /// Entries in file order; duplicates are kept (the grammar reports them as Kea does).
    Map(Vec<Entry>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

impl Node {
    /// The value of the first entry named `key`, if this is a map.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }

    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn items(&self) -> Option<&[Node]> {
        match &self.value {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self.value {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The name bison gives this value's token in "unexpected ..." messages.
    pub fn token_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "floating point",
            Value::Str(_) => "constant string",
            Value::List(_) => "[",
            Value::Map(_) => "{",
        }
    }
}

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
    let mut parser = Parser::new(Lexer::new(name.into(), bytes));
    let result = parser.document();
    let mut doc = Document {
        root: None,
        warnings: std::mem::take(&mut parser.warnings),
        error: None,
        files: parser.lexer.files.clone(),
        commas: std::mem::take(&mut parser.commas),
    };
    match result {
        Ok(root) => doc.root = Some(root),
        Err(error) => {
            doc.root = parser.partial.take();
            doc.error = Some(error);
        }
    }
    doc
}

/// Parser4Context::warnAboutExtraCommas.
pub const EXTRA_COMMA: &str = "Extraneous comma. A piece of configuration may have been omitted.";

/// Kea refuses deeper include chains ("Too many nested include.", `includeFile`).
const MAX_INCLUDE_DEPTH: usize = 10;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Colon,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    Eof,
}

impl Tok {
    /// Bison's names for Kea's tokens (`%token` aliases in dhcp4_parser.yy, quotes as
    /// `yytnamerr` leaves them).
    fn name(&self) -> &'static str {
        match self {
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => "\",\"",
            Tok::Colon => "\":\"",
            Tok::Str(_) => "constant string",
            Tok::Int(_) => "integer",
            Tok::Float(_) => "floating point",
            Tok::Bool(_) => "boolean",
            Tok::Null => "null",
            Tok::Eof => "end of file",
        }
    }
}

struct Source {
    file: Arc<str>,
    bytes: Vec<u8>,
    at: usize,
    line: u32,
    col: u32,
    /// This source was opened by `<?include` and its `?>` is still to come.
    included: bool,
}

impl Source {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.at + ahead).copied()
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek(0)?;
        self.at += 1;
        if b == b'\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(b)
    }

    fn starts_with(&self, s: &[u8]) -> bool {
        self.bytes[self.at..].starts_with(s)
    }
}

struct Lexer {
    stack: Vec<Source>,
    files: Vec<Arc<str>>,
}

impl Lexer {
    fn new(file: Arc<str>, bytes: Vec<u8>) -> Self {
        Lexer {
            files: vec![file.clone()],
            stack: vec![Source {
                file,
                bytes,
                at: 0,
                line: 1,
                col: 1,
                included: false,
            }],
        }
    }

    fn src(&mut self) -> &mut Source {
        self.stack
            .last_mut()
            .expect("the main source is never popped")
    }

    fn span(&mut self, start: Pos, len: usize) -> Span {
        let file = self.src().file.clone();
        let end = Pos {
            line: start.line,
            col: start.col + len.saturating_sub(1) as u32,
        };
        Span::new(file, start, end)
    }

    /// Skips blanks, newlines and comments in the current source.
    fn skip_trivia(&mut self) -> Result<(), Diagnostic> {
        loop {
            let src = self.src();
            match src.peek(0) {
                Some(b' ' | b'\t' | b'\r' | b'\n') => {
                    src.bump();
                }
                Some(b'#') => skip_line(src),
                Some(b'/') if src.peek(1) == Some(b'/') => skip_line(src),
                Some(b'/') if src.peek(1) == Some(b'*') => {
                    let line = src.line;
                    src.bump();
                    src.bump();
                    loop {
                        if src.starts_with(b"*/") {
                            src.bump();
                            src.bump();
                            break;
                        }
                        if src.bump().is_none() {
                            return Err(Diagnostic::fatal(format!(
                                "Comment not closed. (/* in line {line}"
                            )));
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn next(&mut self) -> Result<(Tok, Span), Diagnostic> {
        loop {
            self.skip_trivia()?;
            let src = self.src();
            let start = src.pos();
            match src.peek(0) {
                None if src.included => {
                    // End of an included file: back to the includer, which must close `?>`.
                    self.stack.pop();
                    self.skip_trivia()?;
                    let src = self.src();
                    if src.starts_with(b"?>") {
                        src.bump();
                        src.bump();
                        continue;
                    }
                    return Err(self.invalid_char());
                }
                None => return Ok((Tok::Eof, self.span(start, 1))),
                Some(b'<') if src.starts_with(b"<?") => {
                    self.include_directive()?;
                    continue;
                }
                Some(b) => {
                    let simple = match b {
                        b'{' => Some(Tok::LBrace),
                        b'}' => Some(Tok::RBrace),
                        b'[' => Some(Tok::LBracket),
                        b']' => Some(Tok::RBracket),
                        b',' => Some(Tok::Comma),
                        b':' => Some(Tok::Colon),
                        _ => None,
                    };
                    if let Some(tok) = simple {
                        src.bump();
                        return Ok((tok, self.span(start, 1)));
                    }
                    return match b {
                        b'"' => self.string(),
                        b'-' | b'+' | b'.' | b'0'..=b'9' => self.number(),
                        b'a'..=b'z' | b'A'..=b'Z' => self.word(),
                        _ => Err(self.invalid_char()),
                    };
                }
            }
        }
    }

    /// `<*>. "Invalid character: x"` on the byte (or UTF-8 character) at the cursor.
    fn invalid_char(&mut self) -> Diagnostic {
        let src = self.src();
        let start = src.pos();
        let rest = &src.bytes[src.at..];
        let text = match rest.first() {
            None => return Diagnostic::fatal("Directive not closed."),
            Some(&b) if b < 0x80 => (b as char).to_string(),
            Some(_) => String::from_utf8_lossy(&rest[..rest.len().min(4)])
                .chars()
                .next()
                .map(String::from)
                .unwrap_or_default(),
        };
        let span = self.span(start, 1);
        Diagnostic::syntax_error(span, format!("Invalid character: {text}"))
    }

    /// `<?include "path"?>`: opens the file and reads from it until its end.
    fn include_directive(&mut self) -> Result<(), Diagnostic> {
        let src = self.src();
        src.bump();
        src.bump();
        self.skip_blanks_in_directive()?;
        if !self.src().starts_with(b"include") {
            return Err(self.invalid_char());
        }
        for _ in 0.."include".len() {
            self.src().bump();
        }
        self.skip_blanks_in_directive()?;
        let src = self.src();
        if src.peek(0) != Some(b'"') {
            return Err(self.invalid_char());
        }
        let rest = &src.bytes[src.at + 1..];
        let len = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\n')
            .filter(|&n| n > 0 && rest[n] == b'"');
        let Some(len) = len else {
            return Err(self.invalid_char());
        };
        let path = String::from_utf8_lossy(&rest[..len]).into_owned();
        for _ in 0..len + 2 {
            src.bump();
        }
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            return Err(Diagnostic::fatal("Too many nested include."));
        }
        let bytes = std::fs::read(&path)
            .map_err(|_| Diagnostic::fatal(format!("Can't open include file {path}")))?;
        let file: Arc<str> = path.into();
        self.files.push(file.clone());
        self.stack.push(Source {
            file,
            bytes,
            at: 0,
            line: 1,
            col: 1,
            included: true,
        });
        Ok(())
    }

    fn skip_blanks_in_directive(&mut self) -> Result<(), Diagnostic> {
        let src = self.src();
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = src.peek(0) {
            src.bump();
        }
        if src.peek(0).is_none() {
            return Err(Diagnostic::fatal("Directive not closed."));
        }
        Ok(())
    }

    fn string(&mut self) -> Result<(Tok, Span), Diagnostic> {
        let src = self.src();
        let start = src.pos();
        // Find the closing quote, stepping over escapes, as flex's longest match would.
        let body = &src.bytes[src.at + 1..];
        let mut i = 0;
        let close = loop {
            match body.get(i) {
                None => break None,
                Some(b'"') => break Some(i),
                Some(b'\\') => i += 2,
                Some(_) => i += 1,
            }
        };
        let Some(close) = close else {
            return Err(self.invalid_char());
        };
        let raw = body[..close].to_vec();
        for _ in 0..close + 2 {
            src.bump();
        }
        let span = self.span(start, close + 2);
        let quoted = format!("\"{}\"", String::from_utf8_lossy(&raw));
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            let c = raw[i];
            if c < 0x20 {
                return Err(
                    Diagnostic::syntax_error(span, format!("Invalid control in {quoted}"))
                        .near(i + 1),
                );
            }
            if c != b'\\' {
                out.push(c);
                i += 1;
                continue;
            }
            let Some(&e) = raw.get(i + 1) else {
                return Err(
                    Diagnostic::syntax_error(span, format!("Overflow escape in {quoted}"))
                        .near(raw.len() + 1),
                );
            };
            match e {
                b'"' | b'\\' | b'/' => out.push(e),
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'u' => {
                    let hex = raw.get(i + 2..i + 6);
                    let Some(hex) = hex.filter(|h| h.iter().all(u8::is_ascii_hexdigit)) else {
                        return Err(Diagnostic::syntax_error(
                            span,
                            format!("Bad escape in {quoted}"),
                        )
                        .near(i + 2));
                    };
                    if &hex[..2] != b"00" {
                        return Err(Diagnostic::syntax_error(
                            span,
                            format!("Unsupported unicode escape in {quoted}"),
                        )
                        .near(i + 3));
                    }
                    let v = u8::from_str_radix(&String::from_utf8_lossy(&hex[2..]), 16)
                        .expect("two hex digits checked above");
                    // Kea pushes the raw byte; we keep the text valid UTF-8 (Latin-1 → U+00XX).
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(char::from(v).encode_utf8(&mut buf).as_bytes());
                    i += 4;
                }
                _ => {
                    return Err(
                        Diagnostic::syntax_error(span, format!("Bad escape in {quoted}"))
                            .near(i + 2),
                    )
                }
            }
            i += 2;
        }
        Ok((Tok::Str(String::from_utf8_lossy(&out).into_owned()), span))
    }

    fn number(&mut self) -> Result<(Tok, Span), Diagnostic> {
        let src = self.src();
        let start = src.pos();
        let rest = &src.bytes[src.at..];
        // {int}: -?[0-9]+
        let int_len = {
            let sign = usize::from(rest.first() == Some(&b'-'));
            let digits = rest[sign..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits > 0 {
                sign + digits
            } else {
                0
            }
        };
        // [-+]?[0-9]*\.?[0-9]*([eE][-+]?[0-9]+)?
        let float_len = {
            let mut n = usize::from(matches!(rest.first(), Some(b'-' | b'+')));
            n += rest[n..].iter().take_while(|b| b.is_ascii_digit()).count();
            if rest.get(n) == Some(&b'.') {
                n += 1;
                n += rest[n..].iter().take_while(|b| b.is_ascii_digit()).count();
            }
            if matches!(rest.get(n), Some(b'e' | b'E')) {
                let mut m = n + 1;
                if matches!(rest.get(m), Some(b'-' | b'+')) {
                    m += 1;
                }
                let digits = rest[m..].iter().take_while(|b| b.is_ascii_digit()).count();
                if digits > 0 {
                    n = m + digits;
                }
            }
            n
        };
        // flex: longest match, the earlier rule ({int}) on a tie.
        let (len, is_int) = if int_len >= float_len {
            (int_len, true)
        } else {
            (float_len, false)
        };
        let text = String::from_utf8_lossy(&rest[..len]).into_owned();
        for _ in 0..len {
            src.bump();
        }
        let span = self.span(start, len);
        if is_int {
            return match text.parse::<i64>() {
                Ok(i) => Ok((Tok::Int(i), span)),
                Err(_) => Err(Diagnostic::syntax_error(
                    span,
                    format!("Failed to convert {text} to an integer."),
                )),
            };
        }
        match text.parse::<f64>() {
            Ok(f) => Ok((Tok::Float(f), span)),
            Err(_) => Err(Diagnostic::syntax_error(
                span,
                format!("Failed to convert {text} to a floating point."),
            )),
        }
    }

    fn word(&mut self) -> Result<(Tok, Span), Diagnostic> {
        let src = self.src();
        let start = src.pos();
        let rest = &src.bytes[src.at..];
        for (word, tok) in [
            ("true", Tok::Bool(true)),
            ("false", Tok::Bool(false)),
            ("null", Tok::Null),
        ] {
            let Some(candidate) = rest.get(..word.len()) else {
                continue;
            };
            if !candidate.eq_ignore_ascii_case(word.as_bytes()) {
                continue;
            }
            let lower_case = candidate == word.as_bytes();
            for _ in 0..word.len() {
                src.bump();
            }
            let span = self.span(start, word.len());
            if !lower_case {
                return Err(Diagnostic::syntax_error(
                    span,
                    format!("JSON {word} reserved keyword is lower case only"),
                ));
            }
            return Ok((tok, span));
        }
        Err(self.invalid_char())
    }
}

fn skip_line(src: &mut Source) {
    while let Some(b) = src.peek(0) {
        if b == b'\n' {
            break;
        }
        src.bump();
    }
}

/// Recursive descent over Kea's generic `map_value`/`list_generic` rules.
struct Parser {
    lexer: Lexer,
    look: Option<(Tok, Span)>,
    warnings: Vec<Diagnostic>,
    /// On error, the container being read, with what it held so far (see module doc).
    partial: Option<Node>,
    commas: Vec<Span>,
}

impl Parser {
    fn new(lexer: Lexer) -> Self {
        Parser {
            lexer,
            look: None,
            warnings: Vec::new(),
            partial: None,
            commas: Vec::new(),
        }
    }

    fn peek(&mut self) -> Result<&(Tok, Span), Diagnostic> {
        if self.look.is_none() {
            self.look = Some(self.lexer.next()?);
        }
        Ok(self.look.as_ref().expect("just filled"))
    }

    fn take(&mut self) -> Result<(Tok, Span), Diagnostic> {
        self.peek()?;
        Ok(self.look.take().expect("just peeked"))
    }

    fn unexpected(tok: &Tok, span: &Span, expecting: &str) -> Diagnostic {
        let mut msg = format!("syntax error, unexpected {}", tok.name());
        if !expecting.is_empty() {
            msg.push_str(", expecting ");
            msg.push_str(expecting);
        }
        Diagnostic::syntax_error(span.clone(), msg)
    }

    /// `start: TOPLEVEL_DHCP4 syntax_map`: the file must be one map.
    fn document(&mut self) -> Result<Node, Diagnostic> {
        let (tok, span) = self.take()?;
        if tok != Tok::LBrace {
            return Err(Self::unexpected(&tok, &span, "{"));
        }
        let root = self.map(span)?;
        let (tok, span) = self.take()?;
        if tok != Tok::Eof {
            self.partial = Some(root);
            return Err(Self::unexpected(&tok, &span, "end of file"));
        }
        Ok(root)
    }

    fn value(&mut self) -> Result<Node, Diagnostic> {
        let (tok, span) = self.take()?;
        let value = match tok {
            Tok::LBrace => return self.map(span),
            Tok::LBracket => return self.list(span),
            Tok::Str(s) => Value::Str(s),
            Tok::Int(i) => Value::Int(i),
            Tok::Float(f) => Value::Float(f),
            Tok::Bool(b) => Value::Bool(b),
            Tok::Null => Value::Null,
            other => return Err(Self::unexpected(&other, &span, "")),
        };
        Ok(Node {
            value,
            span,
            open: false,
        })
    }

    /// After an element: `,` then another element, or an extraneous comma (warned) before the
    /// closing bracket or another comma. Returns true when the container goes on.
    fn separator(&mut self, close: &Tok) -> Result<bool, Diagnostic> {
        let mut more = false;
        loop {
            let (tok, span) = self.peek()?.clone();
            if tok == *close {
                return Ok(false);
            }
            if tok != Tok::Comma {
                if more {
                    return Ok(true);
                }
                let expecting = format!("\",\" or {}", close.name());
                return Err(Self::unexpected(&tok, &span, &expecting));
            }
            self.take()?;
            self.commas.push(span.clone());
            let next = self.peek()?.0.clone();
            if next == *close || next == Tok::Comma {
                self.warnings
                    .push(Diagnostic::syntax_warning(span, EXTRA_COMMA));
            }
            more = true;
        }
    }

    fn map(&mut self, open: Span) -> Result<Node, Diagnostic> {
        let mut entries: Vec<Entry> = Vec::new();
        let result = self.map_entries(&mut entries);
        let end = match &result {
            Ok(close) => close.clone(),
            Err(_) => entries
                .last()
                .map(|e| e.value.span.clone())
                .unwrap_or_else(|| open.clone()),
        };
        let node = Node {
            value: Value::Map(entries),
            span: open.to(&end),
            open: result.is_err(),
        };
        match result {
            Ok(_) => Ok(node),
            Err(e) => {
                self.partial = Some(node);
                Err(e)
            }
        }
    }

    /// Reads entries up to and including `}`; returns the span of the `}`.
    fn map_entries(&mut self, entries: &mut Vec<Entry>) -> Result<Span, Diagnostic> {
        let (tok, span) = self.peek()?.clone();
        if tok == Tok::RBrace {
            self.take()?;
            return Ok(span);
        }
        loop {
            let (tok, key_span) = self.take()?;
            let Tok::Str(key) = tok else {
                return Err(Self::unexpected(&tok, &key_span, "constant string"));
            };
            let (tok, span) = self.take()?;
            if tok != Tok::Colon {
                return Err(Self::unexpected(&tok, &span, "\":\""));
            }
            match self.value() {
                Ok(value) => entries.push(Entry {
                    key,
                    key_span,
                    value,
                }),
                Err(e) => {
                    if let Some(value) = self.partial.take() {
                        entries.push(Entry {
                            key,
                            key_span,
                            value,
                        });
                    }
                    return Err(e);
                }
            }
            if !self.separator(&Tok::RBrace)? {
                return Ok(self.take()?.1);
            }
        }
    }

    fn list(&mut self, open: Span) -> Result<Node, Diagnostic> {
        let mut items = Vec::new();
        let result = self.list_items(&mut items);
        let end = match &result {
            Ok(close) => close.clone(),
            Err(_) => items
                .last()
                .map(|n: &Node| n.span.clone())
                .unwrap_or_else(|| open.clone()),
        };
        let node = Node {
            value: Value::List(items),
            span: open.to(&end),
            open: result.is_err(),
        };
        match result {
            Ok(_) => Ok(node),
            Err(e) => {
                self.partial = Some(node);
                Err(e)
            }
        }
    }

    fn list_items(&mut self, items: &mut Vec<Node>) -> Result<Span, Diagnostic> {
        let (tok, span) = self.peek()?.clone();
        if tok == Tok::RBracket {
            self.take()?;
            return Ok(span);
        }
        loop {
            match self.value() {
                Ok(v) => items.push(v),
                Err(e) => {
                    if let Some(v) = self.partial.take() {
                        items.push(v);
                    }
                    return Err(e);
                }
            }
            if !self.separator(&Tok::RBracket)? {
                return Ok(self.take()?.1);
            }
        }
    }
}

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
