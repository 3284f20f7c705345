//! `bootsim validate`: a third-party Kea config against the firmware matrix. For each
//! firmware (UEFI x64, IA32 and AArch64 PXE, BIOS PXE, iPXE EFI and BIOS, UEFI HTTP boot) it
//! shows what the server offers (classes, file, next-server), and, given a TFTP root,
//! whether the whole chain completes; each class's test per firmware and why it is false;
//! which Kea releases take the config; then the problems, each naming the class or key and
//! its line: chainload loops, missing files, wrong-architecture binaries (by name without a
//! TFTP root), tests that are never true, classes no firmware matches, option 60 traps, boot
//! files without a next-server, pools too small for a boot storm.

mod boot;
mod bootfile;
mod discover;
mod explain;
mod findings;
mod offer;
mod release;
mod report;

use std::fmt;
use std::path::PathBuf;

use explain::Explainer;
pub use explain::{ClassReport, ClassVerdict};
pub use release::Release;
pub use report::{Problem, Report, Row, Severity};

use crate::chain::Firmware;
use crate::net::embedded::{build, ServerSpec, SetupError, SIMULATION_EPOCH};
use netbootd::kea::KeaVersion;

/// What to validate.
#[derive(Debug, Clone)]
pub struct Request {
    pub config: PathBuf,
    /// The release to validate against; `None`: the newest release whose grammar accepts
    /// the file.
    pub kea_version: Option<KeaVersion>,
    pub tftp_root: Option<PathBuf>,
    /// Warn when the pools hold fewer addresses than this many machines.
    pub storm: u64,
}

/// The server could not be built from the config (Kea would refuse it, or it has no
/// subnet), with what each release's grammar says of its keywords.
#[derive(Debug, thiserror::Error)]
pub struct ValidateError {
    #[source]
    pub setup: SetupError,
    pub releases: Vec<Release>,
}

impl fmt::Display for ValidateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.setup)?;
        // Every release refusing for the same reason adds nothing to the error above.
        let first = self.releases.first().map(|r| &r.refusal);
        if self.releases.iter().all(|r| Some(&r.refusal) == first) {
            return Ok(());
        }
        write!(f, "\n{}", report::releases_line(&self.releases, None))?;
        if self.releases.iter().all(|r| !r.accepts) {
            write!(
                f,
                "\nno release bootsim follows takes these keywords: the config may be for a \
                 newer Kea"
            )?;
        }
        Ok(())
    }
}

pub fn validate(req: &Request) -> Result<Report, ValidateError> {
    let releases = release::releases(&req.config).unwrap_or_default();
    let kea_version = req
        .kea_version
        .unwrap_or_else(|| release::newest_accepting(&releases));
    let releases: Vec<Release> = releases.into_iter().map(|(_, r)| r).collect();
    matrix(req, kea_version, releases.clone()).map_err(|setup| ValidateError { setup, releases })
}

fn matrix(
    req: &Request,
    kea_version: KeaVersion,
    releases: Vec<Release>,
) -> Result<Report, SetupError> {
    let spec = ServerSpec {
        config: req.config.clone(),
        kea_version,
        tftp_root: req.tftp_root.clone(),
        server_addr: None,
        epoch: SIMULATION_EPOCH,
    };
    let server = build(&spec)?;
    let config = server.engine.config();
    let mut explainer = Explainer::new(config);
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut matched: Vec<String> = Vec::new();
    let mut offered: Vec<(Firmware, Option<String>)> = Vec::new();
    for (i, kind) in Firmware::ALL.iter().copied().enumerate() {
        // The DHCP offer, straight from the engine, and each class's verdict on it.
        let o = offer::offer(&spec, i, kind)?;
        let known = o.classes.iter().any(|c| c == "KNOWN");
        explainer.firmware(kind.name(), &o.query, known);
        let own = o.own_classes();
        matched.extend(own.iter().cloned());
        problems.extend(offer::problems(kind, &o, req.tftp_root.is_none(), config));
        offered.push((kind, o.file.clone()));
        // The whole chain, when there is a TFTP root to boot from.
        let b = boot::boot(&spec, i, kind)?;
        problems.extend(b.problem);
        rows.push(Row {
            firmware: kind.name().to_string(),
            classes: own,
            file: o.file,
            next_server: o.next_server,
            chain: b.chain,
            chain_ok: b.ok,
            menu: b.menu,
        });
    }
    // A config that boots nothing says so once, not once per firmware.
    if rows.iter().all(|r| r.file.is_none()) {
        problems.retain(|p| !p.message.starts_with("no boot file for this firmware"));
        problems.push(Problem {
            severity: Severity::Warning,
            firmware: None,
            message: "no firmware of the matrix is offered a boot file (no boot-file-name or \
                      option 67 reaches any of them): this config does not network-boot \
                      UEFI, BIOS or iPXE machines"
                .into(),
        });
    }
    // Without a TFTP root, loops show in the offers: iPXE offered what the firmware got.
    if req.tftp_root.is_none() {
        problems.extend(findings::chainload_loop(&offered));
    }
    problems.extend(findings::classes(config, &explainer, &matched));
    problems.extend(findings::pools(config, req.storm));
    Ok(Report {
        config: req.config.display().to_string(),
        kea_version: kea_version.to_string(),
        releases,
        rows,
        classes: explainer.reports,
        problems,
    })
}
