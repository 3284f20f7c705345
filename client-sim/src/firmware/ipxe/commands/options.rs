//! A command's options and arguments as iPXE reads them: its own `getopt_long`
//! (src/core/getopt.c: options stop at the first argument that is not one, short options
//! group, `--` ends them) under `reparse_options` (src/core/parseopt.c: each value parsed as
//! it comes, `--help`, the argument count checked last), with `print_usage`'s text and
//! the status each failure returns.

use super::super::outcome::rc;

/// How an option's value is read (parseopt.c's `parse_*` functions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `no_argument`, `parse_flag`.
    Flag,
    /// `parse_string`.
    Text,
    /// `parse_integer` (and `parse_timeout`, the same number in ms).
    Integer,
    /// `parse_key`: one character is itself, anything else an integer.
    Key,
}

/// One `OPTION_DESC`: long name, short letter, how its value is read.
pub type Opt = (&'static str, char, Kind);

/// A `COMMAND_DESC`: the options, how many arguments, and the usage text after them.
#[derive(Debug, Clone, Copy)]
pub struct Descriptor {
    pub options: &'static [Opt],
    pub min_args: usize,
    pub max_args: usize,
    pub usage: Option<&'static str>,
}

/// parseopt.h's `MAX_ARGUMENTS`: no upper bound worth counting.
pub const MANY: usize = usize::MAX;

/// A value an option was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Flag,
    Text(String),
    Integer(u32),
}

/// The options given, in order, and the arguments after them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub options: Vec<(&'static str, Value)>,
    pub args: Vec<String>,
}

impl Parsed {
    fn last(&self, name: &str) -> Option<&Value> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// The last value of a `Text` option.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.last(name) {
            Some(Value::Text(t)) => Some(t),
            _ => None,
        }
    }

    /// The last value of an `Integer` or `Key` option.
    pub fn integer(&self, name: &str) -> Option<u32> {
        match self.last(name) {
            Some(Value::Integer(n)) => Some(*n),
            _ => None,
        }
    }

    pub fn flag(&self, name: &str) -> bool {
        self.last(name).is_some()
    }
}

/// Why a command did not run: the console lines iPXE printed and the status it returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub lines: Vec<String>,
    pub rc: i32,
}

/// `print_usage` (parseopt.c, generated from the options since 2013): `Usage:`, the
/// command with each option and the usage text, and the command's help page.
pub fn usage(command: &str, desc: &Descriptor) -> String {
    let mut line = format!("Usage:\n\n  {command}");
    for (long, short, kind) in desc.options {
        line.push_str(&format!(" [-{short}|--{long}"));
        if *kind != Kind::Flag {
            line.push_str(&format!(" <{long}>"));
        }
        line.push(']');
    }
    if let Some(u) = desc.usage {
        line.push(' ');
        line.push_str(u);
    }
    line.push_str(&format!(
        "\n\nSee https://ipxe.org/cmd/{command} for further information"
    ));
    line
}

/// `parse_integer`: `strtoul(text, &end, 0)` (decimal, `0x` hex, `0` octal) that must use
/// the whole text and not be empty; otherwise `"<text>": invalid integer value`, -EINVAL.
pub fn parse_integer(text: &str) -> Result<u32, Refusal> {
    let invalid = || Refusal {
        lines: vec![format!("\"{text}\": invalid integer value")],
        rc: rc::EINVAL,
    };
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (radix, digits) = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, hex)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if digits.is_empty() {
        return Err(invalid());
    }
    let mut value: u32 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix).ok_or_else(invalid)?;
        // strtoul's unsigned long, stored in an unsigned int: it wraps.
        value = value.wrapping_mul(radix).wrapping_add(d);
    }
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// `parse_key`: a single character is its own key code, anything else an integer.
pub fn parse_key(text: &str) -> Result<u32, Refusal> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c as u32),
        _ => parse_integer(text),
    }
}

fn value(kind: Kind, text: &str) -> Result<Value, Refusal> {
    Ok(match kind {
        Kind::Flag => Value::Flag,
        Kind::Text => Value::Text(text.to_string()),
        Kind::Integer => Value::Integer(parse_integer(text)?),
        Kind::Key => Value::Integer(parse_key(text)?),
    })
}

