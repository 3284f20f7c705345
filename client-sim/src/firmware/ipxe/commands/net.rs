//! The interface commands (src/hci/commands/ifmgmt_cmd.c `ifcommon_exec`): `ifconf`
//! (`dhcp`) configures net0 by DHCP; `ifopen`, `ifclose`, `ifstat`, `iflinkwait` check
//! their arguments and succeed (the model's one NIC is open with its link up, and `ifstat`
//! prints nothing here); `sync` (sync_cmd.c), `params` and `param` (param_cmd.c) check
//! theirs and succeed.

use netbootd::time::Instant;

use super::options::{Descriptor, Kind, MANY};
use super::{parse, Outcome};
use crate::firmware::ipxe::machine::Ipxe;
use crate::firmware::ipxe::outcome::rc;

/// The model's one network device.
const NETDEV: &str = "net0";

/// `ifcommon_exec` over the named interfaces: each that is not one prints `"<name>": no
/// such network device` and is skipped. True when one is ours; a command that stops on
/// its first success (`ifconf`, `iflinkwait`) looks no further.
fn names_ours(shell: &mut Ipxe, now: Instant, args: &[String], first_success: bool) -> bool {
    if args.is_empty() {
        return true;
    }
    let mut ours = false;
    for name in args {
        if name == NETDEV {
            ours = true;
            if first_success {
                break;
            }
        } else {
            shell.say(now, format!("\"{name}\": no such network device"));
        }
    }
    ours
}

const IFCONF: Descriptor = Descriptor {
    options: &[
        ("configurator", 'c', Kind::Text),
        ("timeout", 't', Kind::Integer),
    ],
    min_args: 0,
    max_args: MANY,
    usage: Some("[<interface>...]"),
};

/// `ifconf [--configurator dhcp|ipv6] [--timeout MS] [INTERFACE...]`, and `dhcp`, its
/// older name: DHCP on net0 (with the IPv6 configurator alongside when modelled).
pub fn ifconf(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let p = parse(shell, now, argv, &IFCONF)?;
    // parse_netdev_configurator: the configurators iPXE links in.
    if let Some(c) = p
        .text("configurator")
        .filter(|c| !matches!(*c, "dhcp" | "ipv6"))
    {
        shell.say(now, format!("\"{c}\": no such configurator"));
        return Ok(Some(rc::ENOTSUP));
    }
    if !names_ours(shell, now, &p.args, true) {
        return Ok(Some(rc::ENODEV));
    }
    shell.start_dhcp(now, false);
    Ok(None)
}

const IFCOMMON: Descriptor = Descriptor {
    options: &[],
    min_args: 0,
    max_args: MANY,
    usage: Some("[<interface>...]"),
};

/// `ifopen`, `ifclose`, `ifstat [INTERFACE...]`.
pub fn ifcommon(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let p = parse(shell, now, argv, &IFCOMMON)?;
    let ours = names_ours(shell, now, &p.args, false);
    // Every interface is tried; the status is the last one's.
    let last_ours = p.args.last().is_none_or(|n| n == NETDEV);
    Ok(Some(if ours && last_ours { 0 } else { rc::ENODEV }))
}

const IFLINKWAIT: Descriptor = Descriptor {
    options: &[("timeout", 't', Kind::Integer)],
    min_args: 0,
    max_args: MANY,
    usage: Some("[<interface>...]"),
};

/// `iflinkwait [--timeout MS] [INTERFACE...]`: the link is up at once.
pub fn iflinkwait(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    let p = parse(shell, now, argv, &IFLINKWAIT)?;
    let ours = names_ours(shell, now, &p.args, true);
    Ok(Some(if ours { 0 } else { rc::ENODEV }))
}

const SYNC: Descriptor = Descriptor {
    options: &[("timeout", 't', Kind::Integer)],
    min_args: 0,
    max_args: 0,
    usage: None,
};

/// `sync [--timeout MS]`: nothing is pending in the model.
pub fn sync(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    parse(shell, now, argv, &SYNC)?;
    Ok(Some(0))
}

const PARAMS: Descriptor = Descriptor {
    options: &[
        ("name", 'n', Kind::Text),
        ("method", 'm', Kind::Text),
        ("delete", 'd', Kind::Flag),
    ],
    min_args: 0,
    max_args: 0,
    usage: None,
};

/// `params [--name N] [--method M] [--delete]`: request parameters are not sent here.
pub fn params(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    parse(shell, now, argv, &PARAMS)?;
    Ok(Some(0))
}

const PARAM: Descriptor = Descriptor {
    options: &[("params", 'p', Kind::Text), ("header", 'H', Kind::Flag)],
    min_args: 1,
    max_args: MANY,
    usage: Some("<key> [<value>]"),
};

/// `param [--params N] [--header] KEY [VALUE]`.
pub fn param(shell: &mut Ipxe, now: Instant, argv: &[String]) -> Outcome {
    parse(shell, now, argv, &PARAM)?;
    Ok(Some(0))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{exec, shell};
    use super::*;

    #[test]
    fn ifconf_starts_dhcp_on_net0_only() {
        let mut s = shell();
        assert_eq!(
            exec(&mut s, "ifconf net1"),
            (
                Some(rc::ENODEV),
                vec!["\"net1\": no such network device".into()]
            )
        );
        assert_eq!(
            exec(&mut s, "ifconf -c slaac"),
            (
                Some(rc::ENOTSUP),
                vec!["\"slaac\": no such configurator".into()]
            )
        );
        assert_eq!(exec(&mut s, "ifconf --timeout x").0, Some(rc::EINVAL));
        assert_eq!(exec(&mut s, "dhcp net0").0, None);
        assert!(s.poll_transmit().is_some(), "a DHCPDISCOVER leaves");
    }

    #[test]
    fn interface_and_parameter_commands_check_their_arguments() {
        let mut s = shell();
        assert_eq!(exec(&mut s, "ifopen").0, Some(0));
        assert_eq!(exec(&mut s, "ifstat net0").0, Some(0));
        assert_eq!(exec(&mut s, "ifclose net0 net9").0, Some(rc::ENODEV));
        assert_eq!(exec(&mut s, "iflinkwait -t 1000 net0").0, Some(0));
        assert_eq!(exec(&mut s, "sync now").0, Some(rc::ERANGE));
        assert_eq!(exec(&mut s, "params --name form").0, Some(0));
        assert_eq!(exec(&mut s, "param").0, Some(rc::ERANGE));
        assert_eq!(exec(&mut s, "param --params form key value").0, Some(0));
    }
}
