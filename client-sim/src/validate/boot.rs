//! The whole chain for one firmware, when there is a TFTP root to boot from: the firmware
//! model against the in-process server on a simulated LAN, with a disk holding Debian's
//! loaders, judged as an operator would (a chain that starts and breaks is an error).

use std::fmt::Write as _;
use std::time::Duration;

use netbootd::time::Instant;

use super::report::{MenuItemOutcome, Problem, Severity};
use crate::chain::{ChainClient, Client, Firmware};
use crate::firmware::ipxe::keyboard::{Input, Keyboard};
use crate::firmware::MACHINE_UUID;
use crate::net::embedded::{build, ServerSpec, SetupError};
use crate::net::lan::{Lan, Station};
use crate::transcript::{Outcome, Stage, Transcript};

/// The chain column of the matrix, and the problem it shows, if any.
pub struct Boot {
    pub chain: String,
    pub ok: Option<bool>,
    pub problem: Option<Problem>,
    /// Where each item of the first menu the chain's iPXE script showed leads.
    pub menu: Vec<MenuItemOutcome>,
}

/// Boots machine `i` of the matrix as `fw`, with `keyboard` typed at its console: the
/// transcript and the labels of the first menu an iPXE script showed.
fn run_chain(
    spec: &ServerSpec,
    i: usize,
    fw: Firmware,
    keyboard: Keyboard,
) -> Result<(Transcript, Option<Vec<String>>), SetupError> {
    let mut lan = Lan::new(build(spec)?);
    let client = Client {
        firmware: fw,
        mac: netbootd::wire::MacAddr([0x52, 0x54, 0x00, 0xaa, 0x00, i as u8 + 1]),
        // The matrix's machines differ in the UUID's last octet.
        uuid: {
            let mut uuid = MACHINE_UUID;
            uuid[15] = i as u8;
            uuid
        },
        disks: vec![debian_disk()],
        seed: 0x7a11_0000 + i as u32,
    };
    let mut station = ChainClient::with_keyboard(client, Instant::ZERO, keyboard);
    lan.run(&mut station as &mut dyn Station, Duration::from_secs(3600));
    let menu = station.first_menu().map(<[String]>::to_vec);
    Ok((station.finish(&lan), menu))
}

/// One boot per item of the menu (`choose` given that item by the scripted keyboard), and
/// what it came to. Only the first menu of the chain is followed: an item leading to
/// another menu shows as waiting at that `choose`.
fn follow_menu(
    spec: &ServerSpec,
    i: usize,
    fw: Firmware,
    labels: &[String],
) -> Result<Vec<MenuItemOutcome>, SetupError> {
    let mut out = Vec::new();
    for label in labels {
        let (t, _) = run_chain(spec, i, fw, Keyboard::new([Input::Item(label.clone())]))?;
        let outcome = match &t.outcome {
            Outcome::Booted { loader, .. } => format!("booted {loader}"),
            Outcome::Failed {
                step,
                stage,
                reason,
                ..
            } => format!("fails at step {step} ({stage}): {reason}"),
        };
        out.push(MenuItemOutcome {
            item: label.clone(),
            outcome,
        });
    }
    Ok(out)
}

/// Boots `fw` (machine `i` of the matrix) when `spec` has a TFTP root.
pub fn boot(spec: &ServerSpec, i: usize, fw: Firmware) -> Result<Boot, SetupError> {
    let done = |chain: &str| Boot {
        chain: chain.into(),
        ok: None,
        problem: None,
        menu: Vec::new(),
    };
    let (Some(_), true) = (&spec.tftp_root, fw.boots()) else {
        return Ok(if spec.tftp_root.is_some() {
            done("not emulated")
        } else {
            done("not run (no --tftp-root)")
        });
    };
    let (t, labels) = run_chain(spec, i, fw, Keyboard::default())?;
    let menu = match &labels {
        Some(labels) => follow_menu(spec, i, fw, labels)?,
        None => Vec::new(),
    };
    let firmware = Some(fw.name().to_string());
    Ok(match &t.outcome {
        Outcome::Booted { loader, .. } => Boot {
            chain: format!("booted {loader} in {} steps", t.steps.len()),
            ok: Some(true),
            problem: None,
            menu,
        },
        Outcome::Failed {
            step,
            stage,
            reason,
            change,
        } => {
            let serious = reason.contains("chainload loop")
                || *stage == Stage::StartNbp
                || *stage == Stage::TftpNbp
                || reason.contains("No such file")
                || reason.contains("ended with status");
            let mut message = format!("fails at step {step} ({stage}): {reason}");
            if let Some(c) = change {
                let _ = write!(message, "; {c}");
            }
            // A firmware the config gives nothing to is a warning of the offer; a chain that
            // starts and breaks is an error.
            let problem = if serious {
                Some(Problem {
                    severity: Severity::Error,
                    firmware,
                    message,
                })
            } else if t
                .console
                .iter()
                .any(|(_, _, l)| l.contains("Operation not supported"))
            {
                Some(Problem {
                    severity: Severity::Warning,
                    firmware,
                    message: "the chain continues over HTTP, which bootsim does not emulate: not followed further".into(),
                })
            } else {
                None
            };
            Boot {
                chain: format!("failed at {stage}"),
                ok: Some(false),
                problem,
                menu,
            }
        }
    })
}

/// A disk with Debian's loaders, for the chains validate runs.
fn debian_disk() -> crate::disk::Disk {
    use crate::identify::synthetic::loader;
    crate::disk::Disk {
        name: "sda".into(),
        internal: true,
        volumes: vec![crate::disk::Volume::new("ESP")
            .with_file("EFI/debian/grubx64.efi", loader(0x8664, "grub"))
            .with_file("EFI/debian/grubia32.efi", loader(0x014c, "grub"))
            .with_file("EFI/debian/grubaa64.efi", loader(0xaa64, "grub"))],
    }
}
