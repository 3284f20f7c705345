//! Kea's flex lexer (`dhcp4_lexer.ll`): tokens with their bison locations, the three comment
//! styles, and `<?include "path"?>` opened where it stands, up to 10 levels deep.

use std::sync::Arc;

use super::super::diag::{Diagnostic, Pos, Span};

/// Kea refuses deeper include chains ("Too many nested include.", `includeFile`).
const MAX_INCLUDE_DEPTH: usize = 10;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
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
    pub(super) fn name(&self) -> &'static str {
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

pub(super) struct Lexer {
    stack: Vec<Source>,
    pub(super) files: Vec<Arc<str>>,
}

impl Lexer {
    pub(super) fn new(file: Arc<str>, bytes: Vec<u8>) -> Self {
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

    pub(super) fn next(&mut self) -> Result<(Tok, Span), Diagnostic> {
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
