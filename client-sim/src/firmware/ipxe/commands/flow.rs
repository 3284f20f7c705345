//! The commands that steer a script: `echo`, `isset`, `iseq`, `exit`, `sleep` (src/core/
//! exec.c), `goto` and `prompt` (src/image/script.c, src/usr/prompt.c), and the ones that
//! take the machine out of the script's hands (`shell`, `sanboot`...).

use std::time::Duration;

use netbootd::time::Instant;

use super::options::{parse_integer, Descriptor, Kind, MANY};
use super::{await_timeout, fail, parse, Outcome};
use crate::firmware::ipxe::keyboard::{self, Input};
use crate::firmware::ipxe::machine::{Ipxe, Wait};
use crate::firmware::ipxe::outcome::{rc, IpxeEnd};

const ECHO: Descriptor = Descriptor {
    options: &[("n", 'n', Kind::Flag)],
    min_args: 0,
    max_args: MANY,
    usage: Some("[...]"),
};

/// `echo [-n] [...]`: the arguments joined by spaces (a console line either way here).
pub fn echo(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let p = parse(shell, now, argv, &ECHO)?;
    shell.say(now, p.args.join(" "));
    Ok(Some(0))
}

const ISSET: Descriptor = Descriptor {
    options: &[],
    min_args: 1,
    max_args: 1,
    usage: Some("<value>"),
};

/// `isset <value>`: 0 when the (expanded) value is not empty, else -ENOENT.
pub fn isset(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let p = parse(shell, now, argv, &ISSET)?;
    Ok(Some(if p.args[0].is_empty() { rc::ENOENT } else { 0 }))
}

const ISEQ: Descriptor = Descriptor {
    options: &[],
    min_args: 2,
    max_args: 2,
    usage: Some("<value1> <value2>"),
};

/// `iseq <value1> <value2>`: 0 when equal, else -ERANGE.
pub fn iseq(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let p = parse(shell, now, argv, &ISEQ)?;
    Ok(Some(if p.args[0] == p.args[1] {
        0
    } else {
        rc::ERANGE
    }))
}

const GOTO: Descriptor = Descriptor {
    options: &[],
    min_args: 1,
    max_args: 1,
    usage: Some("<label>"),
};

/// `goto <label>` (script.c `goto_exec`).
pub fn goto(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let p = parse(shell, now, argv, &GOTO)?;
    Ok(Some(shell.jump_to(&p.args[0])))
}

const EXIT: Descriptor = Descriptor {
    options: &[],
    min_args: 0,
    max_args: 1,
    usage: Some("[<status>]"),
};

/// `exit [<status>]`: the script ends with the status, an integer as `parse_integer` reads
/// it (0 when absent).
pub fn exit(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let p = parse(shell, now, argv, &EXIT)?;
    let code = match p.args.first() {
        Some(text) => parse_integer(text).map_err(|r| fail(shell, now, r))? as i32,
        None => 0,
    };
    shell.stop_script(code);
    Ok(Some(code))
}

const SLEEP: Descriptor = Descriptor {
    options: &[],
    min_args: 1,
    max_args: 1,
    usage: Some("<seconds>"),
};

/// `sleep <seconds>`: waits in virtual time.
pub fn sleep(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let p = parse(shell, now, argv, &SLEEP)?;
    let secs = parse_integer(&p.args[0]).map_err(|r| fail(shell, now, r))?;
    shell.wait = Wait::Sleep {
        until: now + Duration::from_secs(u64::from(secs)),
        rc: 0,
        timed_out: None,
    };
    Ok(None)
}

const PROMPT: Descriptor = Descriptor {
    options: &[("key", 'k', Kind::Key), ("timeout", 't', Kind::Integer)],
    min_args: 0,
    max_args: MANY,
    usage: Some("[<text>]"),
};

