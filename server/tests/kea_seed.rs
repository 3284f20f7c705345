//! Real Kea 2.2 on the guide's kea-dhcp4.conf: four comma warnings, then a keyword error.
mod support;

use std::path::Path;

#[test]
fn real_kea_rejects_the_guides_config_at_output_options() {
    if !support::require_tool("kea-dhcp4") {
        return;
    }
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/seed/kea-dhcp4.conf"
    ));
    let kea = support::kea_check(path);
    assert!(!kea.valid);
    assert_eq!(kea.warnings, [(35, 43), (42, 10), (54, 18), (55, 14)]);
    assert_eq!(kea.first_position, Some((62, 9)));
    assert!(kea
        .error
        .unwrap()
        .ends_with("62.9-24: got unexpected keyword \"output-options\" in loggers map."));
}
