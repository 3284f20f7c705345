//! What a run did, with assertions that read as the domain: booted this loader, failed at
//! this stage with this diagnosis, fetched these files, matched this class, within this
//! time. Each assertion panics with the whole transcript, so a failing test shows the boot.

use std::fmt;
use std::time::Duration;

use crate::scenario::ScenarioRun;
use crate::transcript::{Classes, Outcome, Stage, StepKind, Transcript};

/// One machine's boot.
#[derive(Debug, Clone)]
pub struct Boot {
    transcript: Transcript,
}

/// Every machine of a run, in the order they were given (a machine with a count gives that
/// many boots).
#[derive(Debug, Clone)]
pub struct Run {
    pub(super) boots: Vec<Boot>,
    run: ScenarioRun,
}

impl Run {
    pub(super) fn new(run: ScenarioRun) -> Run {
        let boots = run
            .transcripts
            .iter()
            .map(|t| Boot {
                transcript: t.clone(),
            })
            .collect();
        Run { boots, run }
    }

    /// The boots, one per machine.
    pub fn boots(&self) -> &[Boot] {
        &self.boots
    }

    /// How many machines reached a loader.
    pub fn booted(&self) -> usize {
        self.boots.iter().filter(|b| b.transcript.booted()).count()
    }

    /// Frames the faults lost on the segment.
    pub fn frames_lost(&self) -> u64 {
        self.run.faults.lost
    }
}

/// Every transcript, as `bootsim run --verbose` prints them (deterministic: for snapshots).
impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.boots.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{b}")?;
        }
        Ok(())
    }
}

impl Boot {
    #[cfg_attr(not(feature = "qemu"), allow(dead_code))]
    pub(super) fn from_transcript(transcript: Transcript) -> Boot {
        Boot { transcript }
    }

    /// The full transcript: steps, outcome, console, lints.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Whether a loader started.
    pub fn booted(&self) -> bool {
        self.transcript.booted()
    }

    /// The loader that started, if one did (`EFI\debian\grubx64.efi`).
    pub fn loader(&self) -> Option<&str> {
        match &self.transcript.outcome {
            Outcome::Booted { loader, .. } => Some(loader),
            Outcome::Failed { .. } => None,
        }
    }

    /// The files the chain downloaded, in order, by their paths on the server: the
    /// firmware's boot program, then what each iPXE script fetched (`ipxe.efi`,
    /// `refind.pxe`, `refind_x64.efi`).
    pub fn fetched(&self) -> Vec<&str> {
        self.transcript
            .steps
            .iter()
            .filter_map(|s| match &s.kind {
                StepKind::Nbp(d) => Some(d.source.as_str()),
                // `tftp://192.168.1.1/refind.pxe`: the path after the host.
                StepKind::Script(d) | StepKind::Fetch(d) => Some(
                    d.source
                        .split_once("://")
                        .and_then(|(_, rest)| rest.split_once('/'))
                        .map_or(d.source.as_str(), |(_, path)| path),
                ),
                _ => None,
            })
            .collect()
    }

    /// The operator's classes the server put the machine's DHCP queries in, every
    /// exchange's in order.
    pub fn classes(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for s in &self.transcript.steps {
            if let StepKind::Dhcp {
                classes: Classes::Matched(c),
                ..
            } = &s.kind
            {
                out.extend(c.iter().map(String::as_str));
            }
        }
        out
    }

    /// Virtual time from power-on to the end of the chain.
    pub fn elapsed(&self) -> Duration {
        self.transcript.elapsed
    }

    #[track_caller]
    fn fail(&self, what: &str) -> ! {
        panic!("{what}\n\n{}", self.transcript.render(false))
    }

    /// Asserts that the machine reached `loader` (rEFInd's path, `EFI\debian\grubx64.efi`).
    #[track_caller]
    pub fn assert_booted(&self, loader: &str) -> &Boot {
        match self.loader() {
            Some(l) if l == loader => self,
            Some(l) => self.fail(&format!("expected to boot {loader}, booted {l}")),
            None => self.fail(&format!("expected to boot {loader}, the boot failed")),
        }
    }

    /// Asserts that the chain failed at `stage` and that its reason or its "what to change"
    /// says `diagnosis`.
    ///
    /// ```
    /// use bootsim::prelude::*;
    ///
    /// // The guide's network gives a BIOS machine no boot file.
    /// Network::kea("../fixtures/seed/kea-dhcp4.conf")
    ///     .boot(&Machine::new(Firmware::Bios))
    ///     .unwrap()
    ///     .assert_failed_at(Stage::PxeDhcp, "PXE-E53");
    /// ```
    #[track_caller]
    pub fn assert_failed_at(&self, stage: Stage, diagnosis: &str) -> &Boot {
        match &self.transcript.outcome {
            Outcome::Booted { loader, .. } => {
                self.fail(&format!("expected to fail at {stage}, booted {loader}"))
            }
            Outcome::Failed {
                stage: s,
                reason,
                change,
                ..
            } => {
                if *s != stage {
                    self.fail(&format!("expected to fail at {stage}, failed at {s}"));
                }
                let said = reason.contains(diagnosis)
                    || change.as_deref().is_some_and(|c| c.contains(diagnosis));
                if !said {
                    self.fail(&format!("the diagnosis does not say '{diagnosis}'"));
                }
                self
            }
        }
    }

    /// Asserts that every one of `files` was downloaded (by its path on the server, as
    /// [`fetched`](Boot::fetched) lists them).
    #[track_caller]
    pub fn assert_fetched(&self, files: &[&str]) -> &Boot {
        let got = self.fetched();
        for f in files {
            if !got.contains(f) {
                self.fail(&format!("expected {f} to be fetched; fetched {got:?}"));
            }
        }
        self
    }

    /// Asserts that the server put one of the machine's DHCP queries in `class`.
    #[track_caller]
    pub fn assert_class(&self, class: &str) -> &Boot {
        let got = self.classes();
        if !got.contains(&class) {
            self.fail(&format!(
                "expected class '{class}' to match; matched {got:?}"
            ));
        }
        self
    }

    /// Asserts that the chain ended within `limit` of virtual time.
    #[track_caller]
    pub fn assert_within(&self, limit: Duration) -> &Boot {
        if self.elapsed() > limit {
            self.fail(&format!(
                "expected to end within {:.2}s, took {:.2}s",
                limit.as_secs_f64(),
                self.elapsed().as_secs_f64()
            ));
        }
        self
    }
}

/// The transcript as `bootsim boot` prints it (deterministic: for snapshots).
impl fmt::Display for Boot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.transcript.render(false))
    }
}
