//! A recursive-descent reading of src/lib/eval/parser.yy (bool_expr, string_expr and their
//! helpers), with Kea's semantic errors (EvalContext::convertOptionCode, convertOptionName,
//! convertUint32, isClientClassDefined) and bison's "syntax error, unexpected X, expecting
//! Y" wording, listing expectations only when bison would (four or fewer).

use super::ast::{Expr, IntText, Pkt4Field, PktField, Repr, Str};
use super::lexer::{lex, Spanned, Tok};
use super::{ClassLookup, ExprError, OptionLookup};
use crate::kea::KeaVersion;

type R<T> = Result<T, ExprError>;

/// Parses the `test` of a client class (EvalContext::PARSER_BOOL).
pub fn parse(
    text: &str,
    version: KeaVersion,
    options: &dyn OptionLookup,
    classes: &dyn ClassLookup,
) -> Result<Expr, ExprError> {
    let toks = lex(text, version)?;
    let mut p = Parser {
        toks,
        pos: 0,
        version,
        options,
        classes,
    };
    let expr = p.bool_expr()?;
    if p.tok() != &Tok::End {
        // bison's default reductions leave only END expected here.
        return Err(p.unexpected(&["end of file"]));
    }
    Ok(expr)
}

enum Access {
    Bool(Expr),
    Str(Str),
}

struct Parser<'a> {
    toks: Vec<Spanned>,
    pos: usize,
    version: KeaVersion,
    options: &'a dyn OptionLookup,
    classes: &'a dyn ClassLookup,
}

fn later(a: ExprError, b: ExprError) -> ExprError {
    if (b.line, b.first) > (a.line, a.first) {
        b
    } else {
        a
    }
}

