//! The commands kea-dhcp4 answers on its control channel, with Kea's argument names, result
//! codes (0 success, 1 error, 2 unsupported, 3 empty) and texts (src/lib/config
//! base_command_mgr.cc, src/bin/dhcp4/ctrl_dhcp4_srv.cc, src/lib/stats/stats_mgr.cc).
//! `config-get` gives the configuration as it was written, not Kea's with every default
//! filled in.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use tokio::sync::watch;

use super::leases;
use crate::dhcp::service::DhcpService;
use crate::dhcp::stats::{self as dhcp_stats, Cause};
use crate::kea::check::check_document;
use crate::kea::json::{self as kea_json, Node};
use crate::kea::model::Config;
use crate::kea::system::System;
use crate::kea::KeaVersion;

/// A command's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub result: u8,
    pub text: Option<String>,
    pub arguments: Option<Value>,
}

impl Answer {
    pub fn ok(text: &str) -> Answer {
        Answer {
            result: 0,
            text: Some(text.into()),
            arguments: None,
        }
    }

    pub fn ok_with(text: &str, arguments: Value) -> Answer {
        Answer {
            arguments: Some(arguments),
            ..Answer::ok(text)
        }
    }

    pub fn arguments(arguments: Value) -> Answer {
        Answer {
            result: 0,
            text: None,
            arguments: Some(arguments),
        }
    }

    pub fn error(text: String) -> Answer {
        Answer {
            result: 1,
            text: Some(text),
            arguments: None,
        }
    }

    pub fn unsupported(command: &str) -> Answer {
        Answer {
            result: 2,
            text: Some(format!("'{command}' command not supported.")),
            arguments: None,
        }
    }

    pub fn empty(text: &str) -> Answer {
        Answer {
            result: 3,
            text: Some(text.into()),
            arguments: None,
        }
    }

    pub fn empty_with(text: &str, arguments: Value) -> Answer {
        Answer {
            arguments: Some(arguments),
            ..Answer::empty(text)
        }
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("result".into(), json!(self.result));
        if let Some(t) = &self.text {
            m.insert("text".into(), json!(t));
        }
        if let Some(a) = &self.arguments {
            m.insert("arguments".into(), a.clone());
        }
        Value::Object(m)
    }
}

/// What the control channel works on.
pub struct Control {
    pub service: Arc<DhcpService>,
    /// The configuration file, for config-reload and config-write.
    pub config_path: PathBuf,
    pub kea_version: KeaVersion,
    pub system: Box<dyn System + Send + Sync>,
    /// The configuration in force as JSON, for config-get.
    pub running: Mutex<Value>,
    pub started: std::time::Instant,
    pub reloaded: Mutex<std::time::Instant>,
    /// Turned true after `shutdown` has been answered.
    pub stop: Arc<watch::Sender<bool>>,
    /// `shutdown` was asked for: the socket stops the server once the answer is out.
    pub shutting_down: std::sync::atomic::AtomicBool,
}

const COMMANDS: &[&str] = &[
    "build-report",
    "config-get",
    "config-reload",
    "config-set",
    "config-test",
    "config-write",
    "leases-reclaim",
    "list-commands",
    "shutdown",
    "statistic-get",
    "statistic-get-all",
    "statistic-remove",
    "statistic-remove-all",
    "statistic-reset",
    "statistic-reset-all",
    "status-get",
    "version-get",
];

/// A Kea JSON node as a plain JSON value (positions dropped).
pub fn node_json(node: &Node) -> Value {
    use kea_json::Value as V;
    match &node.value {
        V::Null => Value::Null,
        V::Bool(b) => json!(b),
        V::Int(i) => json!(i),
        V::Float(f) => json!(f),
        V::Str(s) => json!(s),
        V::List(items) => Value::Array(items.iter().map(node_json).collect()),
        V::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|e| (e.key.clone(), node_json(&e.value)))
                .collect(),
        ),
    }
}

impl Control {
    fn lease_commands(&self) -> bool {
        self.service
            .engine
            .lock()
            .is_ok_and(|e| leases::enabled(e.config()))
    }

