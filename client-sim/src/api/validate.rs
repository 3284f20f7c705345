//! `validate` as a test: the firmware matrix against a Kea config (and a TFTP root), with an
//! assertion that names the firmware that must boot.

use std::path::PathBuf;

use super::Error;
use crate::chain::Firmware;
use crate::validate::{validate, Report, Request, Severity};

/// The firmware matrix against a Kea config, as `bootsim validate` runs it.
///
/// ```
/// use bootsim::prelude::*;
///
/// Validation::kea("../fixtures/seed/kea-dhcp4.conf")
///     .kea_version("2.6")
///     .run()
///     .unwrap()
///     .assert_no_errors_for(&[Firmware::UefiX64, Firmware::IpxeEfi]);
/// ```
#[derive(Debug, Clone)]
pub struct Validation {
    request: Request,
    kea_version: Option<String>,
}

impl Validation {
    /// The matrix against this `kea-dhcp4.conf`.
    pub fn kea(config: impl Into<PathBuf>) -> Validation {
        Validation {
            request: Request {
                config: config.into(),
                kea_version: None,
                tftp_root: None,
                storm: 0,
            },
            kea_version: None,
        }
    }

    /// Validate as this Kea release line (default: the newest whose grammar takes the file).
    pub fn kea_version(mut self, version: &str) -> Validation {
        self.kea_version = Some(version.to_string());
        self
    }

    /// Boot every firmware's whole chain from this TFTP root (without it, boot files are
    /// judged by their names).
    pub fn tftp_root(mut self, dir: impl Into<PathBuf>) -> Validation {
        self.request.tftp_root = Some(dir.into());
        self
    }

    /// Warn when the pools hold fewer addresses than this many machines.
    pub fn storm(mut self, machines: u64) -> Validation {
        self.request.storm = machines;
        self
    }

    /// Runs the matrix.
    pub fn run(mut self) -> Result<Report, Error> {
        self.request.kea_version = super::kea_version(self.kea_version.as_deref())?;
        validate(&self.request).map_err(|e| Error::Setup(e.to_string()))
    }
}

impl Report {
    /// The errors `validate` found for `firmware` (and for the config as a whole).
    pub fn errors_for(&self, firmware: Firmware) -> Vec<&str> {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .filter(|p| p.firmware.is_none() || p.firmware.as_deref() == Some(firmware.name()))
            .map(|p| p.message.as_str())
            .collect()
    }

    /// Asserts that `validate` found no error for any of `firmware` nor for the config as a
    /// whole; the panic shows the whole report.
    #[track_caller]
    pub fn assert_no_errors_for(&self, firmware: &[Firmware]) -> &Report {
        for f in firmware {
            let errors = self.errors_for(*f);
            if !errors.is_empty() {
                panic!("{f}: {}\n\n{}", errors.join("\n"), self.render());
            }
        }
        self
    }
}
