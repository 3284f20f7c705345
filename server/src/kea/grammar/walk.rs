//! The walk that checks a JSON tree against a release's keyword schema, stopping at the first
//! error in reading order, as Kea's LALR parser does.

use crate::kea::diag::{Diagnostic, Layout, Span};
use crate::kea::json::{Entry, Node, Value};

use super::schema::{MapShape, Shape};

/// The first grammar error and where in the stream Kea meets it (for a missing parameter that
/// is the closing brace, later than the position the message names).
pub struct GrammarError {
    pub diagnostic: Diagnostic,
    pub at: Span,
    /// The element follows a comma that bison reduced as a trailing comma before it saw the
    /// element was wrong, so Kea also warns "Extraneous comma" there.
    pub after_comma: bool,
}

/// Whether `at` comes before `other` in reading order (same file; across files the walk's
/// order already is the reading order).
pub fn before(at: &Span, other: Option<&Span>) -> bool {
    match other {
        Some(o) if o.file == at.file => at.start < o.start,
        Some(_) => true,
        None => true,
    }
}

/// Whether the innermost container the text broke off inside (following `open` nodes from the
/// root) may be empty in the grammar. Bison's LALR tables give such a container a `_content`
/// rule with an `%empty` alternative, whose default reduction runs before the bad token is
/// seen, so Kea expects only the closing bracket there ("expecting ]"); a container that may
/// not be empty (`global_params`, `client_classes_list`, `loggers_entries`, ...) still offers
/// the comma ("expecting \",\" or ]"), dhcp4_parser.yy at Kea-2.2.0.
pub fn open_container_may_be_empty(root: &Node, shape: &Shape) -> bool {
    let (mut node, mut shape) = (root, shape);
    loop {
        let child = match (&node.value, shape) {
            (Value::Map(entries), Shape::Map(map)) => entries
                .last()
                .filter(|e| e.value.open)
                .map(|e| (&e.value, map.keys.get(&e.key).unwrap_or(&Shape::Any))),
            (Value::Map(entries), _) => entries
                .last()
                .filter(|e| e.value.open)
                .map(|e| (&e.value, &Shape::Any)),
            (Value::List(items), Shape::List { item, .. }) => {
                items.last().filter(|i| i.open).map(|i| (i, item.as_ref()))
            }
            (Value::List(items), _) => items.last().filter(|i| i.open).map(|i| (i, &Shape::Any)),
            _ => None,
        };
        match child {
            Some((n, s)) => (node, shape) = (n, s),
            None => break,
        }
    }
    match shape {
        Shape::Map(map) => map.empty,
        Shape::List { empty, .. } => *empty,
        Shape::Any | Shape::AnyMap | Shape::AnyList | Shape::StringList => true,
        _ => false,
    }
}

pub fn first_error(root: &Node, shape: &Shape) -> Option<GrammarError> {
    toplevel(root, shape).err()
}

/// The top level holds exactly one `Dhcp4` entry (dhcp4_parser.yy `global_object`, one object
/// and an optional trailing comma), so a second entry is a bison error, not "unexpected
/// keyword": `syntax error, unexpected constant string, expecting "," or }`.
fn toplevel(root: &Node, shape: &Shape) -> Walk {
    let (Value::Map(entries), Shape::Map(map)) = (&root.value, shape) else {
        return value(root, shape, None);
    };
    for (i, entry) in entries.iter().enumerate() {
        let token = if entry.key == "Dhcp4" {
            "Dhcp4"
        } else {
            "constant string"
        };
        let message = match i {
            0 if token == "Dhcp4" => {
                match map.keys.get("Dhcp4") {
                    Some(dhcp4) => value(&entry.value, dhcp4, Some(&entry.key_span))?,
                    None => value(root, shape, None)?,
                }
                continue;
            }
            0 => format!("syntax error, unexpected {token}, expecting Dhcp4"),
            _ => format!("syntax error, unexpected {token}, expecting \",\" or }}"),
        };
        let at = entry.key_span.clone();
        return Err(GrammarError {
            diagnostic: Diagnostic::syntax_error(at.clone(), message),
            at,
            after_comma: i > 0,
        });
    }
    if entries.is_empty() && !root.open {
        return Err(unexpected_close(root, "}", &["Dhcp4".to_string()]));
    }
    Ok(())
}

type Walk = Result<(), GrammarError>;

/// Kea's bison prints at most four expected tokens (`yysyntax_error_`, YYARGS_MAX 5).
fn expecting(names: &[String]) -> String {
    if names.is_empty() || names.len() > 4 {
        String::new()
    } else {
        format!(", expecting {}", names.join(" or "))
    }
}

fn token_at(span: &Span, whole: bool) -> Span {
    if whole {
        span.clone()
    } else {
        Span::new(span.file.clone(), span.start, span.start)
    }
}

