//! log4cplus's PatternLayout, the part Kea's `pattern` output option uses (Kea ARM, "Logging
//! Message Format"): `%D{...}` local and `%d{...}` UTC dates with strftime fields and `%q`
//! milliseconds, `%p` severity, `%c` logger, `%i` process id, `%t` thread id, `%m` message,
//! `%n` newline, `%%`, each with an optional `-` (left-justify) and minimum width.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Kea's default for files and the console (src/lib/log/logger_manager_impl.cc).
pub const DEFAULT: &str = "%D{%Y-%m-%d %H:%M:%S.%q} %-5p [%c/%i.%t] %m\n";
/// Kea's default for syslog, which adds its own time and host.
pub const SYSLOG: &str = "%-5p [%c.%t] %m\n";

/// One line to write.
pub struct Record<'a> {
    pub time: SystemTime,
    pub severity: &'a str,
    pub logger: &'a str,
    pub pid: u32,
    pub thread: u64,
    pub message: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Field {
        conversion: char,
        left: bool,
        width: usize,
        /// The `{...}` argument of %d and %D.
        argument: Option<String>,
    },
}

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pieces: Vec<Piece>,
}

impl Pattern {
    pub fn parse(text: &str) -> Pattern {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                literal.push(c);
                continue;
            }
            let left = chars.next_if_eq(&'-').is_some();
            let mut width = 0usize;
            while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                width = width * 10 + d as usize;
                chars.next();
            }
            let Some(conversion) = chars.next() else {
                literal.push('%');
                break;
            };
            if conversion == '%' {
                literal.push('%');
                continue;
            }
            let argument = if chars.next_if_eq(&'{').is_some() {
                Some(chars.by_ref().take_while(|c| *c != '}').collect())
            } else {
                None
            };
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Field {
                conversion,
                left,
                width,
                argument,
            });
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Pattern { pieces }
    }

    pub fn render(&self, r: &Record) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            let (conversion, left, width, argument) = match piece {
                Piece::Text(t) => {
                    out.push_str(t);
                    continue;
                }
                Piece::Field {
                    conversion,
                    left,
                    width,
                    argument,
                } => (*conversion, *left, *width, argument.as_deref()),
            };
            let value = match conversion {
                'D' => date(r.time, argument.unwrap_or("%Y-%m-%d %H:%M:%S"), true),
                'd' => date(r.time, argument.unwrap_or("%Y-%m-%d %H:%M:%S"), false),
                'p' => r.severity.to_string(),
                'c' => r.logger.to_string(),
                'i' => r.pid.to_string(),
                't' => r.thread.to_string(),
                'm' => r.message.to_string(),
                'n' => "\n".to_string(),
                other => format!("%{other}"),
            };
            if left {
                let _ = write!(out, "{value:<width$}");
            } else {
                let _ = write!(out, "{value:>width$}");
            }
        }
        out
    }
}

/// Broken-down time: local (the server's zone, as %D) or UTC: year, month, day, hour,
/// minute, second, microsecond.
pub fn broken_down(t: SystemTime, local: bool) -> (i64, u32, u32, u32, u32, u32, u32) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64
        + if local {
            utc_offset(since.as_secs() as i64)
        } else {
            0
        };
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400) as u32);
    let (y, m, d) = civil_from_days(days);
    (
        y,
        m,
        d,
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_micros(),
    )
}

/// The local zone's offset from UTC at `secs`, from the C library (TZ, /etc/localtime).
fn utc_offset(secs: i64) -> i64 {
    let t = secs as nix::libc::time_t;
    // SAFETY: localtime_r writes into the tm we own and reads only `t`.
    let mut tm: nix::libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !nix::libc::localtime_r(&t, &mut tm).is_null() };
    if ok {
        tm.tm_gmtoff
    } else {
        0
    }
}

fn date(t: SystemTime, format: &str, local: bool) -> String {
    let (y, mo, d, h, mi, s, us) = broken_down(t, local);
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let _ = match chars.next() {
            Some('Y') => write!(out, "{y:04}"),
            Some('m') => write!(out, "{mo:02}"),
            Some('d') => write!(out, "{d:02}"),
            Some('H') => write!(out, "{h:02}"),
            Some('M') => write!(out, "{mi:02}"),
            Some('S') => write!(out, "{s:02}"),
            Some('q') => write!(out, "{:03}", us / 1000),
            Some('Q') => write!(out, "{:03}.{:03}", us / 1000, us % 1000),
            Some('%') => write!(out, "%"),
            Some(other) => write!(out, "%{other}"),
            None => write!(out, "%"),
        };
    }
    out
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
/// civil_from_days).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn keas_default_layout() {
        let r = Record {
            time: UNIX_EPOCH + Duration::from_micros(1_796_017_321_207_352),
            severity: "INFO",
            logger: "kea-dhcp4.leases",
            pid: 5413,
            thread: 140090814894592,
            message: "DHCP4_LEASE_ALLOC [hwtype=1 00:0c:01:02:03:04], cid=[no info], tid=0x0: lease 10.0.0.10 has been allocated for 3600 seconds",
        };
        let utc = Pattern::parse(&DEFAULT.replace("%D", "%d"));
        assert_eq!(
            utc.render(&r),
            "2026-11-30 05:42:01.207 INFO  [kea-dhcp4.leases/5413.140090814894592] DHCP4_LEASE_ALLOC [hwtype=1 00:0c:01:02:03:04], cid=[no info], tid=0x0: lease 10.0.0.10 has been allocated for 3600 seconds\n"
        );
        assert_eq!(
            Pattern::parse(SYSLOG).render(&r)[..30],
            *"INFO  [kea-dhcp4.leases.140090"
        );
        assert_eq!(
            Pattern::parse("%p|%10c|%-3i|%%|%x").render(&r),
            "INFO|kea-dhcp4.leases|5413|%|%x"
        );
    }
}
