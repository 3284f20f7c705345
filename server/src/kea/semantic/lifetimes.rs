//! The lease times a subnet ends up with (its own, else its shared network's, else the
//! globals', as SimpleParser4::deriveParameters copies them down, `valid-lifetime` defaulting
//! to 7200) and the checks Subnet4ConfigParser::initSubnet makes on them: negative timers,
//! renew after rebind, and the valid-lifetime triplet (SimpleParser::parseIntTriplet). Kea
//! reads them as int64 and stores them in uint32s, so 2^32 becomes 0 where it is stored
//! before the check, and the messages show it so.

use crate::kea::diag::{Diagnostic, Span};
use crate::kea::json::Node;

use super::Check;

/// The raw integers as written at one level.
#[derive(Clone, Copy, Debug, Default)]
pub struct Lifetimes {
    renew: Option<i64>,
    rebind: Option<i64>,
    valid: Option<i64>,
    min_valid: Option<i64>,
    max_valid: Option<i64>,
}

impl Lifetimes {
    pub fn read(node: &Node) -> Self {
        let int = |key| node.get(key).and_then(Node::as_int);
        Lifetimes {
            renew: int("renew-timer"),
            rebind: int("rebind-timer"),
            valid: int("valid-lifetime"),
            min_valid: int("min-valid-lifetime"),
            max_valid: int("max-valid-lifetime"),
        }
    }

    /// The global level, with SimpleParser4's default valid-lifetime.
    pub fn global(node: &Node) -> Self {
        let mut l = Lifetimes::read(node);
        l.valid = l.valid.or(Some(7200));
        l
    }

    /// `self` where set, else `outer` (an inner level overrides what it inherits).
    pub fn within(self, outer: Lifetimes) -> Lifetimes {
        Lifetimes {
            renew: self.renew.or(outer.renew),
            rebind: self.rebind.or(outer.rebind),
            valid: self.valid.or(outer.valid),
            min_valid: self.min_valid.or(outer.min_valid),
            max_valid: self.max_valid.or(outer.max_valid),
        }
    }

    /// The checks of initSubnet, in its order (negative timers, renew after rebind, then the
    /// valid-lifetime triplet); errors carry no position (Kea's don't).
    pub fn check(&self) -> Check<()> {
        let fail = |m: String| Err(Diagnostic::semantic_error(None, m));
        let wrap = |v: i64| v as u32;
        for (name, v) in [("renew-timer", self.renew), ("rebind-timer", self.rebind)] {
            if let Some(v) = v.filter(|v| *v < 0) {
                return fail(format!(
                    "the value of {name} ({v}) must be a positive number"
                ));
            }
        }
        if let (Some(renew), Some(rebind)) = (self.renew, self.rebind.map(wrap)) {
            if renew > i64::from(rebind) {
                return fail(format!(
                    "the value of renew-timer ({renew}) is greater than the value of \
                     rebind-timer ({rebind})"
                ));
            }
        }
        self.valid_triplet(None)
    }

    /// SimpleParser::parseIntTriplet for valid-lifetime. `scope` is where a class was
    /// written: without inheritance a class may have min and max but no value, which Kea
    /// refuses naming that place.
    pub fn valid_triplet(&self, scope: Option<&Span>) -> Check<()> {
        let fail = |m: String| Err(Diagnostic::semantic_error(None, m));
        let wrap = |v: i64| v as u32;
        if let (None, Some(_), Some(_), Some(scope)) =
            (self.valid, self.min_valid, self.max_valid, scope)
        {
            return fail(format!(
                "have min-valid-lifetime and max-valid-lifetime but no valid-lifetime \
                 (default) in {}",
                scope.element()
            ));
        }
        if let (Some(value), min, max) = (self.valid, self.min_valid, self.max_valid) {
            let value = wrap(value);
            match (min.map(wrap), max.map(wrap)) {
                (Some(min), Some(max)) if min > max => {
                    return fail(format!(
                        "the value of min-valid-lifetime ({min}) is not less than \
                         max-valid-lifetime ({max})"
                    ))
                }
                (Some(min), Some(max)) if value < min || value > max => {
                    return fail(format!(
                        "the value of (default) valid-lifetime ({value}) is not between \
                         min-valid-lifetime ({min}) and max-valid-lifetime ({max})"
                    ))
                }
                (Some(min), _) if value < min => {
                    return fail(format!(
                        "the value of min-valid-lifetime ({min}) is not less than (default) \
                         valid-lifetime ({value})"
                    ))
                }
                (_, Some(max)) if value > max => {
                    return fail(format!(
                        "the value of (default) valid-lifetime ({value}) is not less than \
                         max-valid-lifetime ({max})"
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }
}
