//! The image commands (src/hci/commands/image_cmd.c `imgsingle_exec`, `imgmulti_exec`;
//! src/usr/imgmgmt.c): acquire an image by download (`imgfetch`) or by name or URI
//! (`imgacquire`: the others), then name it, give it a command line, select it or execute
//! it; `imgstat` and `imgfree` list and drop images.

use netbootd::time::Instant;

use super::options::{Descriptor, Kind, Opt, MANY};
use super::{parse, Outcome};
use crate::firmware::ipxe::machine::{AfterFetch, Ipxe};
use crate::firmware::ipxe::outcome::rc;

/// `imgexec` takes all five options; the other single-image commands the first four.
const IMGEXEC_OPTIONS: &[Opt] = &[
    ("name", 'n', Kind::Text),
    ("timeout", 't', Kind::Integer),
    ("quiet", 'q', Kind::Flag),
    ("autofree", 'a', Kind::Flag),
    ("replace", 'r', Kind::Flag),
];
const IMGSINGLE_OPTIONS: &[Opt] = IMGEXEC_OPTIONS.split_at(4).0;

/// A single-image command (`imgsingle_descriptor`): its options and arguments, and what it
/// does once it has its image.
struct Single {
    desc: Descriptor,
    /// `imgacquire` (an image of that name first), not `imgdownload_string`.
    by_name: bool,
    /// `image_clear_cmdline` before the arguments are set (`imgargs`).
    clear_cmdline: bool,
    select: bool,
    exec: bool,
}

/// `imgfetch`, `module`, `initrd`: download and register.
const IMGFETCH: Single = Single {
    desc: Descriptor {
        options: IMGSINGLE_OPTIONS,
        min_args: 1,
        max_args: MANY,
        usage: Some("<uri> [<arguments>...]"),
    },
    by_name: false,
    clear_cmdline: false,
    select: false,
    exec: false,
};
/// `imgselect`, `imgload`, `kernel`: acquire and select.
const IMGSELECT: Single = Single {
    desc: Descriptor {
        options: IMGSINGLE_OPTIONS,
        min_args: 1,
        max_args: MANY,
        usage: Some("<uri|image> [<arguments>...]"),
    },
    by_name: true,
    clear_cmdline: false,
    select: true,
    exec: false,
};
/// `imgexec`, `chain`, `boot`: acquire and execute.
const IMGEXEC: Single = Single {
    desc: Descriptor {
        options: IMGEXEC_OPTIONS,
        min_args: 0,
        max_args: MANY,
        usage: Some("[<uri|image> [<arguments>...]]"),
    },
    by_name: true,
    clear_cmdline: false,
    select: true,
    exec: true,
};
/// `imgargs`: acquire, and replace the image's command line with the arguments.
const IMGARGS: Single = Single {
    clear_cmdline: true,
    select: false,
    ..IMGSELECT
};

pub fn imgfetch(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    single(shell, now, argv, &IMGFETCH)
}

pub fn imgselect(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    single(shell, now, argv, &IMGSELECT)
}

pub fn imgexec(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    single(shell, now, argv, &IMGEXEC)
}

pub fn imgargs(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    single(shell, now, argv, &IMGARGS)
}

/// `imgsingle_exec`. With no argument (`imgexec` only), the selected image runs
/// (`No image selected`, and status 0, when there is none).
fn single(shell: &mut Ipxe, now: Instant, argv: &[String], action: &Single) -> Outcome {
    let p = parse(shell, now, argv, &action.desc)?;
    let Some(target) = p.args.first().cloned() else {
        let Some(image) = shell
            .selected
            .as_ref()
            .and_then(|n| shell.images.iter().find(|i| &i.name == n))
            .cloned()
        else {
            shell.say(now, "No image selected");
            return Ok(Some(0));
        };
        return Ok(shell.exec(now, image, false));
    };
    let cmdline = (p.args.len() > 1).then(|| p.args[1..].join(" "));
    let name = p.text("name").map(str::to_string);
    let found = action
        .by_name
        .then(|| shell.images.iter().position(|i| i.name == target))
        .flatten();
    let Some(index) = found else {
        let uri = shell.resolve(&target);
        return Ok(shell.fetch(
            now,
            uri,
            AfterFetch {
                name,
                cmdline,
                exec: action.exec,
                select: action.select,
                autoboot: false,
            },
        ));
    };
    let image = &mut shell.images[index];
    if action.clear_cmdline {
        image.cmdline = None;
    }
    if let Some(n) = name {
        image.name = n;
    }
    if cmdline.is_some() {
        image.cmdline = cmdline;
    }
    let image = image.clone();
    if action.select {
        shell.selected = Some(image.name.clone());
    }
    if action.exec {
        return Ok(shell.exec(now, image, false));
    }
    Ok(Some(0))
}

const IMGMULTI: Descriptor = Descriptor {
    options: &[],
    min_args: 0,
    max_args: MANY,
    usage: Some("[<image>...]"),
};

