//! Each class of the config, judged for each firmware of the matrix: whether its test is true
//! for that firmware's DISCOVER and, when false, why, down to the term (netbootd's evaluator
//! in trace mode, `kea::expr::explain`). Classes are replayed in Kea's order
//! (Dhcpv4Exchange::classifyPacket, then the KNOWN/UNKNOWN pass after the host lookup, then
//! required classes in Dhcpv4Srv::requiredClassify, src/bin/dhcp4/dhcp4_srv.cc), so
//! `member()` sees what Kea's would, and a class's place in that order is said too: Kea
//! cannot explain any of this; it only logs "true" or "false".

use serde::Serialize;

use netbootd::kea::expr::explain::{explain, literal, render_str};
use netbootd::kea::expr::{
    self, depends_on_known, ClassDef, ClassLookup, ClassSet, Expr, OptionLookup, Packet, Str,
};
use netbootd::kea::model::Config;
use netbootd::kea::options::Registry;
use netbootd::kea::KeaVersion;
use netbootd::wire::dhcp::Message;

/// One class, its test, when Kea evaluates it, and its verdict per firmware.
#[derive(Debug, Clone, Serialize)]
pub struct ClassReport {
    pub class: String,
    /// `file:line` of the class.
    pub at: String,
    pub test: Option<String>,
    /// When Kea evaluates the test.
    pub when: String,
    /// What holds whatever the packet: `member()` of a class evaluated later, ...
    pub notes: Vec<String>,
    pub verdicts: Vec<ClassVerdict>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassVerdict {
    pub firmware: String,
    /// `true`, `false`, `error` or `not evaluated`.
    pub result: String,
    pub reasons: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Stage {
    /// classifyPacket, in configuration order, as the packet arrives.
    Arrival,
    /// After the host lookup, because the test depends on KNOWN/UNKNOWN.
    AfterHost,
    /// only-if-required / only-in-additional-list: requiredClassify, after subnet selection.
    Required,
    /// No test: only host reservations (or nothing) assign it.
    NoTest,
}

struct Class {
    name: String,
    test: Option<Expr>,
    stage: Stage,
    /// Where the config requires it (require-client-classes / evaluate-additional-classes).
    required_by: Vec<String>,
}

/// The config's classes, parsed once, ready to be replayed on each firmware's DISCOVER.
pub struct Explainer {
    classes: Vec<Class>,
    registry: Registry,
    iface: String,
    pub reports: Vec<ClassReport>,
}

struct Options<'a>(&'a Registry);

impl OptionLookup for Options<'_> {
    fn option_code(&self, name: &str) -> Option<u16> {
        self.0.by_name("dhcp4", name).map(|d| d.code)
    }
}

/// The config passed `check`, so every name its tests use was defined.
struct Checked;

impl ClassLookup for Checked {
    fn is_defined(&self, _: &str) -> bool {
        true
    }
}

/// Kea's keywords for required classes, which 3.0 renamed.
fn required_keywords(version: KeaVersion) -> (&'static str, &'static str) {
    if version == KeaVersion::V3_0 {
        ("only-in-additional-list", "evaluate-additional-classes")
    } else {
        ("only-if-required", "require-client-classes")
    }
}

fn members(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Member(c) => out.push(c.clone()),
        Expr::Not(a) => members(a, out),
        Expr::And(a, b, _) | Expr::Or(a, b, _) => {
            members(a, out);
            members(b, out);
        }
        _ => {}
    }
}