impl Parser<'_> {
    fn cur(&self) -> &Spanned {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn tok(&self) -> &Tok {
        &self.cur().tok
    }

    fn is(&self, word: &str) -> bool {
        matches!(self.tok(), Tok::Word(w) if *w == word)
    }

    fn bump(&mut self) -> Spanned {
        let t = self.cur().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn error_at(&self, t: &Spanned, message: impl Into<String>) -> ExprError {
        ExprError::at(t.line, t.first, t.last, message)
    }

    fn unexpected(&self, expected: &[&str]) -> ExprError {
        let t = self.cur();
        let mut message = format!("syntax error, unexpected {}", t.tok.bison_name());
        if !expected.is_empty() && expected.len() <= 4 {
            // yytnamerr_ keeps the quotes of an alias holding a comma: `","`.
            let names: Vec<&str> = expected
                .iter()
                .map(|e| if *e == "," { "\",\"" } else { *e })
                .collect();
            message.push_str(", expecting ");
            message.push_str(&names.join(" or "));
        }
        self.error_at(t, message)
    }

    fn expect(&mut self, word: &'static str) -> R<Spanned> {
        if self.is(word) {
            Ok(self.bump())
        } else {
            Err(self.unexpected(&[word]))
        }
    }

    /// The binary boolean operators of this release, in bison's token order.
    fn bool_ops(&self) -> Vec<&'static str> {
        if self.version >= KeaVersion::V3_0 {
            vec!["and", "sand", "or", "sor"]
        } else {
            vec!["and", "or"]
        }
    }

    /// Precedence, lowest first: sor, or, sand, and (parser.yy %left lines), then not.
    fn bool_expr(&mut self) -> R<Expr> {
        self.bool_level(0)
    }

    fn bool_level(&mut self, level: usize) -> R<Expr> {
        const LEVELS: [(&str, bool); 4] =
            [("sor", true), ("or", false), ("sand", true), ("and", false)];
        if level == LEVELS.len() {
            return self.unary();
        }
        let (op, strict_op) = LEVELS[level];
        let mut left = self.bool_level(level + 1)?;
        while self.is(op) {
            self.bump();
            let right = self.bool_level(level + 1)?;
            // Before 3.0 `and`/`or` evaluate both sides (TokenAnd/TokenOr).
            let strict = strict_op || self.version < KeaVersion::V3_0;
            left = match op {
                "sor" | "or" => Expr::Or(Box::new(left), Box::new(right), strict),
                _ => Expr::And(Box::new(left), Box::new(right), strict),
            };
        }
        Ok(left)
    }

    fn unary(&mut self) -> R<Expr> {
        if self.is("not") {
            self.bump();
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary_bool()
    }

    fn primary_bool(&mut self) -> R<Expr> {
        match self.tok().clone() {
            Tok::Word("(") => {
                let save = self.pos;
                self.bump();
                let as_bool = match self.bool_expr() {
                    Ok(e) if self.is(")") => {
                        self.bump();
                        return Ok(e);
                    }
                    Ok(_) => {
                        let mut expected = vec![")"];
                        expected.extend(self.bool_ops());
                        self.unexpected(&expected)
                    }
                    Err(e) => e,
                };
                self.pos = save;
                self.comparison(None).map_err(|e| later(as_bool, e))
            }
            Tok::Word("member") => {
                self.bump();
                self.expect("(")?;
                let t = self.bump();
                let Tok::Str(class) = &t.tok else {
                    self.pos -= 1;
                    return Err(self.unexpected(&["constant string"]));
                };
                if !self.classes.is_defined(class) {
                    return Err(self.error_at(&t, format!("Not defined client class '{class}'")));
                }
                self.expect(")")?;
                Ok(Expr::Member(class.clone()))
            }
            Tok::Word("match") => {
                self.bump();
                self.expect("(")?;
                let t = self.bump();
                let Tok::Str(re) = t.tok else {
                    self.pos -= 1;
                    return Err(self.unexpected(&["constant string"]));
                };
                self.expect(",")?;
                let s = self.string_expr()?;
                self.expect(")")?;
                Ok(Expr::Match(re, s))
            }
            Tok::Word("option" | "relay4" | "vendor" | "vendor-class") => {
                match self.access(true)? {
                    Access::Bool(e) => Ok(e),
                    Access::Str(s) => self.comparison(Some(s)),
                }
            }
            _ => self.comparison(None),
        }
    }

    fn comparison(&mut self, first: Option<Str>) -> R<Expr> {
        let left = self.string_from(first)?;
        if !self.is("==") {
            return Err(self.unexpected(&["==", "+"]));
        }
        self.bump();
        let right = self.string_expr()?;
        Ok(Expr::Equal(left, right))
    }

    fn string_expr(&mut self) -> R<Str> {
        self.string_from(None)
    }

    fn string_from(&mut self, first: Option<Str>) -> R<Str> {
        let mut left = match first {
            Some(s) => s,
            None => self.term()?,
        };
        while self.is("+") {
            self.bump();
            let right = self.term()?;
            left = Str::Concat(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// EvalContext::convertUint32 for integer literals used as strings and enterprise ids.
    fn uint32(&self, t: &Spanned, text: &str) -> R<u32> {
        let n: i64 = text
            .parse()
            .map_err(|_| self.error_at(t, format!("Invalid value in {text}")))?;
        u32::try_from(n).map_err(|_| {
            self.error_at(
                t,
                format!("Invalid value in {text}. Allowed range: 0..4294967295"),
            )
        })
    }

    /// EvalContext::convertOptionCode (DHCPv4 range).
    fn option_code(&mut self, names: bool) -> R<u16> {
        let t = self.bump();
        match &t.tok {
            Tok::Int(text) => {
                let n: i32 = text.parse().map_err(|_| {
                    self.error_at(&t, format!("Option code has invalid value in {text}"))
                })?;
                u16::try_from(n).ok().filter(|n| *n <= 255).ok_or_else(|| {
                    self.error_at(
                        &t,
                        format!("Option code has invalid value in {text}. Allowed range: 0..255"),
                    )
                })
            }
            Tok::OptionName(name) if names => self
                .options
                .option_code(name)
                .ok_or_else(|| self.error_at(&t, format!("option '{name}' is not defined"))),
            _ => {
                self.pos -= 1;
                Err(self.unexpected(if names {
                    &["integer", "option name"]
                } else {
                    &["integer"]
                }))
            }
        }
    }

    fn repr(&mut self, allow_exists: bool, allow_option: bool) -> R<Option<Repr>> {
        let r = match self.tok() {
            Tok::Word("text") => Some(Repr::Text),
            Tok::Word("hex") => Some(Repr::Hex),
            Tok::Word("exists") if allow_exists => None,
            _ => {
                let mut expected = Vec::new();
                if allow_option {
                    expected.push("option");
                }
                expected.extend(["text", "hex"]);
                if allow_exists {
                    expected.push("exists");
                }
                return Err(self.unexpected(&expected));
            }
        };
        self.bump();
        Ok(r)
    }

    fn enterprise(&mut self) -> R<u32> {
        let t = self.bump();
        match &t.tok {
            Tok::Int(text) => self.uint32(&t, text),
            Tok::Word("*") => Ok(0),
            _ => {
                self.pos -= 1;
                Err(self.unexpected(&["integer", "*"]))
            }
        }
    }

    /// option[...], relay4[...], vendor..., vendor-class...: a boolean `.exists` or a string.
    fn access(&mut self, allow_bool: bool) -> R<Access> {
        let head = self.bump();
        let Tok::Word(word) = head.tok else {
            unreachable!("access() is entered on a keyword")
        };
        match word {
            "option" => {
                self.expect("[")?;
                let code = self.option_code(true)?;
                self.expect("]")?;
                self.expect(".")?;
                if self.is("option") {
                    self.bump();
                    self.expect("[")?;
                    let sub = self.option_code(false)?;
                    self.expect("]")?;
                    self.expect(".")?;
                    return Ok(match self.repr(allow_bool, false)? {
                        None => Access::Bool(Expr::SubOptionExists(code, sub)),
                        Some(r) => Access::Str(Str::SubOption(code, sub, r)),
                    });
                }
                Ok(match self.repr(allow_bool, true)? {
                    None => Access::Bool(Expr::OptionExists(code)),
                    Some(r) => Access::Str(Str::Option(code, r)),
                })
            }
            "relay4" => {
                self.expect("[")?;
                let code = self.option_code(false)?;
                self.expect("]")?;
                self.expect(".")?;
                Ok(match self.repr(allow_bool, false)? {
                    None => Access::Bool(Expr::Relay4Exists(code)),
                    Some(r) => Access::Str(Str::Relay4(code, r)),
                })
            }
            "vendor" => {
                if self.is(".") {
                    self.bump();
                    self.expect("enterprise")?;
                    return Ok(Access::Str(Str::VendorEnterprise));
                }
                self.expect("[")?;
                let ent = self.enterprise()?;
                self.expect("]")?;
                self.expect(".")?;
                if self.is("exists") && allow_bool {
                    self.bump();
                    return Ok(Access::Bool(Expr::VendorExists(ent)));
                }
                if !self.is("option") {
                    return Err(self.unexpected(if allow_bool {
                        &["option", "exists"]
                    } else {
                        &["option"]
                    }));
                }
                self.bump();
                self.expect("[")?;
                let code = self.option_code(false)?;
                self.expect("]")?;
                self.expect(".")?;
                Ok(match self.repr(allow_bool, false)? {
                    None => Access::Bool(Expr::VendorOptionExists(ent, code)),
                    Some(r) => Access::Str(Str::VendorOption(ent, code, r)),
                })
            }
            _ => {
                // vendor-class
                if self.is(".") {
                    self.bump();
                    self.expect("enterprise")?;
                    return Ok(Access::Str(Str::VendorClassEnterprise));
                }
                self.expect("[")?;
                let ent = self.enterprise()?;
                self.expect("]")?;
                self.expect(".")?;
                if self.is("exists") && allow_bool {
                    self.bump();
                    return Ok(Access::Bool(Expr::VendorClassExists(ent)));
                }
                if !self.is("data") {
                    return Err(self.unexpected(if allow_bool {
                        &["exists", "data"]
                    } else {
                        &["data"]
                    }));
                }
                self.bump();
                if self.is("[") {
                    self.bump();
                    let t = self.bump();
                    let Tok::Int(text) = &t.tok else {
                        self.pos -= 1;
                        return Err(self.unexpected(&["integer"]));
                    };
                    let n: i64 = text.parse().map_err(|_| {
                        self.error_at(&t, format!("Invalid integer value in {text}"))
                    })?;
                    let index = u8::try_from(n).map_err(|_| {
                        self.error_at(
                            &t,
                            format!("Invalid value in {text}. Allowed range: 0..255"),
                        )
                    })?;
                    self.expect("]")?;
                    return Ok(Access::Str(Str::VendorClassData(ent, Some(index))));
                }
                Ok(Access::Str(Str::VendorClassData(ent, None)))
            }
        }
    }

    fn call1(&mut self) -> R<Box<Str>> {
        self.expect("(")?;
        let s = self.string_expr()?;
        self.expect(")")?;
        Ok(Box::new(s))
    }

    fn call2(&mut self) -> R<(Box<Str>, Box<Str>)> {
        self.expect("(")?;
        let a = self.string_expr()?;
        self.expect(",")?;
        let b = self.string_expr()?;
        self.expect(")")?;
        Ok((Box::new(a), Box::new(b)))
    }

    fn int_text(&mut self, also_all: bool) -> R<String> {
        match self.tok().clone() {
            Tok::Int(n) => {
                self.bump();
                Ok(n)
            }
            Tok::Word("all") if also_all => {
                self.bump();
                Ok("all".into())
            }
            _ => Err(self.unexpected(if also_all {
                &["integer", "all"]
            } else {
                &["integer"]
            })),
        }
    }

    fn term(&mut self) -> R<Str> {
        let t = self.cur().clone();
        let s = match &t.tok {
            Tok::Str(s) => {
                self.bump();
                Str::Literal(s.as_bytes().to_vec())
            }
            Tok::Hex(h) => {
                self.bump();
                Str::Literal(hex_literal(h))
            }
            Tok::Ip(a) => {
                self.bump();
                Str::Literal(match a.parse::<std::net::IpAddr>() {
                    Ok(std::net::IpAddr::V4(v4)) => v4.octets().to_vec(),
                    Ok(std::net::IpAddr::V6(v6)) => v6.octets().to_vec(),
                    Err(_) => Vec::new(),
                })
            }
            Tok::Int(n) => {
                self.bump();
                Str::Literal(self.uint32(&t, n)?.to_be_bytes().to_vec())
            }
            Tok::Word("option" | "relay4" | "vendor" | "vendor-class") => {
                match self.access(false)? {
                    Access::Str(s) => s,
                    Access::Bool(_) => unreachable!("exists refused without allow_bool"),
                }
            }
            Tok::Word("pkt") => {
                self.bump();
                self.expect(".")?;
                let f = match self.tok() {
                    Tok::Word("iface") => PktField::Iface,
                    Tok::Word("src") => PktField::Src,
                    Tok::Word("dst") => PktField::Dst,
                    Tok::Word("len") => PktField::Len,
                    _ => return Err(self.unexpected(&["iface", "src", "dst", "len"])),
                };
                self.bump();
                Str::Pkt(f)
            }
            Tok::Word("pkt4") => {
                self.bump();
                self.expect(".")?;
                let f = match self.tok() {
                    Tok::Word("mac") => Pkt4Field::Mac,
                    Tok::Word("hlen") => Pkt4Field::Hlen,
                    Tok::Word("htype") => Pkt4Field::Htype,
                    Tok::Word("ciaddr") => Pkt4Field::Ciaddr,
                    Tok::Word("giaddr") => Pkt4Field::Giaddr,
                    Tok::Word("yiaddr") => Pkt4Field::Yiaddr,
                    Tok::Word("siaddr") => Pkt4Field::Siaddr,
                    Tok::Word("msgtype") => Pkt4Field::MsgType,
                    Tok::Word("transid") => Pkt4Field::TransId,
                    _ => return Err(self.unexpected(&[])),
                };
                self.bump();
                Str::Pkt4(f)
            }
            Tok::Word("relay6") => {
                // EvalContext::convertNestLevelNumber refuses any nest level in DHCPv4.
                self.bump();
                self.expect("[")?;
                let level = self.bump();
                return Err(match level.tok {
                    Tok::Int(_) => self.error_at(&level, "Nest level invalid for DHCPv4 packets"),
                    _ => {
                        self.pos -= 1;
                        self.unexpected(&["integer"])
                    }
                });
            }
            Tok::Word("pkt6") => return Err(self.error_at(&t, "pkt6 can only be used in DHCPv6.")),
            Tok::Word("substring") => {
                self.bump();
                self.expect("(")?;
                let s = self.string_expr()?;
                self.expect(",")?;
                let start = self.int_text(false)?;
                self.expect(",")?;
                let len = self.int_text(true)?;
                self.expect(")")?;
                Str::Substring(Box::new(s), start, len)
            }
            Tok::Word("split") => {
                self.bump();
                self.expect("(")?;
                let s = self.string_expr()?;
                self.expect(",")?;
                let d = self.string_expr()?;
                self.expect(",")?;
                let field = self.int_text(false)?;
                self.expect(")")?;
                Str::Split(Box::new(s), Box::new(d), field)
            }
            Tok::Word("concat") => {
                self.bump();
                let (a, b) = self.call2()?;
                Str::Concat(a, b)
            }
            Tok::Word("ifelse" | "sifelse") => {
                self.bump();
                self.expect("(")?;
                let c = self.bool_expr()?;
                self.expect(",")?;
                let a = self.string_expr()?;
                self.expect(",")?;
                let b = self.string_expr()?;
                self.expect(")")?;
                Str::IfElse(Box::new(c), Box::new(a), Box::new(b))
            }
            Tok::Word("hexstring") => {
                self.bump();
                let (a, b) = self.call2()?;
                Str::ToHex(a, b)
            }
            Tok::Word("addrtotext") => {
                self.bump();
                Str::AddrToText(self.call1()?)
            }
            Tok::Word(
                w @ ("int8totext" | "int16totext" | "int32totext" | "uint8totext" | "uint16totext"
                | "uint32totext"),
            ) => {
                let kind = match *w {
                    "int8totext" => IntText::Int8,
                    "int16totext" => IntText::Int16,
                    "int32totext" => IntText::Int32,
                    "uint8totext" => IntText::Uint8,
                    "uint16totext" => IntText::Uint16,
                    _ => IntText::Uint32,
                };
                self.bump();
                Str::IntToText(kind, self.call1()?)
            }
            Tok::Word("lcase") => {
                self.bump();
                Str::Lcase(self.call1()?)
            }
            Tok::Word("ucase") => {
                self.bump();
                Str::Ucase(self.call1()?)
            }
            Tok::Word("(") => {
                self.bump();
                let s = self.string_expr()?;
                self.expect(")")?;
                s
            }
            _ => return Err(self.unexpected(&[])),
        };
        Ok(s)
    }
}

/// TokenHexString: an odd digit count gets a leading zero.
fn hex_literal(text: &str) -> Vec<u8> {
    let digits = &text[2..];
    let padded = if digits.len() % 2 == 1 {
        format!("0{digits}")
    } else {
        digits.to_string()
    };
    (0..padded.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&padded[i..i + 2], 16).ok())
        .collect()
}
