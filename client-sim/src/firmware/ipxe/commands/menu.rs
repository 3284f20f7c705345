//! The menu commands (src/hci/commands/menu_cmd.c before its 2024 rename to dynui_cmd.c,
//! src/hci/tui/menu_ui.c): `menu` creates one, `item` adds to it, `choose` shows it and
//! stores the chosen item's label, driven by the scripted keyboard.

use netbootd::time::Instant;

use super::options::{Descriptor, Kind, MANY};
use super::{await_timeout, parse, Outcome};
use crate::firmware::ipxe::keyboard::{self, Input};
use crate::firmware::ipxe::machine::{Ipxe, MenuItem};
use crate::firmware::ipxe::outcome::rc;

/// parseopt.c `parse_menu`: the menu `--menu`/`--name` names (the unnamed one when
/// absent), else `"<name>": no such menu` or `No default menu` and -ENOENT.
fn find_menu(shell: &mut Ipxe, now: Instant, name: Option<&str>) -> Result<usize, i32> {
    let key = name.unwrap_or("");
    match shell.menus.iter().position(|(n, _)| n == key) {
        Some(i) => Ok(i),
        None => {
            shell.say(
                now,
                match name {
                    Some(n) => format!("\"{n}\": no such menu"),
                    None => "No default menu".into(),
                },
            );
            Err(rc::ENOENT)
        }
    }
}

const MENU: Descriptor = Descriptor {
    options: &[("name", 'n', Kind::Text), ("delete", 'd', Kind::Flag)],
    min_args: 0,
    max_args: MANY,
    usage: Some("[<title>]"),
};

/// `menu [--name NAME] [--delete] [TITLE]` (`menu_exec`): creates the menu, replacing
/// one of that name; with `--delete` the new menu is destroyed at once, so the name is
/// gone.
pub fn menu(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let p = parse(shell, now, argv, &MENU)?;
    let name = p.text("name").unwrap_or("").to_string();
    shell.menus.retain(|(n, _)| *n != name);
    if !p.flag("delete") {
        shell.menus.push((name, Vec::new()));
    }
    Ok(Some(0))
}

const ITEM: Descriptor = Descriptor {
    options: &[
        ("menu", 'm', Kind::Text),
        ("key", 'k', Kind::Key),
        ("default", 'd', Kind::Flag),
        ("secret", 's', Kind::Flag),
        ("gap", 'g', Kind::Flag),
    ],
    min_args: 0,
    max_args: MANY,
    usage: Some("[<label> [<text>]]"),
};

/// `item [--menu M] [--key K] [--default] [--secret] [--gap] [LABEL [TEXT]]`
/// (`item_exec`): a gap, or an item without a label, is a line nobody can choose.
pub fn item(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let p = parse(shell, now, argv, &ITEM)?;
    let menu = find_menu(shell, now, p.text("menu"))?;
    let label = if p.flag("gap") {
        None
    } else {
        p.args.first().cloned()
    };
    shell.menus[menu].1.push(MenuItem {
        label,
        key: p.integer("key"),
        default: p.flag("default"),
    });
    Ok(Some(0))
}

const CHOOSE: Descriptor = Descriptor {
    options: &[
        ("menu", 'm', Kind::Text),
        ("default", 'd', Kind::Text),
        ("timeout", 't', Kind::Integer),
        ("retimeout", 'r', Kind::Integer),
        ("keep", 'k', Kind::Flag),
    ],
    min_args: 1,
    max_args: 1,
    usage: Some("<setting>"),
};