/// `parse_options`: reads `argv[1..]` against `desc`. A wrong option or a missing value
/// prints getopt's complaint and the usage (-EINVAL), `--help` the usage (-ECANCELED), a
/// bad value its own complaint (-EINVAL), a wrong argument count the usage (-ERANGE).
/// iPXE's EINVAL variants (`EINVAL_UNKNOWN_OPTION`...) share EINVAL's text here.
pub fn parse(argv: &[String], desc: &Descriptor) -> Result<Parsed, Refusal> {
    let command = argv.first().map(String::as_str).unwrap_or("");
    let refuse = |complaint: Option<String>, rc: i32| Refusal {
        lines: complaint
            .into_iter()
            .chain([usage(command, desc)])
            .collect(),
        rc,
    };
    let mut parsed = Parsed::default();
    let mut i = 1;
    while let Some(arg) = argv.get(i) {
        // getopt_long: the first element that does not start with '-' ends the options.
        let Some(rest) = arg.strip_prefix('-') else {
            break;
        };
        i += 1;
        if let Some(long) = rest.strip_prefix('-') {
            if long.is_empty() {
                break;
            }
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            if name == "help" {
                return Err(refuse(None, rc::ECANCELED));
            }
            let Some(&(long_name, _, kind)) = desc.options.iter().find(|o| o.0 == name) else {
                return Err(refuse(
                    Some(format!("Unrecognised option \"--{long}\"")),
                    rc::EINVAL,
                ));
            };
            let text = match (kind, inline) {
                (Kind::Flag, None) => String::new(),
                (Kind::Flag, Some(_)) => {
                    return Err(refuse(
                        Some(format!("Option \"{long_name}\" takes no argument")),
                        rc::EINVAL,
                    ))
                }
                (_, Some(v)) => v,
                (_, None) => match argv.get(i) {
                    Some(v) => {
                        i += 1;
                        v.clone()
                    }
                    None => {
                        return Err(refuse(
                            Some(format!("Option \"{long_name}\" requires an argument")),
                            rc::EINVAL,
                        ))
                    }
                },
            };
            parsed.options.push((long_name, value(kind, &text)?));
            continue;
        }
        // Short options, grouped (`-ak`); one that takes a value takes the rest of the
        // element, or the next element.
        if rest.is_empty() {
            return Err(refuse(Some("Unrecognised option \"-\"".into()), rc::EINVAL));
        }
        for (at, c) in rest.char_indices() {
            if c == 'h' {
                return Err(refuse(None, rc::ECANCELED));
            }
            let Some(&(long_name, _, kind)) = desc.options.iter().find(|o| o.1 == c) else {
                return Err(refuse(
                    Some(format!("Unrecognised option \"-{c}\"")),
                    rc::EINVAL,
                ));
            };
            if kind == Kind::Flag {
                parsed.options.push((long_name, Value::Flag));
                continue;
            }
            let inline = &rest[at + c.len_utf8()..];
            let text = if !inline.is_empty() {
                inline.to_string()
            } else if let Some(v) = argv.get(i) {
                i += 1;
                v.clone()
            } else {
                return Err(refuse(
                    Some(format!("Option \"{c}\" requires an argument")),
                    rc::EINVAL,
                ));
            };
            parsed.options.push((long_name, value(kind, &text)?));
            break;
        }
    }
    parsed.args = argv.get(i..).unwrap_or_default().to_vec();
    if parsed.args.len() < desc.min_args || parsed.args.len() > desc.max_args {
        return Err(refuse(None, rc::ERANGE));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FETCH: Descriptor = Descriptor {
        options: &[("name", 'n', Kind::Text), ("autofree", 'a', Kind::Flag)],
        min_args: 1,
        max_args: MANY,
        usage: Some("<uri> [<arguments>...]"),
    };

    fn argv(line: &str) -> Vec<String> {
        line.split(' ').map(String::from).collect()
    }

    #[test]
    fn options_stop_at_the_first_argument_like_ipxe_getopt() {
        let p = parse(
            &argv("imgfetch --name refind.conf -a tftp://x/y -n z"),
            &FETCH,
        )
        .unwrap();
        assert_eq!(p.text("name"), Some("refind.conf"));
        assert!(p.flag("autofree"));
        // getopt.c does not permute: what follows the URI is the image's command line.
        assert_eq!(p.args, ["tftp://x/y", "-n", "z"]);
        let p = parse(&argv("imgfetch -anx --name=y -- -u"), &FETCH).unwrap();
        assert_eq!(p.text("name"), Some("y"));
        assert_eq!(p.args, ["-u"]);
    }

    #[test]
    fn failures_print_getopts_complaint_and_the_generated_usage() {
        let usage =
            "Usage:\n\n  imgfetch [-n|--name <name>] [-a|--autofree] <uri> [<arguments>...]\n\n\
                     See https://ipxe.org/cmd/imgfetch for further information";
        assert_eq!(
            parse(&argv("imgfetch --bogus x"), &FETCH),
            Err(Refusal {
                lines: vec!["Unrecognised option \"--bogus\"".into(), usage.into()],
                rc: rc::EINVAL
            })
        );
        let e = parse(&argv("imgfetch -x"), &FETCH).unwrap_err();
        assert_eq!(e.lines[0], "Unrecognised option \"-x\"");
        let e = parse(&argv("imgfetch --name"), &FETCH).unwrap_err();
        assert_eq!(e.lines[0], "Option \"name\" requires an argument");
        let e = parse(&argv("imgfetch --autofree=1 x"), &FETCH).unwrap_err();
        assert_eq!(e.lines[0], "Option \"autofree\" takes no argument");
        let e = parse(&argv("imgfetch -a"), &FETCH).unwrap_err();
        assert_eq!((e.lines.len(), e.rc), (1, rc::ERANGE));
        let e = parse(&argv("imgfetch --help"), &FETCH).unwrap_err();
        assert_eq!((e.lines[0].as_str(), e.rc), (usage, rc::ECANCELED));
    }

    #[test]
    fn integers_and_keys_parse_like_strtoul() {
        assert_eq!(parse_integer("10"), Ok(10));
        assert_eq!(parse_integer("0x1F"), Ok(31));
        assert_eq!(parse_integer("010"), Ok(8));
        assert_eq!(parse_integer("0"), Ok(0));
        assert_eq!(parse_integer("-1"), Ok(u32::MAX));
        for bad in ["", "5s", "0x", "08"] {
            let e = parse_integer(bad).unwrap_err();
            assert_eq!(e.lines, [format!("\"{bad}\": invalid integer value")]);
            assert_eq!(e.rc, rc::EINVAL);
        }
        assert_eq!(parse_key("x"), Ok(u32::from(b'x')));
        assert_eq!(parse_key("0x02"), Ok(2));
        assert!(parse_key("ctrl").is_err());
    }
}
