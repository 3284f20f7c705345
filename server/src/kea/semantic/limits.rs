//! Integer ranges Kea's config parsers enforce after the grammar accepted any integer, each
//! with Kea's own wording (several parsers, several styles):
//! - CfgExpiration::rangeCheck for `expired-leases-processing` (src/lib/dhcpsrv/cfg_expiration.cc);
//! - DbAccessParser::parse for `lease-database` (src/lib/dhcpsrv/parsers/dbaccess_parser.cc);
//! - SimpleParser::getUint32/getUint16 for the globals Dhcp4ConfigParser::parse reads
//!   (`decline-probation-period`, `dhcp4o6-port`, src/bin/dhcp4/json_config_parser.cc).

use crate::kea::json::Node;

use super::{error, Check};

const U32: i64 = u32::MAX as i64;

/// ExpirationConfigParser::parse, in its order, through CfgExpiration's setters.
pub fn expired_leases(node: &Node) -> Check<()> {
    const LIMITS: [(&str, i64); 6] = [
        ("reclaim-timer-wait-time", 65535),
        ("flush-reclaimed-timer-wait-time", 65535),
        ("hold-reclaimed-time", U32),
        ("max-reclaim-leases", U32),
        ("max-reclaim-time", 10000),
        ("unwarned-reclaim-cycles", 65535),
    ];
    for (key, max) in LIMITS {
        let Some((value, span)) = node.get(key).and_then(|n| Some((n.as_int()?, &n.span))) else {
            continue;
        };
        if value < 0 {
            return Err(error(
                span,
                format!("value for configuration parameter '{key}' must not be negative"),
            ));
        }
        if value > max {
            return Err(error(
                span,
                format!(
                    "out range value '{value}' for configuration parameter '{key}', expected \
                     maximum value of '{max}'"
                ),
            ));
        }
    }
    Ok(())
}

/// The range checks at the end of DbAccessParser::parse, in its order (lease and host
/// databases alike).
pub fn lease_database(node: &Node) -> Check<()> {
    let int = |key: &str| node.get(key).and_then(|n| Some((n.as_int()?, &n.span)));
    for (key, max) in [
        ("lfc-interval", U32),
        ("connect-timeout", U32),
        ("port", 65535),
        ("max-row-errors", U32),
    ] {
        if let Some((value, span)) = int(key).filter(|(v, _)| *v < 0 || *v > max) {
            return Err(error(
                span,
                format!("{key} value: {value} is out of range, expected value: 0..{max}"),
            ));
        }
    }
    if let Some((_, span)) = int("max-reconnect-tries").filter(|(v, _)| *v < 0) {
        return Err(error(span, "max-reconnect-tries cannot be less than zero:"));
    }
    if let Some((value, span)) = int("reconnect-wait-time").filter(|(v, _)| *v < 0 || *v > U32) {
        return Err(error(
            span,
            format!("reconnect-wait-time {value} must be in range 0...MAX_UINT32 (4294967295)"),
        ));
    }
    Ok(())
}

/// SimpleParser::getIntType for the globals Dhcp4ConfigParser::parse reads last.
pub fn globals(dhcp4: &Node) -> Check<()> {
    for (key, max) in [("decline-probation-period", U32), ("dhcp4o6-port", 65535)] {
        let Some(node) = dhcp4.get(key) else { continue };
        if let Some(value) = node.as_int().filter(|v| *v < 0 || *v > max) {
            return Err(error(
                &node.span,
                format!("out of range value ({value}) specified for parameter '{key}'"),
            ));
        }
    }
    Ok(())
}