/// `syntax error, unexpected X, expecting Y` at the first token of `node`.
fn unexpected(node: &Node, expected: &[String]) -> GrammarError {
    let scalar = !matches!(node.value, Value::Map(_) | Value::List(_));
    let at = token_at(&node.span, scalar);
    GrammarError {
        diagnostic: Diagnostic::syntax_error(
            at.clone(),
            format!(
                "syntax error, unexpected {}{}",
                node.token_name(),
                expecting(expected)
            ),
        ),
        at,
        after_comma: false,
    }
}

/// The closing bracket of an empty map or list the grammar does not allow.
fn unexpected_close(node: &Node, close: &str, expected: &[String]) -> GrammarError {
    let at = Span::new(node.span.file.clone(), node.span.end, node.span.end);
    GrammarError {
        diagnostic: Diagnostic::syntax_error(
            at.clone(),
            format!("syntax error, unexpected {close}{}", expecting(expected)),
        ),
        at,
        after_comma: false,
    }
}

/// The tokens a value of `shape` may start with, by bison's names for them.
fn first_tokens(shape: &Shape) -> Vec<String> {
    let s = |t: &str| vec![t.to_string()];
    match shape {
        Shape::Int => s("integer"),
        Shape::Float => s("floating point"),
        Shape::Bool => s("boolean"),
        Shape::String => s("constant string"),
        Shape::Null => s("null"),
        Shape::Any => Vec::new(),
        Shape::AnyMap | Shape::Map(_) => s("{"),
        Shape::AnyList | Shape::StringList | Shape::List { .. } => s("["),
        Shape::Enum { values, also } => {
            // One name per token: a case-insensitive rule repeats a keyword the lexer
            // already matched (`"udp"` and `(?i:"UDP")` are both UDP).
            let mut names: Vec<String> = Vec::new();
            for v in values {
                let v = enum_token_name(v.trim_start_matches("i:"));
                if !names.iter().any(|n| n.eq_ignore_ascii_case(v)) {
                    names.push(v.to_string());
                }
            }
            names.extend(also.iter().map(|t| token_alias(t).to_string()));
            names
        }
    }
}

/// Bison's name for the token an enum keyword lexes to, where it is not the keyword itself:
/// dhcp4_lexer.ll returns DISABLED for `"off"` too, and dhcp4_parser.yy aliases UDP and TCP
/// as `"udp"` and `"tcp"` (Kea 2.2 prints "expecting udp or tcp").
fn enum_token_name(keyword: &str) -> &str {
    match keyword {
        "off" => "disabled",
        "UDP" => "udp",
        "TCP" => "tcp",
        other => other,
    }
}

fn token_alias(token: &str) -> &str {
    match token {
        "BOOLEAN" => "boolean",
        "INTEGER" => "integer",
        "FLOAT" => "floating point",
        "NULL_TYPE" => "null",
        _ => "constant string",
    }
}

fn value(node: &Node, shape: &Shape, owner: Option<&Span>) -> Walk {
    let fits = match (shape, &node.value) {
        (Shape::Any, v) => return generic(node, v),
        (Shape::Int, Value::Int(_))
        | (Shape::Float, Value::Float(_))
        | (Shape::Bool, Value::Bool(_))
        | (Shape::String, Value::Str(_))
        | (Shape::Null, Value::Null) => true,
        (Shape::AnyMap, Value::Map(_)) | (Shape::AnyList, Value::List(_)) => {
            return generic(node, &node.value)
        }
        (Shape::StringList, Value::List(items)) => return string_list(node, items),
        (Shape::Enum { values, also }, v) => match v {
            Value::Str(text) if Shape::enum_accepts(values, text) => true,
            Value::Str(_) => also.iter().any(|t| t == "STRING"),
            Value::Bool(_) => also.iter().any(|t| t == "BOOLEAN"),
            Value::Int(_) => also.iter().any(|t| t == "INTEGER"),
            _ => false,
        },
        (Shape::Map(map), Value::Map(entries)) => return self::map(node, entries, map, owner),
        (Shape::List { empty, item }, Value::List(items)) => {
            return list(node, items, *empty, item)
        }
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(unexpected(node, &first_tokens(shape)))
    }
}

