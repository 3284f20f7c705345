//! The script interpreter (src/image/script.c `process_script`, src/core/exec.c
//! `system`/`process_next`): it walks the script's lines and commands, expands each command's
//! `${...}` just before it runs, hands it to [`commands`](super::commands), and carries its
//! status on to `&&`, `||` and the end of the line.

use netbootd::time::Instant;

use super::commands;
use super::machine::{Ipxe, Wait};
use super::outcome::{rc, strerror, Image, IpxeEnd};
use super::script::{self, Then};

/// The line being run: its tokens, where the next command starts, whether it runs, and
/// how the command now running joins the next one.
pub(super) struct LineRun {
    tokens: Vec<String>,
    next: usize,
    process: bool,
    then: Then,
}

/// One script being run (nested ones come from `chain script.ipxe`).
pub(super) struct Frame {
    image: Image,
    lines: Vec<script::Line>,
    /// Index of the next line to run.
    next: usize,
    line: Option<LineRun>,
    rc: i32,
    /// `exit` was run with this status.
    exit: Option<i32>,
}

impl Ipxe {
    /// image_exec of a script: it runs on top of the one that chained it, if any.
    pub(super) fn run_script(&mut self, now: Instant, image: Image) {
        let text = String::from_utf8_lossy(image.bytes.bytes()).into_owned();
        self.frames.push(Frame {
            image,
            lines: script::lines(&text),
            next: 0,
            line: None,
            rc: 0,
            exit: None,
        });
        self.run(now)
    }

    /// `goto` (script.c `goto_exec`): the label anywhere in the running script, and the
    /// rest of this line is skipped (SHELL_STOP_COMMAND); not found is -ENOENT, silently
    /// (firmware.md B.7, OBSERVED).
    pub(super) fn jump_to(&mut self, target: &str) -> i32 {
        let Some(frame) = self.frames.last_mut() else {
            return rc::ENOENT;
        };
        let found = frame
            .lines
            .iter()
            .position(|l| script::label(&l.text).is_some_and(|(name, _)| name == target));
        match found {
            Some(i) => {
                frame.next = i;
                frame.line = None;
                0
            }
            None => rc::ENOENT,
        }
    }

    /// `exit` (exec.c `exit_exec`, SHELL_STOP_COMMAND_SEQUENCE): the running script ends
    /// with `code` once this command is done.
    pub(super) fn stop_script(&mut self, code: i32) {
        if let Some(frame) = self.frames.last_mut() {
            frame.exit = Some(code);
        }
    }

    /// An asynchronous command finished with `code`: carry on with the script.
    pub(super) fn resume(&mut self, now: Instant, code: i32) {
        if let Some(frame) = self.frames.last_mut() {
            frame.rc = code;
            Self::after_command(frame);
            self.run(now);
        }
    }

    /// exec.c's `process_next`: whether the next command of the line runs.
    fn after_command(frame: &mut Frame) {
        let rc = frame.rc;
        if let Some(line) = frame.line.as_mut() {
            line.process = match line.then {
                Then::Always | Then::End => true,
                Then::OnSuccess => rc == 0,
                Then::OnFailure => rc != 0,
            };
        }
    }

    /// Runs commands until one has to wait or the script ends (script.c `process_script`:
    /// a line that ends with a non-zero status, or `exit`, ends the script).
    fn run(&mut self, now: Instant) {
        loop {
            if self.end.is_some() || !matches!(self.wait, Wait::None) {
                return;
            }
            let Some(frame) = self.frames.last_mut() else {
                return;
            };
            if let Some(code) = frame.exit {
                return self.script_ended(now, code);
            }
            let Some(line) = frame.line.as_mut() else {
                let Some(text) = frame.lines.get(frame.next).map(|l| l.text.clone()) else {
                    return self.script_ended(now, 0);
                };
                frame.next += 1;
                // A label line: what follows the label on it runs (OBSERVED).
                let text = script::label(&text).map_or(text.clone(), |(_, rest)| rest.to_string());
                let tokens = script::tokens(&text);
                if !tokens.is_empty() {
                    frame.rc = 0;
                    frame.line = Some(LineRun {
                        tokens,
                        next: 0,
                        process: true,
                        then: Then::Always,
                    });
                }
                continue;
            };
            // The line ends after its last command; `cmd ||` ends with an empty command,
            // which succeeds when it runs (exec.c: the idiom that ignores a failure).
            if line.then == Then::End {
                frame.line = None;
                if frame.rc != 0 {
                    let code = frame.rc;
                    return self.script_ended(now, code);
                }
                continue;
            }
            let start = line.next;
            let (len, then) = script::command_at(&line.tokens, start);
            line.then = then;
            line.next = start + len + 1;
            if !line.process {
                Self::after_command(frame);
                continue;
            }
            let settings = &self.settings;
            let argv: Vec<String> = line.tokens[start..start + len]
                .iter()
                .map(|t| script::expand(t, &|inner| settings.expand_one(inner)))
                .collect();
            if let Some(code) = commands::run(self, now, &argv) {
                if let Some(frame) = self.frames.last_mut() {
                    frame.rc = code;
                    Self::after_command(frame);
                }
            }
        }
    }

    fn script_ended(&mut self, now: Instant, code: i32) {
        let frame = self.frames.pop().expect("a frame");
        if self.frames.is_empty() {
            // The autoboot image returned.
            if code != 0 {
                self.say(now, format!("Could not boot image: {}", strerror(code)));
                self.give_up(
                    now,
                    code,
                    &format!("{} ended with status {code}", frame.image.name),
                );
            } else {
                self.say(now, "No more network devices");
                self.end = Some(IpxeEnd::Returned {
                    rc: 0,
                    reason: format!("{} ended without booting anything", frame.image.name),
                });
            }
        } else {
            // Back in the script that chained this one.
            if code != 0 {
                self.say(now, format!("Could not boot: {}", strerror(code)));
            }
            self.resume(now, code);
        }
    }

    /// A URI relative to the running script's own URI (`churi(image->uri)`).
    pub(super) fn resolve(&self, target: &str) -> String {
        if target.contains("://") {
            return target.to_string();
        }
        let base = self
            .frames
            .last()
            .map(|f| f.image.uri.clone())
            .unwrap_or_default();
        let Some(rest) = base.strip_prefix("tftp://") else {
            return target.to_string();
        };
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if let Some(abs) = target.strip_prefix('/') {
            return format!("tftp://{host}/{abs}");
        }
        let dir = path
            .rsplit_once('/')
            .map(|(d, _)| format!("{d}/"))
            .unwrap_or_default();
        format!("tftp://{host}/{dir}{target}")
    }
}