impl Explainer {
    pub fn new(config: &Config) -> Self {
        let mut registry = Registry::new(config.version);
        for def in &config.option_defs {
            registry.add(def.clone());
        }
        let (only_key, require_key) = required_keywords(config.version);
        let mut requirers: Vec<(String, String)> = Vec::new();
        for s in &config.subnets {
            for c in &s.scope.require_client_classes {
                requirers.push((c.clone(), format!("subnet {}", s.prefix)));
            }
            for p in &s.pools {
                for c in &p.require_client_classes {
                    requirers.push((c.clone(), format!("pool {}-{}", p.first, p.last)));
                }
            }
        }
        for n in &config.shared_networks {
            for c in &n.scope.require_client_classes {
                requirers.push((c.clone(), format!("shared network {}", n.name)));
            }
        }
        let parsed: Vec<Option<Expr>> = config
            .classes
            .iter()
            .map(|c| {
                c.test.as_ref().and_then(|(text, _)| {
                    expr::parse(text, config.version, &Options(&registry), &Checked).ok()
                })
            })
            .collect();
        let defs: Vec<ClassDef> = config
            .classes
            .iter()
            .zip(&parsed)
            .map(|(c, t)| ClassDef {
                name: &c.name,
                test: t.as_ref(),
                only_if_required: c.only_if_required,
            })
            .collect();
        let stages: Vec<Stage> = defs
            .iter()
            .map(|d| match d.test {
                None => Stage::NoTest,
                Some(_) if d.only_if_required => Stage::Required,
                Some(t) if depends_on_known(t, &defs) => Stage::AfterHost,
                Some(_) => Stage::Arrival,
            })
            .collect();
        let mut reports = Vec::new();
        let mut classes = Vec::new();
        for (i, (c, test)) in config.classes.iter().zip(parsed.iter()).enumerate() {
            let required_by: Vec<String> = requirers
                .iter()
                .filter(|(n, _)| *n == c.name)
                .map(|(_, w)| w.clone())
                .collect();
            let when = match stages[i] {
                Stage::Arrival => "on arrival, in configuration order".to_string(),
                Stage::AfterHost => "after the host-reservation lookup, because it depends on \
                                     KNOWN/UNKNOWN (validate's machines have no reservation: \
                                     UNKNOWN)"
                    .to_string(),
                Stage::Required if required_by.is_empty() => {
                    format!("never: it is {only_key} and nothing lists it in {require_key}")
                }
                Stage::Required => format!(
                    "only after subnet selection, because it is {only_key}, for {}",
                    required_by.join(", ")
                ),
                Stage::NoTest => "no test: only host reservations assign it".to_string(),
            };
            let mut notes = Vec::new();
            if let Some(t) = test {
                let mut named = Vec::new();
                members(t, &mut named);
                for m in named {
                    if let Some(note) = member_note(&m, i, stages[i], config, &stages) {
                        notes.push(note);
                    }
                }
            }
            let file = c.span.file.rsplit('/').next().unwrap_or(&c.span.file);
            reports.push(ClassReport {
                class: c.name.clone(),
                at: format!("{file}:{}", c.span.start.line),
                test: c.test.as_ref().map(|(t, _)| t.clone()),
                when,
                notes,
                verdicts: Vec::new(),
            });
            classes.push(Class {
                name: c.name.clone(),
                test: test.clone(),
                stage: stages[i],
                required_by,
            });
        }
        Explainer {
            classes,
            registry,
            iface: config
                .interfaces
                .names
                .first()
                .map(|n| n.split('/').next().unwrap_or(n).to_string())
                .unwrap_or_else(|| "eth0".into()),
            reports,
        }
    }

    /// Replays classification of `msg` (the DISCOVER of `firmware`) and records each class's
    /// verdict. `known`: the engine found a host reservation for it.
    pub fn firmware(&mut self, firmware: &str, msg: &Message, known: bool) {
        let len = msg.encode().len();
        let pkt = Packet::broadcast(msg, &self.iface, len).with_registry(&self.registry);
        let mut set = ClassSet::default();
        set.insert("ALL");
        if let Some(vendor) = pkt.option(60) {
            set.insert(format!("VENDOR_CLASS_{}", String::from_utf8_lossy(&vendor)));
        }
        let mut verdicts: Vec<Option<ClassVerdict>> = vec![None; self.classes.len()];
        for pass in [Stage::Arrival, Stage::AfterHost, Stage::Required] {
            if pass == Stage::AfterHost {
                set.insert(if known { "KNOWN" } else { "UNKNOWN" });
            }
            for (i, class) in self.classes.iter().enumerate() {
                if class.stage != pass {
                    continue;
                }
                let Some(test) = &class.test else { continue };
                if pass == Stage::Required && class.required_by.is_empty() {
                    continue;
                }
                let x = explain(test, &pkt, &set);
                let notes = &self.reports[i].notes;
                let reasons = x
                    .reasons
                    .into_iter()
                    .map(|r| {
                        // A member() that is false: say why from the class order, or from
                        // that class's own verdict on this packet.
                        let Some(m) = x
                            .false_members
                            .iter()
                            .find(|m| r.contains(&format!("class '{m}'")))
                        else {
                            return r;
                        };
                        if notes.iter().any(|n| n.contains(&format!("'{m}'"))) {
                            return format!("{r} (see the note)");
                        }
                        let own = self
                            .classes
                            .iter()
                            .position(|c| &c.name == m)
                            .and_then(|j| verdicts[j].as_ref());
                        match own.map(|v| v.result.as_str()) {
                            Some("false") => format!("{r}: its own test is false for this packet"),
                            Some("error") => format!("{r}: its own test fails to evaluate"),
                            _ => r,
                        }
                    })
                    .collect();
                let result = match x.result {
                    Ok(true) => {
                        set.insert(class.name.clone());
                        "true"
                    }
                    Ok(false) => "false",
                    Err(_) => "error",
                };
                verdicts[i] = Some(ClassVerdict {
                    firmware: firmware.to_string(),
                    result: result.into(),
                    reasons,
                });
            }
        }
        for (report, verdict) in self.reports.iter_mut().zip(verdicts) {
            report
                .verdicts
                .push(verdict.unwrap_or_else(|| ClassVerdict {
                    firmware: firmware.to_string(),
                    result: "not evaluated".into(),
                    reasons: Vec::new(),
                }));
        }
    }