/// `prompt [--key KEY] [--timeout MS] [TEXT]` (src/usr/prompt.c `prompt`: -ETIMEDOUT
/// when no key comes, -ECANCELED for a key other than `--key`): the next scripted key
/// answers it (-ECANCELED when `--key` names another key); with no input
/// left, -ETIMEDOUT once the timeout passes, or a wait forever without one.
pub fn prompt(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let p = parse(shell, now, argv, &PROMPT)?;
    if !p.args.is_empty() {
        shell.say(now, p.args.join(" "));
    }
    let wanted = p.integer("key");
    Ok(match shell.keyboard.pop() {
        Some(input @ Input::Item(_)) => shell.refuse(
            "prompt",
            &input,
            "prompt waits for a key, not a menu item".into(),
        ),
        Some(Input::Key(key)) => {
            let code = keyboard::key_code(&key).or_else(|| key.chars().next().map(u32::from));
            let (code, what) = match wanted {
                Some(w) if code != Some(w) => (rc::ECANCELED, "not the key it waits for"),
                _ => (0, "goes on"),
            };
            shell.log_input(now, format!("`prompt` got `{key}`: {what}"));
            Some(code)
        }
        None => await_timeout(
            shell,
            now,
            "prompt",
            p.integer("timeout"),
            rc::ETIMEDOUT,
            |ms| format!("`prompt` timed out after {ms} ms"),
        ),
    })
}

/// `shell`, `sanboot`, `sanhook`, `autoboot`, `login`: out of the script's hands.
pub fn leave(shell: &mut Ipxe, _now: Instant, argv: &[String]) -> Outcome {
    shell.end = Some(IpxeEnd::Stopped {
        command: argv.join(" "),
    });
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{exec, shell};
    use super::*;

    #[test]
    fn usage_errors_print_the_usage_and_fail_with_erange() {
        let mut s = shell();
        for line in ["isset", "isset a b", "iseq a", "goto", "sleep", "exit 1 2"] {
            let (status, printed) = exec(&mut s, line);
            assert_eq!(status, Some(rc::ERANGE), "{line}");
            let name = line.split(' ').next().unwrap();
            assert!(
                printed[0].starts_with(&format!("Usage:\n\n  {name} ")),
                "{line}"
            );
            assert!(printed[0].ends_with(&format!("ipxe.org/cmd/{name} for further information")));
        }
        assert_eq!(
            exec(&mut s, "iseq a").1,
            ["Usage:\n\n  iseq <value1> <value2>\n\nSee https://ipxe.org/cmd/iseq for further information"]
        );
    }

    #[test]
    fn tests_and_echo_give_ipxes_statuses() {
        let mut s = shell();
        assert_eq!(
            exec(&mut s, "echo hello  world"),
            (Some(0), vec!["hello world".into()])
        );
        assert_eq!(exec(&mut s, "echo -n x").1, ["x"]);
        assert_eq!(exec(&mut s, "iseq a a").0, Some(0));
        assert_eq!(exec(&mut s, "iseq a b").0, Some(rc::ERANGE));
        assert_eq!(exec(&mut s, "isset x").0, Some(0));
        let empty = vec!["isset".to_string(), String::new()];
        assert_eq!(
            super::super::run(&mut s, Instant::ZERO, &empty),
            Some(rc::ENOENT)
        );
        // Not in a script: no label to find.
        assert_eq!(exec(&mut s, "goto end").0, Some(rc::ENOENT));
    }

    #[test]
    fn exit_and_sleep_take_integers_or_refuse_them() {
        let mut s = shell();
        assert_eq!(exec(&mut s, "exit 0x10").0, Some(16));
        assert_eq!(exec(&mut s, "exit").0, Some(0));
        assert_eq!(
            exec(&mut s, "exit one"),
            (
                Some(rc::EINVAL),
                vec!["\"one\": invalid integer value".into()]
            )
        );
        assert_eq!(exec(&mut s, "sleep 2s").0, Some(rc::EINVAL));
        assert_eq!(exec(&mut s, "sleep 2").0, None);
        assert_eq!(s.poll_timeout(), Some(Instant::from_secs(2)));
    }

    #[test]
    fn prompt_refuses_a_key_it_cannot_read() {
        let mut s = shell();
        let (status, printed) = exec(&mut s, "prompt --key ctrl Go");
        assert_eq!(status, Some(rc::EINVAL));
        assert_eq!(printed, ["\"ctrl\": invalid integer value"]);
        assert_eq!(exec(&mut s, "prompt --timeout soon Go").0, Some(rc::EINVAL));
        // No input and no timeout: waits for ever.
        assert_eq!(exec(&mut s, "prompt Go"), (None, vec!["Go".into()]));
        assert_eq!(
            s.outcome(),
            Some(&IpxeEnd::WaitingForInput {
                command: "prompt".into()
            })
        );
    }

    #[test]
    fn leaving_commands_stop_the_model() {
        let mut s = shell();
        assert_eq!(exec(&mut s, "sanboot --no-describe x").0, None);
        assert!(
            matches!(s.outcome(), Some(IpxeEnd::Stopped { command }) if command == "sanboot --no-describe x")
        );
    }
}
