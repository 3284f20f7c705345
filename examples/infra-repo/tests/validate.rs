//! The firmware matrix against the lab's config: what `bootsim validate` would say in CI.

use bootsim::prelude::*;

#[test]
fn the_lab_config_has_no_error_for_the_firmware_it_serves() {
    let report = Validation::kea("kea-dhcp4.conf").run().unwrap();
    report.assert_no_errors_for(&[Firmware::UefiX64, Firmware::IpxeEfi]);
}