    /// What the explanation knows about why `class` matched no firmware: a note on its
    /// class order, or a substring outside its value.
    pub fn why_unmatched(&self, class: &str) -> Option<String> {
        let report = self.reports.iter().find(|r| r.class == class)?;
        report.notes.first().cloned().or_else(|| {
            report
                .verdicts
                .iter()
                .flat_map(|v| v.reasons.iter())
                .find(|r| r.contains("lies outside"))
                .cloned()
        })
    }

    /// A comparison of bytes with text in `class`'s test (never true), and whether the test
    /// needs it (reached through `and` only), so the whole test is never true.
    pub fn never_true(&self, class: &str) -> Option<(String, bool)> {
        let i = self.reports.iter().position(|r| r.class == class)?;
        let reason = self.reports[i]
            .verdicts
            .iter()
            .flat_map(|v| v.reasons.iter())
            .find(|r| r.contains("never true"))?
            .clone();
        let mut needed = Vec::new();
        if let Some(test) = &self.classes[i].test {
            necessary_comparisons(test, &mut needed);
        }
        let necessary = needed.iter().any(|(a, b)| {
            [(a, b), (b, a)].iter().any(|(x, y)| match y {
                Str::Literal(v) => {
                    reason.starts_with(&format!("`{}`", render_str(x)))
                        && (reason.contains(&format!("'{}'", String::from_utf8_lossy(v)))
                            || reason.contains(&literal(v)))
                }
                _ => false,
            })
        });
        Some((reason, necessary))
    }
}

/// The comparisons a test cannot be true without: those joined to it by `and` alone.
fn necessary_comparisons<'e>(e: &'e Expr, out: &mut Vec<(&'e Str, &'e Str)>) {
    match e {
        Expr::Equal(a, b) => out.push((a, b)),
        Expr::And(a, b, _) => {
            necessary_comparisons(a, out);
            necessary_comparisons(b, out);
        }
        _ => {}
    }
}

/// Why `member('m')` in the class at `index` (evaluated at `stage`) cannot see `m` assigned.
fn member_note(
    m: &str,
    index: usize,
    stage: Stage,
    config: &Config,
    stages: &[Stage],
) -> Option<String> {
    let (only_key, _) = required_keywords(config.version);
    let (j, other) = config
        .classes
        .iter()
        .enumerate()
        .find(|(_, c)| c.name == m)?;
    let line = other.span.start.line;
    if j > index {
        return Some(format!(
            "'{m}' is defined later (line {line}); Kea evaluates classes in configuration \
             order, so member('{m}') is false when this test runs"
        ));
    }
    match (stages[j], stage) {
        (Stage::Required, _) => Some(format!(
            "'{m}' (line {line}) is {only_key}: it is evaluated only after classification, so \
             member('{m}') is false here"
        )),
        (Stage::NoTest, Stage::Arrival) => Some(format!(
            "'{m}' (line {line}) has no test: only a host reservation assigns it, after this \
             test runs"
        )),
        _ => None,
    }
}
