//! The configuration's class tests, parsed once, and the two classification passes Kea runs:
//! before the host lookup (classifyPacket) and after it (KNOWN/UNKNOWN, reserved classes,
//! then tests that depend on them).

use crate::kea::expr::{self, ClassDef, ClassLookup, ClassSet, Expr, OptionLookup, Packet};
use crate::kea::model::{Config, Reservation};
use crate::kea::options::Registry;
use crate::wire::dhcp::Message;

use super::{EngineError, Incoming};

pub struct Classifier {
    names: Vec<String>,
    tests: Vec<Option<Expr>>,
    required: Vec<bool>,
    registry: Registry,
}

struct Options<'a>(&'a Registry);

impl OptionLookup for Options<'_> {
    fn option_code(&self, name: &str) -> Option<u16> {
        self.0.by_name("dhcp4", name).map(|d| d.code)
    }
}

struct Earlier<'a>(&'a [String]);

impl ClassLookup for Earlier<'_> {
    fn is_defined(&self, class: &str) -> bool {
        expr::is_builtin_class(class) || self.0.iter().any(|c| c == class)
    }
}

impl Classifier {
    pub fn new(config: &Config) -> Result<Self, EngineError> {
        let mut registry = Registry::new(config.version);
        for def in &config.option_defs {
            registry.add(def.clone());
        }
        let mut names = Vec::new();
        let mut tests = Vec::new();
        let mut required = Vec::new();
        for class in &config.classes {
            let test = match &class.test {
                Some((text, _)) if !text.trim().is_empty() => Some(
                    expr::parse(text, config.version, &Options(&registry), &Earlier(&names))
                        .map_err(|e| EngineError::Class {
                            class: class.name.clone(),
                            message: e.to_string(),
                        })?,
                ),
                _ => None,
            };
            names.push(class.name.clone());
            tests.push(test);
            required.push(class.only_if_required);
        }
        Ok(Classifier {
            names,
            tests,
            required,
            registry,
        })
    }

    fn defs(&self) -> Vec<ClassDef<'_>> {
        self.names
            .iter()
            .zip(&self.tests)
            .zip(&self.required)
            .map(|((name, test), required)| ClassDef {
                name,
                test: test.as_ref(),
                only_if_required: *required,
            })
            .collect()
    }

    fn packet<'a>(&'a self, msg: &'a Message, q: &'a Incoming) -> Packet<'a> {
        Packet {
            msg,
            iface: &q.iface,
            src: (*q.source.ip()).into(),
            dst: q.destination.into(),
            len: q.len,
            registry: Some(&self.registry),
        }
    }

    /// The first pass (before subnet selection, which may depend on classes).
    pub fn early(&self, msg: &Message, q: &Incoming) -> ClassSet {
        let defs = self.defs();
        let pkt = self.packet(msg, q);
        let mut set = ClassSet::default();
        set.insert("ALL");
        if let Some(vendor) = pkt.option(60) {
            set.insert(format!("VENDOR_CLASS_{}", String::from_utf8_lossy(&vendor)));
        }
        run(&defs, &pkt, &mut set, |d| !d);
        set
    }

    /// After the host lookup: the reservation's classes, KNOWN or UNKNOWN, then the tests that
    /// depend on them (Dhcpv4Srv::runOne, "Perform second pass of classification").
    pub fn late(
        &self,
        set: &mut ClassSet,
        msg: &Message,
        q: &Incoming,
        host: Option<&Reservation>,
        _config: &Config,
    ) {
        if let Some(h) = host {
            for c in &h.client_classes {
                set.insert(c.clone());
            }
        }
        set.insert(if host.is_some() { "KNOWN" } else { "UNKNOWN" });
        let defs = self.defs();
        let pkt = self.packet(msg, q);
        run(&defs, &pkt, set, |d| d);
    }

    /// `require-client-classes` of the shared network, subnet and pool: evaluated only once
    /// the address is chosen, in the order the classes are defined, a class without a test
    /// simply joining (Dhcpv4Srv::requiredClassify).
    pub fn required(&self, set: &mut ClassSet, names: &[&String], msg: &Message, q: &Incoming) {
        let pkt = self.packet(msg, q);
        for (i, name) in self.names.iter().enumerate() {
            if !names.contains(&name) || set.contains(name) {
                continue;
            }
            match &self.tests[i] {
                Some(test) => {
                    if let Ok(true) = expr::evaluate(test, &pkt, set) {
                        set.insert(name.clone());
                    }
                }
                None => set.insert(name.clone()),
            }
        }
    }
}

fn run(defs: &[ClassDef], pkt: &Packet, set: &mut ClassSet, pass: impl Fn(bool) -> bool) {
    for def in defs {
        let Some(test) = def.test else { continue };
        if def.only_if_required || !pass(expr::depends_on_known(test, defs)) {
            continue;
        }
        if let Ok(true) = expr::evaluate(test, pkt, set) {
            set.insert(def.name.to_string());
        }
    }
}