fn map(node: &Node, entries: &[Entry], shape: &MapShape, owner: Option<&Span>) -> Walk {
    if entries.is_empty() && !shape.empty && !node.open {
        return Err(unexpected_close(node, "}", &[]));
    }
    for (i, entry) in entries.iter().enumerate() {
        let Some(inner) = shape.keys.get(&entry.key) else {
            let at = entry.key_span.clone();
            return Err(GrammarError {
                diagnostic: Diagnostic::syntax_error(
                    at.clone(),
                    format!(
                        "got unexpected keyword \"{}\" in {} map.",
                        entry.key, shape.context
                    ),
                ),
                at,
                after_comma: false,
            });
        };
        duplicate(entries, i, &shape.context)?;
        value(&entry.value, inner, Some(&entry.key_span))?;
        action_check(&shape.context, entry)?;
    }
    for key in shape.required.iter().filter(|_| !node.open) {
        if !entries.iter().any(|e| &e.key == key) {
            let pos = owner.unwrap_or(&node.span);
            let open = Span::new(node.span.file.clone(), node.span.start, node.span.start);
            let close = Span::new(node.span.file.clone(), node.span.end, node.span.end);
            // Parser4Context::require: the map's own position, then the braces.
            let message = format!(
                "missing parameter '{key}' ({}) [{} map between {} and {}]",
                pos.element(),
                shape.context,
                open.element(),
                close.element()
            );
            return Err(GrammarError {
                diagnostic: Diagnostic::syntax_error(pos.clone(), message)
                    .laid_out(Layout::Verbatim),
                at: close,
                after_comma: false,
            });
        }
    }
    Ok(())
}

/// The values a grammar action refuses after the token was accepted: dhcp4_parser.yy's
/// `lease_checks` rule knows five words and calls `error(@4, ...)` on the string otherwise.
fn action_check(context: &str, entry: &Entry) -> Walk {
    const LEASE_CHECKS: [&str; 5] = ["none", "warn", "fix", "fix-del", "del"];
    match (context, entry.key.as_str(), entry.value.as_str()) {
        ("sanity-checks", "lease-checks", Some(v)) if !LEASE_CHECKS.contains(&v) => {
            let at = entry.value.span.clone();
            Err(GrammarError {
                diagnostic: Diagnostic::syntax_error(
                    at.clone(),
                    format!(
                        "Unsupported 'lease-checks value: {v}, supported values are: none, \
                         warn, fix, fix-del, del"
                    ),
                ),
                at,
                after_comma: false,
            })
        }
        _ => Ok(()),
    }
}

/// Parser4Context::unique: a key seen twice in one map; the earlier value's position is where
/// Kea created its element (the keyword for maps and lists, the value for scalars).
fn duplicate(entries: &[Entry], i: usize, context: &str) -> Walk {
    let entry = &entries[i];
    let Some(previous) = entries[..i].iter().find(|e| e.key == entry.key) else {
        return Ok(());
    };
    let prev_pos = match previous.value.value {
        Value::Map(_) | Value::List(_) => &previous.key_span,
        _ => &previous.value.span,
    };
    let at = entry.key_span.clone();
    let message = format!(
        "duplicate {} entries in {} map (previous at {})",
        entry.key,
        context,
        prev_pos.element()
    );
    Err(GrammarError {
        diagnostic: Diagnostic::syntax_error(at.clone(), message).laid_out(Layout::ElementFirst),
        at,
        after_comma: false,
    })
}

/// Free-form JSON (user-context, hook parameters): only repeated keys are errors, reported
/// with Kea's `JSON map` wording for the NO_KEYWORD context.
fn generic(node: &Node, v: &Value) -> Walk {
    match v {
        Value::Map(entries) => {
            for (i, entry) in entries.iter().enumerate() {
                duplicate(entries, i, "JSON")?;
                generic(&entry.value, &entry.value.value)?;
            }
            Ok(())
        }
        Value::List(items) => items.iter().try_for_each(|n| generic(n, &n.value)),
        _ => {
            let _ = node;
            Ok(())
        }
    }
}

/// After `[` and after each comma, Kea's parser (default reductions) names only `]` as
/// expected, except before the first item of a list that may not be empty.
fn item_expected(i: usize, empty: bool, firsts: &[String]) -> Vec<String> {
    if i == 0 && !empty {
        firsts.to_vec()
    } else {
        vec!["]".to_string()]
    }
}

fn string_list(node: &Node, items: &[Node]) -> Walk {
    let firsts = vec!["constant string".to_string()];
    for (i, item) in items.iter().enumerate() {
        if !matches!(item.value, Value::Str(_)) {
            let mut e = unexpected(item, &item_expected(i, true, &firsts));
            e.after_comma = i > 0;
            return Err(e);
        }
    }
    let _ = node;
    Ok(())
}

fn list(node: &Node, items: &[Node], empty: bool, item: &Shape) -> Walk {
    let firsts = first_tokens(item);
    if items.is_empty() && !empty && !node.open {
        return Err(unexpected_close(node, "]", &firsts));
    }
    for (i, it) in items.iter().enumerate() {
        if let Err(e) = value(it, item, None) {
            // A type error on the item itself (not inside it) names the list's expectations.
            let own = unexpected(it, &firsts);
            if own.diagnostic == e.diagnostic {
                let mut e = unexpected(it, &item_expected(i, empty, &firsts));
                e.after_comma = i > 0;
                return Err(e);
            }
            return Err(e);
        }
    }
    Ok(())
}