/// `imgmulti_exec`: the images named, in order (all of them, oldest first, when none is
/// named), and the first name that is no image (it stops there).
fn named_images(
    shell: &mut Ipxe,
    now: Instant,
    argv: &[String],
) -> Result<(Vec<String>, Option<String>), i32> {
    let p = parse(shell, now, argv, &IMGMULTI)?;
    if p.args.is_empty() {
        return Ok((shell.images.iter().map(|i| i.name.clone()).collect(), None));
    }
    let missing = p
        .args
        .iter()
        .position(|n| !shell.images.iter().any(|i| &i.name == n));
    let mut names = p.args;
    let missing = missing.map(|at| names.split_off(at).swap_remove(0));
    Ok((names, missing))
}

/// After the images it did process: `"<name>": no such image` and -ENOENT, or 0.
fn no_such_image(shell: &mut Ipxe, now: Instant, missing: Option<String>) -> Outcome {
    Ok(Some(match missing {
        Some(name) => {
            shell.say(now, format!("\"{name}\": no such image"));
            rc::ENOENT
        }
        None => 0,
    }))
}

/// `imgstat [IMAGE...]`: `<name> : <length> bytes` per image.
pub fn imgstat(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let (names, missing) = named_images(shell, now, argv)?;
    for name in names {
        if let Some(image) = shell.images.iter().find(|i| i.name == name) {
            let line = format!("{} : {} bytes", image.name, image.bytes.len());
            shell.say(now, line);
        }
    }
    no_such_image(shell, now, missing)
}

/// `imgfree [IMAGE...]`: unregisters the images (all when none is named).
pub fn imgfree(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let (names, missing) = named_images(shell, now, argv)?;
    shell.images.retain(|i| !names.contains(&i.name));
    if shell.selected.as_ref().is_some_and(|s| names.contains(s)) {
        shell.selected = None;
    }
    no_such_image(shell, now, missing)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{exec, shell};
    use super::*;
    use crate::content::Content;
    use crate::firmware::ipxe::outcome::Image;

    fn with_images(names: &[&str]) -> Ipxe {
        let mut s = shell();
        for (seq, name) in names.iter().enumerate() {
            s.images.push(Image {
                name: name.to_string(),
                uri: format!("tftp://10.0.0.1/{name}"),
                bytes: Content::from(vec![0u8; 10 * (seq + 1)]),
                cmdline: Some("old".into()),
                at: Instant::ZERO,
                seq,
            });
        }
        s
    }

    #[test]
    fn a_missing_uri_is_a_usage_error_not_a_silent_wait() {
        let mut s = shell();
        for line in ["imgfetch", "kernel --name k", "imgargs"] {
            let (status, printed) = exec(&mut s, line);
            assert_eq!(status, Some(rc::ERANGE), "{line}");
            assert!(printed[0].starts_with("Usage:"), "{line}");
        }
        assert_eq!(
            exec(&mut s, "chain --bogus x").1[1],
            "Usage:\n\n  chain [-n|--name <name>] [-t|--timeout <timeout>] [-q|--quiet] \
             [-a|--autofree] [-r|--replace] [<uri|image> [<arguments>...]]\n\n\
             See https://ipxe.org/cmd/chain for further information"
        );
        assert_eq!(exec(&mut s, "imgfetch --replace x").0, Some(rc::EINVAL));
        assert_eq!(
            exec(&mut s, "boot"),
            (Some(0), vec!["No image selected".into()])
        );
        assert_eq!(s.outcome(), None);
    }

    #[test]
    fn imgargs_replaces_the_command_line_and_imgstat_lists() {
        let mut s = with_images(&["vmlinuz", "initrd"]);
        assert_eq!(
            exec(&mut s, "imgargs vmlinuz console=ttyS0 quiet").0,
            Some(0)
        );
        assert_eq!(
            s.images()[0].cmdline.as_deref(),
            Some("console=ttyS0 quiet")
        );
        assert_eq!(exec(&mut s, "imgargs initrd").0, Some(0));
        assert_eq!(s.images()[1].cmdline, None);
        assert_eq!(
            exec(&mut s, "imgstat").1,
            ["vmlinuz : 10 bytes", "initrd : 20 bytes"]
        );
        assert_eq!(exec(&mut s, "imgstat initrd").1, ["initrd : 20 bytes"]);
        assert_eq!(exec(&mut s, "imgselect --name kernel vmlinuz").0, Some(0));
        assert_eq!(s.selected.as_deref(), Some("kernel"));
    }

    #[test]
    fn imgfree_drops_named_images_or_says_which_is_missing() {
        let mut s = with_images(&["a", "b", "c"]);
        assert_eq!(
            exec(&mut s, "imgfree b nope"),
            (Some(rc::ENOENT), vec!["\"nope\": no such image".into()])
        );
        let names: Vec<&str> = s.images().iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(exec(&mut s, "imgfree").0, Some(0));
        assert!(s.images().is_empty());
    }
}
