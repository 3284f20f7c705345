//! The parsed expression: a boolean test over string-valued terms, as Kea's token list
//! (src/lib/eval/token.h) describes them.

/// `.text` or `.hex` of an option-like source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repr {
    Text,
    Hex,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PktField {
    Iface,
    Src,
    Dst,
    Len,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pkt4Field {
    Mac,
    Hlen,
    Htype,
    Ciaddr,
    Giaddr,
    Yiaddr,
    Siaddr,
    MsgType,
    TransId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntText {
    Int8,
    Int16,
    Int32,
    Uint8,
    Uint16,
    Uint32,
}

/// A boolean expression (`bool_expr` in parser.yy).
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Not(Box<Expr>),
    /// `and`; `strict` for Kea 3.0's `sand` and for every `and` before 3.0 (TokenAnd
    /// evaluates both sides; 3.0's `and` short-circuits with TokenPopOrBranchFalse).
    And(Box<Expr>, Box<Expr>, bool),
    Or(Box<Expr>, Box<Expr>, bool),
    Equal(Str, Str),
    OptionExists(u16),
    SubOptionExists(u16, u16),
    Relay4Exists(u16),
    VendorExists(u32),
    VendorOptionExists(u32, u16),
    VendorClassExists(u32),
    Member(String),
    Match(String, Str),
}

/// A string expression (`string_expr`): every value in Kea's language is a byte string.
#[derive(Clone, Debug, PartialEq)]
pub enum Str {
    Literal(Vec<u8>),
    Option(u16, Repr),
    SubOption(u16, u16, Repr),
    Relay4(u16, Repr),
    Pkt(PktField),
    Pkt4(Pkt4Field),
    /// substring(string, start, length); start and length stay text, converted at
    /// evaluation as TokenSubstring does ("all" for the rest).
    Substring(Box<Str>, String, String),
    Split(Box<Str>, Box<Str>, String),
    Concat(Box<Str>, Box<Str>),
    IfElse(Box<Expr>, Box<Str>, Box<Str>),
    ToHex(Box<Str>, Box<Str>),
    AddrToText(Box<Str>),
    IntToText(IntText, Box<Str>),
    Lcase(Box<Str>),
    Ucase(Box<Str>),
    VendorEnterprise,
    VendorClassEnterprise,
    VendorOption(u32, u16, Repr),
    VendorClassData(u32, Option<u8>),
}