/// `choose [--menu M] [--default ITEM] [--timeout MS] [--keep] SETTING`
/// (`choose_exec`, menu_ui.c `show_menu`, `menu_loop`). The selection starts on the first
/// named item, moved to the `--default` label when one matches, else to an item flagged
/// `--default`. The scripted keyboard picks an item by label, or presses keys: Enter takes
/// the selection, Esc/Ctrl-C fail with -ECANCELED, an item's `--key` takes that item, any
/// key cancels the timeout. With no input left, a timeout takes the selection when it
/// expires (virtual time); without one, the script waits forever. The chosen item's label
/// is stored in SETTING, and the menu is destroyed unless `--keep`.
pub fn choose(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let p = parse(shell, now, argv, &CHOOSE)?;
    let setting = p.args[0].clone();
    let position = find_menu(shell, now, p.text("menu"))?;
    let items = if p.flag("keep") {
        shell.menus[position].1.clone()
    } else {
        shell.menus.remove(position).1
    };
    let labels: Vec<String> = items.iter().filter_map(|i| i.label.clone()).collect();
    // show_menu: "Menus with no named items cannot be selected from".
    let Some(first) = labels.first().cloned() else {
        return Ok(Some(rc::ENOENT));
    };
    if shell.first_menu.is_none() {
        shell.first_menu = Some(labels.clone());
    }
    let mut selected = match p.text("default") {
        Some(d) => labels.iter().find(|l| *l == d).cloned(),
        None => items
            .iter()
            .filter(|i| i.default)
            .filter_map(|i| i.label.clone())
            .next_back(),
    }
    .unwrap_or(first);
    // parse_timeout: 0 means no timeout.
    let mut timeout = p.integer("timeout");
    loop {
        let Some(input) = shell.keyboard.pop() else {
            let took = selected.clone();
            shell.settings.user.insert(setting, selected);
            return Ok(await_timeout(shell, now, "choose", timeout, 0, |ms| {
                format!("`choose` timed out after {ms} ms: took `{took}`")
            }));
        };
        match &input {
            Input::Item(label) => {
                if !labels.contains(label) {
                    return Ok(shell.refuse(
                        "choose",
                        &input,
                        format!(
                            "the menu has no item `{label}` (it has {})",
                            labels.join(", ")
                        ),
                    ));
                }
                selected = label.clone();
                break;
            }
            Input::Key(key) => {
                let Some(code) = keyboard::key_code(key) else {
                    return Ok(shell.refuse(
                        "choose",
                        &input,
                        "a menu takes one key, not text".into(),
                    ));
                };
                timeout = None;
                match code {
                    keyboard::code::ESC | keyboard::code::CTRL_C => {
                        shell.log_input(now, format!("`choose` cancelled by `{key}`"));
                        return Ok(Some(rc::ECANCELED));
                    }
                    keyboard::code::CR | keyboard::code::LF => break,
                    _ => {
                        if let Some(label) = items
                            .iter()
                            .find(|i| i.key == Some(code))
                            .and_then(|i| i.label.as_ref())
                        {
                            selected = label.clone();
                            break;
                        }
                    }
                }
            }
        }
    }
    shell.log_input(now, format!("`choose` took `{selected}`"));
    shell.settings.user.insert(setting, selected);
    Ok(Some(0))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{exec, shell};
    use super::*;
    use crate::firmware::ipxe::keyboard::Keyboard;
    use crate::firmware::ipxe::outcome::IpxeEnd;

    #[test]
    fn option_errors_are_ipxes_errors_not_silent_waits() {
        let mut s = shell();
        let (status, printed) = exec(&mut s, "menu --bogus Title");
        assert_eq!(status, Some(rc::EINVAL));
        assert_eq!(printed[0], "Unrecognised option \"--bogus\"");
        assert!(
            printed[1].starts_with("Usage:\n\n  menu [-n|--name <name>] [-d|--delete] [<title>]")
        );
        exec(&mut s, "menu Title");
        let (status, printed) = exec(&mut s, "item --key ctrl-x linux Linux");
        assert_eq!(
            (status, printed),
            (
                Some(rc::EINVAL),
                vec!["\"ctrl-x\": invalid integer value".into()]
            )
        );
        assert_eq!(exec(&mut s, "item --default").0, Some(0));
        assert_eq!(exec(&mut s, "choose").0, Some(rc::ERANGE));
        assert_eq!(exec(&mut s, "choose --timeout 5s x").0, Some(rc::EINVAL));
        assert_eq!(s.outcome(), None);
    }

    #[test]
    fn menus_are_found_by_name_or_said_missing() {
        let mut s = shell();
        assert_eq!(exec(&mut s, "item x").1, ["No default menu"]);
        assert_eq!(
            exec(&mut s, "item --menu boot x"),
            (Some(rc::ENOENT), vec!["\"boot\": no such menu".into()])
        );
        exec(&mut s, "menu --name boot");
        assert_eq!(exec(&mut s, "item --menu boot x X").0, Some(0));
        exec(&mut s, "menu --name boot --delete");
        assert_eq!(exec(&mut s, "choose --menu boot x").0, Some(rc::ENOENT));
    }

    #[test]
    fn choose_takes_a_key_the_default_or_waits() {
        let mut s = shell();
        let build = |s: &mut Ipxe| {
            exec(s, "menu Boot");
            exec(s, "item --gap Choose:");
            exec(s, "item --key l linux Linux");
            exec(s, "item --default shell Shell");
        };
        build(&mut s);
        s.set_keyboard(Keyboard::new([Input::Key("l".into())]));
        assert_eq!(exec(&mut s, "choose target").0, Some(0));
        assert_eq!(s.settings.user["target"], "linux");
        assert_eq!(
            s.first_menu(),
            Some(&["linux".to_string(), "shell".to_string()][..])
        );
        build(&mut s);
        assert_eq!(exec(&mut s, "choose --keep --timeout 3000 target").0, None);
        assert_eq!(s.settings.user["target"], "shell");
        assert_eq!(s.poll_timeout(), Some(Instant::from_secs(3)));
        // Kept: a second `choose` finds it, and waits for ever without a timeout.
        assert_eq!(exec(&mut s, "choose target").0, None);
        assert_eq!(
            s.outcome(),
            Some(&IpxeEnd::WaitingForInput {
                command: "choose".into()
            })
        );
    }
}