    /// Answers one request, as it arrived on the socket.
    pub fn answer(&self, request: &[u8]) -> Answer {
        let value: Value = match serde_json::from_slice(request) {
            Ok(v) => v,
            Err(e) => {
                let first = String::from_utf8_lossy(request).trim_start().chars().next();
                return Answer::error(match first {
                    Some(c) if !"{[\"-0123456789tfn".contains(c) => {
                        format!("invalid first character {c}")
                    }
                    _ => e.to_string(),
                });
            }
        };
        let Some(command) = value.get("command") else {
            return Answer::error(
                "Invalid answer specified, does not contain mandatory 'command'".into(),
            );
        };
        let Some(command) = command.as_str() else {
            return Answer::error("'command' element in command message is not a string".into());
        };
        self.run(command, value.get("arguments"))
    }

    pub fn run(&self, command: &str, args: Option<&Value>) -> Answer {
        tracing::info!(
            logger = "kea-dhcp4.commands",
            id = "COMMAND_RECEIVED",
            "Received command '{command}'"
        );
        if command.starts_with("lease4-") && leases::COMMANDS.contains(&command) {
            if !self.lease_commands() {
                return Answer::unsupported(command);
            }
            return leases::run(&self.service, command, args);
        }
        let stats = &self.service.statistics;
        let name = || {
            args.and_then(|a| a.get("name"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| Answer::error("Missing mandatory 'name' parameter.".into()))
        };
        let locked = || {
            stats
                .lock()
                .map_err(|_| Answer::error("statistics unavailable".into()))
        };
        let answer = match command {
            "list-commands" => {
                let mut list: Vec<&str> = COMMANDS.to_vec();
                if self.lease_commands() {
                    list.extend_from_slice(leases::COMMANDS);
                }
                list.sort_unstable();
                Ok(Answer::arguments(json!(list)))
            }
            "version-get" => Ok(Answer::ok_with(
                env!("CARGO_PKG_VERSION"),
                json!({ "extended": format!("netbootd {}\nKea configuration dialect {}", env!("CARGO_PKG_VERSION"), self.kea_version) }),
            )),
            "build-report" => Ok(Answer::ok(&format!(
                "netbootd {}\nKea configuration dialect: {}\nLease backend: memfile (Kea CSV)",
                env!("CARGO_PKG_VERSION"),
                self.kea_version
            ))),
            "status-get" => {
                let reload = self
                    .reloaded
                    .lock()
                    .map(|t| t.elapsed().as_secs())
                    .unwrap_or(0);
                Ok(Answer::arguments(json!({
                    "pid": std::process::id(),
                    "uptime": self.started.elapsed().as_secs(),
                    "reload": reload,
                    "multi-threading-enabled": false,
                    "sockets": { "status": "ready" },
                })))
            }
            "statistic-get" => name().and_then(|n| Ok(Answer::arguments(locked()?.get(&n)))),
            "statistic-get-all" => locked().map(|s| Answer::arguments(s.get_all())),
            "statistic-reset" => name().and_then(|n| {
                Ok(if locked()?.reset(&n) {
                    Answer::ok(&format!("Statistic '{n}' reset."))
                } else {
                    Answer::error(format!("No '{n}' statistic found"))
                })
            }),
            "statistic-reset-all" => locked().map(|mut s| {
                s.reset_all();
                Answer::ok("All statistics reset to neutral values.")
            }),
            "statistic-remove" => name().and_then(|n| {
                Ok(if locked()?.remove(&n) {
                    Answer::ok(&format!("Statistic '{n}' removed."))
                } else {
                    Answer::error(format!("No '{n}' statistic found"))
                })
            }),
            "statistic-remove-all" => locked().map(|mut s| {
                s.remove_all();
                Answer::ok("All statistics removed.")
            }),
            "leases-reclaim" => self.reclaim(args),
            "config-get" => Ok(Answer::arguments(
                self.running.lock().map(|v| v.clone()).unwrap_or(Value::Null),
            )),
            "config-test" => self.config_from_args(args).map(|_| {
                Answer::ok("Configuration seems sane. Control-socket, hook-libraries, and D2 configuration were sanity checked, but not applied.")
            }),
            "config-set" => self
                .config_from_args(args)
                .and_then(|(config, json)| self.apply(config, json)),
            "config-reload" => self.reload(),
            "config-write" => self.write(args),
            "shutdown" => {
                self.shutting_down
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(Answer::ok("Shutting down."))
            }
            _ => Ok(Answer::unsupported(command)),
        };
        answer.unwrap_or_else(|a| a)
    }

    fn reclaim(&self, args: Option<&Value>) -> Result<Answer, Answer> {
        let remove = args
            .and_then(|a| a.get("remove"))
            .ok_or_else(|| Answer::error("Missing mandatory 'remove' parameter.".into()))?
            .as_bool()
            .ok_or_else(|| Answer::error("'remove' parameter expected to be a boolean.".into()))?;
        self.service
            .decide_as(Cause::Reclaim, |engine, now| {
                Ok(engine.reclaim_expired(now, remove, 0))
            })
            .map_err(|e| Answer::error(e.to_string()))?;
        Ok(Answer::ok("Reclamation of expired leases is complete."))
    }

    /// The configuration in a config-set/config-test's arguments, checked as the file would be.
    fn config_from_args(&self, args: Option<&Value>) -> Result<(Config, Value), Answer> {
        let args =
            args.ok_or_else(|| Answer::error("Missing mandatory 'arguments' parameter.".into()))?;
        if args.get("Dhcp4").is_none() {
            return Err(Answer::error("Missing mandatory 'Dhcp4' parameter.".into()));
        }
        self.check_text("<wire>", &args.to_string())
    }

    fn check_text(&self, name: &str, text: &str) -> Result<(Config, Value), Answer> {
        let doc = kea_json::parse_str(name, text);
        let outcome = check_document(&doc, self.kea_version, self.system.as_ref());
        if let Some(e) = &outcome.error {
            return Err(Answer::error(crate::kea::diag::kea_line(e)));
        }
        let config = outcome
            .config
            .ok_or_else(|| Answer::error("configuration has no Dhcp4 section".into()))?;
        let json = doc.root.as_ref().map(node_json).unwrap_or(Value::Null);
        Ok((config, json))
    }

    /// Puts a checked configuration in force, leases kept, as a successful config-set does.
    fn apply(&self, config: Config, json: Value) -> Result<Answer, Answer> {
        let config = Arc::new(config);
        {
            let mut engine = self
                .service
                .engine
                .lock()
                .map_err(|_| Answer::error("the engine is unavailable".into()))?;
            engine
                .reconfigure(config.clone())
                .map_err(|e| Answer::error(e.to_string()))?;
            if let Ok(mut s) = self.service.statistics.lock() {
                // Kea drops the old subnets' statistics and counts the new ones afresh
                // (CfgSubnets4::removeStatistics, then updateStatistics).
                dhcp_stats::remove_subnets(&mut s);
                dhcp_stats::initialise(&mut s, &config, engine.leases());
            }
        }
        if let Ok(mut running) = self.running.lock() {
            *running = json;
        }
        if let Ok(mut t) = self.reloaded.lock() {
            *t = std::time::Instant::now();
        }
        crate::dhcp::journal::config_complete(&config);
        Ok(Answer::ok("Configuration successful."))
    }

    /// config-reload: the file again, as SIGHUP does.
    pub fn reload(&self) -> Result<Answer, Answer> {
        let text = std::fs::read_to_string(&self.config_path).map_err(|e| {
            Answer::error(format!(
                "Config reload failed: {}: {e}",
                self.config_path.display()
            ))
        })?;
        let shown = self.config_path.display().to_string();
        let (config, json) = self.check_text(&shown, &text).map_err(|a| {
            Answer::error(format!(
                "Config reload failed: {}",
                a.text.unwrap_or_default()
            ))
        })?;
        self.apply(config, json)
    }

    fn write(&self, args: Option<&Value>) -> Result<Answer, Answer> {
        let path = args
            .and_then(|a| a.get("filename"))
            .and_then(Value::as_str)
            .map(PathBuf::from)
            .unwrap_or_else(|| self.config_path.clone());
        let json = self
            .running
            .lock()
            .map(|v| v.clone())
            .unwrap_or(Value::Null);
        let text = serde_json::to_string_pretty(&json).map_err(|e| Answer::error(e.to_string()))?;
        std::fs::write(&path, &text).map_err(|e| {
            Answer::error(format!(
                "Unable to open file {} for writing: {e}",
                path.display()
            ))
        })?;
        let shown = path.display().to_string();
        Ok(Answer::ok_with(
            &format!("Configuration written to {shown} successfully"),
            json!({ "filename": shown, "size": text.len() }),
        ))
    }
}
