//! Logging as Kea logs (src/lib/log, the `loggers` configuration): lines in Kea's layout
//! with Kea's message IDs (`DHCP4_LEASE_ALLOC`, `DHCP4_PACKET_RECEIVED`, ...), each logger's
//! severity and debuglevel honoured, sent to its `output_options` (console, rotated files,
//! syslog) with its pattern. TFTP lines carry tftpd-hpa's syslog texts (`RRQ from ... filename
//! ...`), so log-parsing scripts written for either keep working.
//!
//! Code logs through `tracing` with two fields beside the message: `logger` (Kea's logger
//! name, e.g. `kea-dhcp4.leases`) and `id` (the message ID). An event without them is
//! logged under `kea-dhcp4` with the ID `NETBOOTD_LOG`.

pub mod output;
pub mod pattern;

use std::fmt::Write as _;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

use crate::kea::model::{LogOutput, Logger};
use output::Destination;
use pattern::Record;

/// The root logger of kea-dhcp4, which every other name falls back to.
pub const ROOT: &str = "kea-dhcp4";

struct Configured {
    name: String,
    /// The least severe level written.
    level: Level,
    destinations: Vec<Mutex<Destination>>,
}

/// The tracing layer writing Kea's lines.
pub struct KeaLogs {
    loggers: Vec<Configured>,
}

fn level(severity: &str) -> Option<Level> {
    match severity.to_ascii_uppercase().as_str() {
        "FATAL" | "ERROR" => Some(Level::ERROR),
        "WARN" => Some(Level::WARN),
        "INFO" => Some(Level::INFO),
        "DEBUG" => Some(Level::TRACE),
        _ => None, // NONE: nothing
    }
}

fn severity(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        _ => "DEBUG",
    }
}

impl KeaLogs {
    /// The layer for a config's `loggers`; with none, Kea's default (INFO to stdout).
    pub fn new(loggers: &[Logger]) -> Result<KeaLogs, String> {
        let mut configured = Vec::new();
        for logger in loggers {
            let mut destinations = Vec::new();
            for output in &logger.outputs {
                let d = Destination::open(output)
                    .map_err(|e| format!("logger {} output {}: {e}", logger.name, output.output))?;
                destinations.push(Mutex::new(d));
            }
            configured.push(Configured {
                name: logger.name.clone(),
                level: level(&logger.severity).unwrap_or(Level::ERROR),
                destinations,
            });
        }
        if !configured.iter().any(|c| c.name == ROOT) {
            let stdout = LogOutput {
                output: "stdout".into(),
                flush: true,
                maxsize: 0,
                maxver: 0,
                pattern: None,
            };
            configured.push(Configured {
                name: ROOT.into(),
                level: Level::INFO,
                destinations: vec![Mutex::new(
                    Destination::open(&stdout).map_err(|e| format!("stdout: {e}"))?,
                )],
            });
        }
        Ok(KeaLogs {
            loggers: configured,
        })
    }

    /// The configured logger for `name`: itself, else its nearest ancestor, else the root.
    fn find(&self, name: &str) -> Option<&Configured> {
        let mut candidate = name;
        loop {
            if let Some(c) = self.loggers.iter().find(|c| c.name == candidate) {
                return Some(c);
            }
            match candidate.rfind('.') {
                Some(i) => candidate = &candidate[..i],
                None => return self.loggers.iter().find(|c| c.name == ROOT),
            }
        }
    }
}

/// Installs the layer as the process's subscriber.
pub fn install(loggers: &[Logger]) -> Result<(), String> {
    let layer = KeaLogs::new(loggers)?;
    let _ = tracing_subscriber::registry().with(layer).try_init();
    Ok(())
}

#[derive(Default)]
struct Fields {
    message: String,
    id: Option<String>,
    logger: Option<String>,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "id" => self.id = Some(value.to_string()),
            "logger" => self.logger = Some(value.to_string()),
            "message" => self.message = value.to_string(),
            other => {
                let _ = write!(self.rest, " {other}={value}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "id" | "logger" => self.record_str(field, &format!("{value:?}")),
            other => {
                let _ = write!(self.rest, " {other}={value:?}");
            }
        }
    }
}

impl KeaLogs {
    /// The most verbose severity any logger takes: events beyond it are turned away before
    /// their fields are formatted (a busy server logs a few lines per packet at DEBUG and
    /// INFO, and formatting them to throw them away cost more than answering).
    fn most_verbose(&self) -> Level {
        self.loggers
            .iter()
            .map(|c| c.level)
            .max()
            .unwrap_or(Level::ERROR)
    }
}

impl<S: Subscriber> Layer<S> for KeaLogs {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        *metadata.level() <= self.most_verbose()
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(self.most_verbose().into())
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let name = fields.logger.as_deref().unwrap_or(ROOT);
        let Some(logger) = self.find(name) else {
            return;
        };
        if *event.metadata().level() > logger.level {
            return;
        }
        let id = fields.id.as_deref().unwrap_or("NETBOOTD_LOG");
        let message = if id.is_empty() {
            format!("{}{}", fields.message, fields.rest)
        } else {
            format!("{id} {}{}", fields.message, fields.rest)
        };
        let severity = severity(event.metadata().level());
        let record = Record {
            time: std::time::SystemTime::now(),
            severity,
            logger: name,
            pid: std::process::id(),
            // SAFETY: pthread_self has no preconditions.
            thread: unsafe { nix::libc::pthread_self() } as u64,
            message: &message,
        };
        for d in &logger.destinations {
            if let Ok(mut d) = d.lock() {
                let line = d.pattern.render(&record);
                let _ = d.write(&line, severity);
            }
        }
    }
}
