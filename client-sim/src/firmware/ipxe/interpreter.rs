//! The script interpreter (src/image/script.c `process_script`, src/core/exec.c
//! `system`/`process_next`): it walks the script's lines and commands, expands each command's
//! `${...}` just before it runs, hands it to [`commands`](super::commands), and carries its
//! status on to `&&`, `||` and the end of the line.

use netbootd::time::Instant;

use super::commands;
use super::machine::{Ipxe, Wait};
use super::outcome::{rc, strerror, Image, IpxeEnd, MAX_COMMANDS_AT_ONCE};
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
    /// image_exec of a script: its frame goes on top of the one that chained it, if any,
    /// and the work loop ([`Ipxe::run`]) runs it. iPXE nests it on its own stack
    /// (script_exec → process_script → system → execv → imgexec → image_exec); the model
    /// keeps that nesting in `frames`, never on the host's stack.
    pub(super) fn push_script(&mut self, image: Image) {
        let text = String::from_utf8_lossy(image.bytes.bytes()).into_owned();
        self.frames.push(Frame {
            image,
            lines: script::lines(&text),
            next: 0,
            line: None,
            rc: 0,
            exit: None,
        });
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

    /// A command that waited finished with `code`: its status goes to the running script,
    /// which the work loop then carries on with. It only records: nothing runs from here, so
    /// a command finishing never runs the next one on the host's stack.
    pub(super) fn complete(&mut self, code: i32) {
        if let Some(frame) = self.frames.last_mut() {
            frame.rc = code;
            Self::after_command(frame);
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

    /// The work loop: runs commands of the innermost script until one has to wait, iPXE's
    /// run ends, or no script is left (script.c `process_script`: a line that ends with a
    /// non-zero status, or `exit`, ends the script, and the one that chained it carries on).
    /// Commands give their status back here ([`commands::run`]) instead of calling into the
    /// interpreter, and a nested script is one more frame, so however long a script loops or
    /// however many scripts it runs, the host's stack stays this one call deep. The machine
    /// calls it once after each event (a datagram, a timeout).
    pub(super) fn run(&mut self, now: Instant) {
        if self.busy.0 != now {
            self.busy = (now, 0);
        }
        loop {
            if self.end.is_some() || !matches!(self.wait, Wait::None) {
                return;
            }
            let Some(frame) = self.frames.last_mut() else {
                return;
            };
            if let Some(code) = frame.exit {
                self.script_ended(now, code);
                continue;
            }
            let Some(line) = frame.line.as_mut() else {
                let Some(text) = frame.lines.get(frame.next).map(|l| l.text.clone()) else {
                    self.script_ended(now, 0);
                    continue;
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
                    self.script_ended(now, code);
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
            self.busy.1 += 1;
            if self.busy.1 > MAX_COMMANDS_AT_ONCE {
                self.end = Some(IpxeEnd::Spins {
                    command: argv.join(" "),
                });
                return;
            }
            if let Some(code) = commands::run(self, now, &argv) {
                self.complete(code);
            }
        }
    }

    /// The innermost script ended with `code`: iPXE's run ends with the autoboot image, or
    /// the script that chained this one gets `code` as its command's status.
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
            self.complete(code);
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

/// Scripts that loop over commands failing at once, or run nested scripts many times: the
/// model once ran each next command from inside the one before, so these overran the host's
/// stack (AFL's ipxe_script crashes). Hand-written, no network: every failure is immediate.
#[cfg(test)]
mod tests {
    use netbootd::time::Instant;

    use super::super::commands::testing::shell;
    use super::*;
    use crate::content::Content;

    /// Turns of each of the three nested counters: `TURNS`³ turns of the loop body.
    const TURNS: usize = 20;

    fn image(name: &str, bytes: &[u8]) -> Image {
        Image {
            name: name.into(),
            uri: format!("tftp://192.0.2.1/{name}"),
            bytes: Content::from(bytes.to_vec()),
            cmdline: None,
            at: Instant::ZERO,
            seq: 0,
        }
    }

    /// A script that runs `body` TURNS³ times (three nested counters of `TURNS` x's: iPXE
    /// scripts have no arithmetic), then says `done`.
    fn looped(body: &str) -> String {
        let full = "x".repeat(TURNS);
        format!(
            "#!ipxe\n:c\nclear b\n:b\nclear a\n:a\n{body}\n\
             set a ${{a}}x\niseq ${{a}} {full} || goto a\n\
             set b ${{b}}x\niseq ${{b}} {full} || goto b\n\
             set c ${{c}}x\niseq ${{c}} {full} || goto c\necho done\n"
        )
    }

    /// Runs `script` as a script image holding `images`, to its end; gives the console.
    fn run_script(script: &str, images: Vec<Image>) -> (Ipxe, Vec<String>) {
        let mut s = shell();
        s.images = images;
        assert_eq!(
            s.exec(Instant::ZERO, image("loop.ipxe", script.as_bytes()), false),
            None
        );
        s.run(Instant::ZERO);
        let console = s.console().iter().map(|c| c.text.clone()).collect();
        (s, console)
    }

    fn count(console: &[String], text: &str) -> usize {
        console.iter().filter(|l| l.contains(text)).count()
    }

    #[test]
    fn a_loop_over_downloads_failing_at_once_iterates() {
        let turns = TURNS.pow(3);
        for (body, error) in [
            (
                "chain --autofree http://192.0.2.1/missing.cfg",
                "Operation not supported",
            ),
            (
                "imgfetch http://192.0.2.1/missing.cfg",
                "Operation not supported",
            ),
            (
                "kernel tftp://no-such-host/vmlinuz",
                "No such file or directory",
            ),
        ] {
            let (s, console) = run_script(&looped(&format!("{body} || echo failed")), vec![]);
            assert_eq!(count(&console, error), turns, "{body}");
            assert_eq!(count(&console, "failed"), turns, "{body}");
            assert_eq!(
                console.last().map(String::as_str),
                Some("No more network devices")
            );
            assert_eq!(count(&console, "done"), 1, "{body}");
            assert!(matches!(s.outcome(), Some(IpxeEnd::Returned { rc: 0, .. })));
        }
    }

    #[test]
    fn a_loop_executing_an_image_ipxe_cannot_run_iterates() {
        let blob = image("blob", &[0x5a; 64]);
        let (_, console) = run_script(&looped("chain blob || echo failed"), vec![blob]);
        assert_eq!(
            count(&console, "Could not boot: Exec format error"),
            TURNS.pow(3)
        );
        assert_eq!(count(&console, "done"), 1);
    }

    #[test]
    fn nested_scripts_that_returned_take_no_depth() {
        // `chain sub` runs the registered script `sub` on top; it returns with status 3 at
        // once, and the loop goes on: the nesting is never more than two scripts.
        let sub = image("sub", b"#!ipxe\nexit 3\n");
        let (s, console) = run_script(&looped("chain sub || echo failed"), vec![sub]);
        assert_eq!(
            count(&console, "Could not boot: Error 0x000003"),
            TURNS.pow(3)
        );
        assert_eq!(count(&console, "nested too deeply"), 0);
        assert_eq!(count(&console, "done"), 1);
        assert!(s.frames.is_empty());
    }

    #[test]
    fn a_loop_that_never_waits_is_stopped_not_run_for_ever() {
        for (script, commands) in [
            ("#!ipxe\n:a\ngoto a\n", &["goto a"][..]),
            (
                "#!ipxe\n:a\nisset ${nope} || goto a\n",
                &["isset ", "goto a"],
            ),
            ("#!ipxe\n:a echo x\ngoto a\n", &["echo x", "goto a"]),
        ] {
            let (s, _) = run_script(script, vec![]);
            let Some(IpxeEnd::Spins { command }) = s.outcome() else {
                panic!("{script}: {:?}", s.outcome());
            };
            assert!(commands.contains(&command.as_str()), "{script}: {command}");
            assert_eq!(s.busy.1, MAX_COMMANDS_AT_ONCE + 1);
        }
    }

    #[test]
    fn a_script_that_executes_itself_stops_at_the_model_guard() {
        let script = image("self.ipxe", b"#!ipxe\nboot\n");
        let mut s = shell();
        s.images.push(script.clone());
        s.selected = Some("self.ipxe".into());
        assert_eq!(s.exec(Instant::ZERO, script, false), None);
        s.run(Instant::ZERO);
        assert_eq!(s.frames.len(), super::super::machine::MAX_SCRIPT_NESTING);
        assert_eq!(
            s.console().last().map(|c| c.text.as_str()),
            Some("No more network devices")
        );
        assert!(matches!(
            s.outcome(),
            Some(IpxeEnd::Returned {
                rc: rc::ENOEXEC,
                ..
            })
        ));
    }
}
