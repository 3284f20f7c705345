//! Classification in Kea's order (Dhcpv4Exchange::classifyPacket, evaluateClasses): ALL, then
//! VENDOR_CLASS_<option 60>, then every class with a test in configuration order, skipping
//! only-if-required ones and those depending on KNOWN/UNKNOWN (evaluated after the host
//! lookup, with KNOWN or UNKNOWN set). A test that fails to evaluate assigns nothing.

use std::borrow::Cow;

use super::ast::Expr;
use super::eval::evaluate;
use super::packet::Packet;

/// The classes a packet belongs to, in the order they were assigned, each once. A list
/// searched from the front rather than a hashed set: a packet has a handful of classes, and
/// hashing each name (for every query) cost more than comparing it.
///
/// Names are `Cow`s and the first few live inline: the built-in classes every query gets
/// (ALL, KNOWN or UNKNOWN) are static text, so classifying a query allocates nothing for them.
#[derive(Clone, Debug, Default)]
pub struct ClassSet(smallvec::SmallVec<[Cow<'static, str>; 4]>);

/// Sets: the same names, whatever their order.
impl PartialEq for ClassSet {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|n| other.contains(n))
    }
}

impl Eq for ClassSet {}

impl ClassSet {
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|n| n == name)
    }

    pub fn insert(&mut self, name: impl AsRef<str> + Into<Cow<'static, str>>) {
        if !self.contains(name.as_ref()) {
            self.0.push(name.into());
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|n| &**n)
    }

    /// The names in order, joined by `sep` (for log lines and transcripts).
    pub fn join(&self, sep: &str) -> String {
        self.0.join(sep)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names in order, as owned strings.
    pub fn into_names(self) -> Vec<String> {
        self.0.into_iter().map(Cow::into_owned).collect()
    }
}

impl FromIterator<String> for ClassSet {
    fn from_iter<I: IntoIterator<Item = String>>(names: I) -> Self {
        let mut set = ClassSet::default();
        for name in names {
            set.insert(name);
        }
        set
    }
}

/// A class as the classifier needs it.
pub struct ClassDef<'a> {
    pub name: &'a str,
    pub test: Option<&'a Expr>,
    pub only_if_required: bool,
}

/// Whether a test (through member() of earlier classes) depends on KNOWN or UNKNOWN
/// (ClientClassDefParser sets depend_on_known this way).
pub fn depends_on_known(expr: &Expr, defs: &[ClassDef]) -> bool {
    fn walk(e: &Expr, defs: &[ClassDef], depth: usize) -> bool {
        if depth > 64 {
            return false;
        }
        match e {
            Expr::Member(c) if c == "KNOWN" || c == "UNKNOWN" => true,
            Expr::Member(c) => defs
                .iter()
                .find(|d| d.name == c)
                .and_then(|d| d.test)
                .is_some_and(|t| walk(t, defs, depth + 1)),
            Expr::Not(a) => walk(a, defs, depth + 1),
            Expr::And(a, b, _) | Expr::Or(a, b, _) => {
                walk(a, defs, depth + 1) || walk(b, defs, depth + 1)
            }
            _ => false,
        }
    }
    walk(expr, defs, 0)
}

/// Classifies `pkt`; `known` says whether a host reservation matched it.
pub fn classify(defs: &[ClassDef], pkt: &Packet, known: bool) -> ClassSet {
    let mut set = ClassSet::default();
    set.insert("ALL");
    // classifyByVendor: option 60 as received.
    if let Some(vendor) = pkt.option(60) {
        set.insert(format!("VENDOR_CLASS_{}", String::from_utf8_lossy(&vendor)));
    }
    run(defs, pkt, &mut set, false);
    set.insert(if known { "KNOWN" } else { "UNKNOWN" });
    run(defs, pkt, &mut set, true);
    set
}

fn run(defs: &[ClassDef], pkt: &Packet, set: &mut ClassSet, after_known: bool) {
    for def in defs {
        let Some(test) = def.test else { continue };
        if def.only_if_required || depends_on_known(test, defs) != after_known {
            continue;
        }
        if let Ok(true) = evaluate(test, pkt, set) {
            set.insert(def.name.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ClassSet;

    #[test]
    fn a_class_set_keeps_order_and_compares_as_a_set() {
        let mut a = ClassSet::default();
        for name in ["ALL", "KNOWN", "ALL", "pxe"] {
            a.insert(name);
        }
        assert_eq!(a.iter().collect::<Vec<_>>(), ["ALL", "KNOWN", "pxe"]);
        let mut b = ClassSet::default();
        for name in ["pxe", "ALL", "KNOWN"] {
            b.insert(name.to_string());
        }
        assert_eq!(a, b);
        b.insert("UNKNOWN");
        assert_ne!(a, b);
        assert_eq!(a.into_names(), ["ALL", "KNOWN", "pxe"]);
    }
}
