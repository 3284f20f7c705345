//! The settings commands (src/hci/commands/nvo_cmd.c): `set`, `clear`, `show`, `read`.
//! Settings a script stores live in [`Settings::user`](crate::firmware::ipxe::settings).

use netbootd::time::Instant;

use super::options::{Descriptor, Kind, MANY};
use super::{await_timeout, parse, Outcome};
use crate::firmware::ipxe::keyboard::{self, Input};
use crate::firmware::ipxe::machine::Ipxe;
use crate::firmware::ipxe::outcome::rc;

const SET: Descriptor = Descriptor {
    options: &[],
    min_args: 1,
    max_args: MANY,
    usage: Some("<setting> <value>"),
};

/// `set <setting> <value>...`: the value is the arguments joined by spaces; an empty one
/// deletes the setting (`storef_setting` with "").
pub fn set(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let p = parse(shell, now, argv, &SET)?;
    let value = p.args[1..].join(" ");
    if value.is_empty() {
        shell.settings.user.remove(&p.args[0]);
    } else {
        shell.settings.user.insert(p.args[0].clone(), value);
    }
    Ok(Some(0))
}

const CLEAR: Descriptor = Descriptor {
    options: &[],
    min_args: 1,
    max_args: 1,
    usage: Some("<setting>"),
};

/// `clear <setting>`.
pub fn clear(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let p = parse(shell, now, argv, &CLEAR)?;
    shell.settings.user.remove(&p.args[0]);
    Ok(Some(0))
}

const SHOW: Descriptor = Descriptor {
    options: &[("quiet", 'q', Kind::Flag)],
    min_args: 1,
    max_args: 1,
    usage: Some("<setting>"),
};

/// `show [--quiet] <setting>`: `name = value`, or the value alone with `--quiet`.
pub fn show(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let p = parse(shell, now, argv, &SHOW)?;
    let name = &p.args[0];
    let value = shell.settings.expand_one(name);
    let line = if p.flag("quiet") {
        value
    } else {
        format!("{name} = {value}")
    };
    shell.say(now, line);
    Ok(Some(0))
}

const READ: Descriptor = Descriptor {
    options: &[("timeout", 't', Kind::Integer)],
    min_args: 1,
    max_args: 1,
    usage: Some("<setting>"),
};

/// `read [--timeout MS] <setting>` (`read_value`: readline with the current value as the
/// default, `--timeout` since 2021): the next scripted input is the line typed; Enter
/// alone keeps the current value, Esc/Ctrl-C fail with -ECANCELED; with no input left,
/// -ETIMEDOUT once the timeout passes, or a wait forever without one.
pub fn read(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let p = parse(shell, now, argv, &READ)?;
    let setting = p.args[0].clone();
    Ok(match shell.keyboard.pop() {
        Some(input @ Input::Item(_)) => shell.refuse(
            "read",
            &input,
            "read waits for a line of text, not a menu item".into(),
        ),
        Some(Input::Key(text)) => match keyboard::key_code(&text) {
            Some(keyboard::code::ESC | keyboard::code::CTRL_C) => {
                shell.log_input(now, format!("`read {setting}` cancelled by `{text}`"));
                Some(rc::ECANCELED)
            }
            Some(keyboard::code::CR | keyboard::code::LF) if text.len() > 1 => {
                shell.log_input(now, format!("`read {setting}` kept its value"));
                Some(0)
            }
            _ => {
                shell.log_input(now, format!("`read {setting}` got `{text}`"));
                shell.settings.user.insert(setting, text);
                Some(0)
            }
        },
        None => await_timeout(
            shell,
            now,
            "read",
            p.integer("timeout"),
            rc::ETIMEDOUT,
            |ms| format!("`read {setting}` timed out after {ms} ms"),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{exec, shell};
    use super::*;
    use crate::firmware::ipxe::keyboard::Keyboard;

    #[test]
    fn set_clear_and_show_store_and_print_settings() {
        let mut s = shell();
        assert_eq!(exec(&mut s, "set greeting hello world").0, Some(0));
        assert_eq!(exec(&mut s, "show greeting").1, ["greeting = hello world"]);
        assert_eq!(exec(&mut s, "show -q greeting").1, ["hello world"]);
        assert_eq!(exec(&mut s, "clear greeting").0, Some(0));
        assert_eq!(exec(&mut s, "show greeting").1, ["greeting = "]);
        exec(&mut s, "set x 1");
        assert_eq!(exec(&mut s, "set x").0, Some(0));
        assert!(!s.settings.user.contains_key("x"));
    }

    #[test]
    fn missing_settings_are_usage_errors() {
        let mut s = shell();
        for line in ["set", "clear", "clear a b", "show", "read"] {
            let (status, printed) = exec(&mut s, line);
            assert_eq!(status, Some(rc::ERANGE), "{line}");
            assert!(printed[0].starts_with("Usage:"), "{line}");
        }
        assert_eq!(
            exec(&mut s, "read").1,
            ["Usage:\n\n  read [-t|--timeout <timeout>] <setting>\n\nSee https://ipxe.org/cmd/read for further information"]
        );
    }

    #[test]
    fn read_takes_a_line_or_times_out() {
        let mut s = shell();
        s.set_keyboard(Keyboard::new([Input::Key("world".into())]));
        assert_eq!(exec(&mut s, "read name").0, Some(0));
        assert_eq!(s.settings.user["name"], "world");
        assert_eq!(exec(&mut s, "read --timeout 500 name").0, None);
        assert_eq!(s.poll_timeout(), Some(Instant::from_millis(500)));
    }
}
