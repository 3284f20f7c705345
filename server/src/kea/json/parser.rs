//! Recursive descent over Kea's generic JSON rules (`dhcp4_parser.yy` `map_value`,
//! `list_generic`), with the extra-comma warning and the partial tree kept on an error.

use super::super::diag::{Diagnostic, Span};
use super::lexer::{Lexer, Tok};
use super::node::{Entry, Node, Value};
use super::{Document, EXTRA_COMMA};

/// Reads a whole document: the tree, or the tree up to the error and the error.
pub(super) fn read(name: &str, bytes: Vec<u8>) -> Document {
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
        let last = entries.last().map(|e| e.value.span.clone());
        self.container(open, result, last, Value::Map(entries))
    }

    /// The map or list that `open` started, whose contents ended with `result` (the closing
    /// bracket's span, or the error). On an error the node is kept, open and spanning to its
    /// `last` child, as the partial tree the caller can still show.
    fn container(
        &mut self,
        open: Span,
        result: Result<Span, Diagnostic>,
        last: Option<Span>,
        value: Value,
    ) -> Result<Node, Diagnostic> {
        let end = match &result {
            Ok(close) => close.clone(),
            Err(_) => last.unwrap_or_else(|| open.clone()),
        };
        let node = Node {
            value,
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
        let last = items.last().map(|n: &Node| n.span.clone());
        self.container(open, result, last, Value::List(items))
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
