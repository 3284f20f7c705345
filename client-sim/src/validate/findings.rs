//! Problems of the config as a whole, read from the whole matrix: iPXE offered what the
//! firmware got (a chainload loop, seen without a TFTP root), classes whose test is never
//! true or that match no firmware, pools too small for a boot storm.

use netbootd::kea::model::Config;

use super::bootfile;
use super::explain::Explainer;
use super::report::{Problem, Severity};
use crate::chain::Firmware;

/// iPXE EFI offered the same file as UEFI x64 firmware: if that file may be iPXE by its name,
/// a loop (iPXE offered GRUB or a kernel just boots it).
pub fn chainload_loop(offered: &[(Firmware, Option<String>)]) -> Option<Problem> {
    let file = |kind| {
        offered
            .iter()
            .find(|(k, _)| *k == kind)
            .and_then(|(_, f)| f.clone())
    };
    let uefi = file(Firmware::UefiX64)?;
    let same = file(Firmware::IpxeEfi).as_ref() == Some(&uefi);
    (same && bootfile::could_be_ipxe(&uefi)).then(|| Problem {
        severity: Severity::Error,
        firmware: Some("ipxe-efi".into()),
        message: format!(
            "iPXE is offered the same file as UEFI x64 firmware ({uefi}): if that file is iPXE, this is a chainload loop; make the iPXE class (user-class \"iPXE\") come first or exclude iPXE from the firmware's class"
        ),
    })
}

/// Classes whose test is never true (an error when the test needs the comparison, a warning
/// when another branch remains), and classes that give something but match no firmware.
pub fn classes(config: &Config, explainer: &Explainer, matched: &[String]) -> Vec<Problem> {
    let mut out = Vec::new();
    let config_wide = |severity, message| Problem {
        severity,
        firmware: None,
        message,
    };
    for class in &config.classes {
        let at = explainer
            .reports
            .iter()
            .find(|r| r.class == class.name)
            .map_or(String::new(), |r| r.at.clone());
        match explainer.never_true(&class.name) {
            Some((reason, true)) => {
                out.push(config_wide(
                    Severity::Error,
                    format!(
                        "class '{}' at {at}: its test is never true: {reason}",
                        class.name
                    ),
                ));
                continue;
            }
            Some((reason, false)) => out.push(config_wide(
                Severity::Warning,
                format!(
                    "class '{}' at {at}: part of its test is never true: {reason}",
                    class.name
                ),
            )),
            None => {}
        }
        let gives = class.boot_file_name.is_some()
            || class.next_server.is_some()
            || !class.options.is_empty();
        if gives && !matched.contains(&class.name) {
            out.push(config_wide(
                Severity::Warning,
                format!(
                    "class '{}' at {at} matches none of the firmware matrix{}",
                    class.name,
                    explainer
                        .why_unmatched(&class.name)
                        .map_or(String::new(), |w| format!(": {w}"))
                ),
            ));
        }
    }
    out
}

/// Pools holding fewer addresses than `storm` machines.
pub fn pools(config: &Config, storm: u64) -> Option<Problem> {
    let size: u64 = config
        .subnets
        .iter()
        .flat_map(|s| s.pools.iter())
        .map(|p| u64::from(u32::from(p.last)) - u64::from(u32::from(p.first)) + 1)
        .sum();
    (size < storm).then(|| Problem {
        severity: Severity::Warning,
        firmware: None,
        message: format!(
            "the pools hold {size} addresses: a boot storm of {storm} machines gets DHCPNAKs and timeouts"
        ),
    })
}
