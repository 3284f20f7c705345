//! iPXE's commands, each a function of the shell ([`Ipxe`]), the time and its argv, as
//! iPXE's `COMMAND()` table holds one `*_exec(argc, argv)` per name (src/core/exec.c
//! `execv`). Every command reads its options with [`options::parse`] (src/core/parseopt.c),
//! so a usage error prints iPXE's usage and returns its status instead of doing nothing.
//! Grouped as iPXE's src/hci/commands files are: `settings` (nvo_cmd.c), `flow` (exec.c,
//! script.c, prompt_cmd.c), `menu` (menu_cmd.c), `image` (image_cmd.c), `net`
//! (ifmgmt_cmd.c, sync_cmd.c, param_cmd.c).

use std::time::Duration;

use netbootd::time::Instant;

use super::machine::{Ipxe, Wait};
use super::outcome::rc;

pub mod flow;
pub mod image;
pub mod menu;
pub mod net;
pub mod options;
pub mod settings;

/// What a command did: `Ok(Some(rc))` finished with iPXE's status, `Ok(None)` waits or
/// started a nested script (the status comes later, through the interpreter's `complete`,
/// when the wait or that script ends) or ended iPXE's run, `Err(rc)` failed after printing
/// why (so `?` carries a parse failure out).
pub type Outcome = Result<Option<i32>, i32>;

/// A command: the shell, the time, and argv (`argv[0]` is the name as typed).
pub type Command = fn(&mut Ipxe, Instant, &[String]) -> Outcome;

/// The commands this model knows, by name (iPXE's `COMMAND(name, exec)` lines).
const COMMANDS: &[(&str, Command)] = &[
    ("echo", flow::echo),
    ("isset", flow::isset),
    ("iseq", flow::iseq),
    ("goto", flow::goto),
    ("exit", flow::exit),
    ("sleep", flow::sleep),
    ("prompt", flow::prompt),
    ("shell", flow::leave),
    ("sanboot", flow::leave),
    ("sanhook", flow::leave),
    ("autoboot", flow::leave),
    ("login", flow::leave),
    ("set", settings::set),
    ("clear", settings::clear),
    ("show", settings::show),
    ("read", settings::read),
    ("menu", menu::menu),
    ("item", menu::item),
    ("choose", menu::choose),
    ("imgfetch", image::imgfetch),
    ("module", image::imgfetch),
    ("initrd", image::imgfetch),
    ("imgselect", image::imgselect),
    ("imgload", image::imgselect),
    ("kernel", image::imgselect),
    ("imgexec", image::imgexec),
    ("chain", image::imgexec),
    ("boot", image::imgexec),
    ("imgargs", image::imgargs),
    ("imgstat", image::imgstat),
    ("imgfree", image::imgfree),
    ("dhcp", net::ifconf),
    ("ifconf", net::ifconf),
    ("ifopen", net::ifcommon),
    ("ifclose", net::ifcommon),
    ("ifstat", net::ifcommon),
    ("iflinkwait", net::iflinkwait),
    ("sync", net::sync),
    ("params", net::params),
    ("param", net::param),
];

/// Runs one command (exec.c `execv`); `None` when it waits. An empty line succeeds, an
/// unknown name prints `<name>: command not found` and fails with -ENOEXEC.
pub fn run(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Option<i32> {
    let Some(name) = argv.first() else {
        return Some(0);
    };
    match COMMANDS.iter().find(|(n, _)| n == name) {
        Some((_, command)) => command(shell, now, argv).unwrap_or_else(Some),
        None => {
            shell.say(now, format!("{name}: command not found"));
            Some(rc::ENOEXEC)
        }
    }
}

/// Parses argv against `desc`; on failure prints what iPXE prints and gives its status.
fn parse(
    shell: &mut Ipxe,
    now: Instant,
    argv: &[String],
    desc: &options::Descriptor,
) -> Result<options::Parsed, i32> {
    options::parse(argv, desc).map_err(|refusal| fail(shell, now, refusal))
}

/// Prints a refusal's lines and gives its status.
fn fail(shell: &mut Ipxe, now: Instant, refusal: options::Refusal) -> i32 {
    for line in refusal.lines {
        shell.say(now, line);
    }
    refusal.rc
}

/// A command waiting for input finds none left: with a timeout (parse_timeout: 0 is none)
/// it ends with `rc` when that passes, noting `timed_out` as what input did; without one,
/// the machine waits for ever, as a real one with nobody at it would.
fn await_timeout(
    shell: &mut Ipxe,
    now: Instant,
    command: &str,
    timeout_ms: Option<u32>,
    rc: i32,
    timed_out: impl FnOnce(u32) -> String,
) -> Option<i32> {
    match timeout_ms.filter(|ms| *ms > 0) {
        Some(ms) => {
            shell.wait = Wait::Sleep {
                until: now + Duration::from_millis(u64::from(ms)),
                rc,
                timed_out: Some(timed_out(ms)),
            };
            None
        }
        None => shell.stop_waiting(command),
    }
}

/// A shell and argv for the commands' unit tests: no segment, no script.
#[cfg(test)]
pub(crate) mod testing {
    use super::super::packets::{Build, Identity};
    use super::*;

    pub fn shell() -> Ipxe {
        Ipxe::new(
            Identity {
                mac: netbootd::wire::MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
                build: Build::EfiX64,
                uuid: None,
            },
            1,
        )
    }

    pub fn argv(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    /// Runs `line` and gives its outcome and what it printed.
    pub fn exec(shell: &mut Ipxe, line: &str) -> (Option<i32>, Vec<String>) {
        let before = shell.console().len();
        let status = run(shell, Instant::ZERO, &argv(line));
        let printed = shell.console()[before..]
            .iter()
            .map(|c| c.text.clone())
            .collect();
        (status, printed)
    }

    #[test]
    fn unknown_commands_are_not_found() {
        let mut s = shell();
        assert_eq!(
            exec(&mut s, "frobnicate x"),
            (
                Some(rc::ENOEXEC),
                vec!["frobnicate: command not found".to_string()]
            )
        );
        assert_eq!(run(&mut s, Instant::ZERO, &[]), Some(0));
    }
}
