//! `bootsim validate` on the guide's config, on broken variants of it, and on a real public
//! Kea PXE config (fixtures/kea/public, sources in SOURCES.md), with the guide's TFTP root
//! (synthetic iPXE and rEFInd builds).

use std::path::{Path, PathBuf};
use std::process::Command;

use bootsim::identify::synthetic;
use bootsim::validate::{validate, Request, Severity};
use netbootd::kea::KeaVersion;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures")).join(path)
}

fn root(dir: &Path) -> PathBuf {
    for f in ["refind.pxe", "refind.conf"] {
        std::fs::copy(fixture(&format!("seed/{f}")), dir.join(f)).unwrap();
    }
    std::fs::write(dir.join("ipxe.efi"), synthetic::ipxe_efi(0x8664)).unwrap();
    std::fs::write(dir.join("refind_x64.efi"), synthetic::refind_efi(0x8664)).unwrap();
    dir.to_path_buf()
}

fn report(config: &str, with_root: bool) -> bootsim::validate::Report {
    let dir = tempfile::tempdir().unwrap();
    let tftp_root = with_root.then(|| root(dir.path()));
    validate(&Request {
        config: fixture(config),
        kea_version: Some(KeaVersion::V3_0),
        tftp_root,
        storm: 50,
    })
    .unwrap()
}

/// The report without the directory part of the config path.
fn text(r: &bootsim::validate::Report) -> String {
    r.render()
        .replace(&fixture("").display().to_string(), "fixtures/")
}

#[test]
fn the_guides_config_boots_uefi_x64_and_ipxe_and_says_what_else_gets_nothing() {
    let r = report("seed/kea-dhcp4.conf", true);
    assert_eq!(r.errors(), 0, "{}", text(&r));
    insta::assert_snapshot!(text(&r));
}

#[test]
fn a_class_loop_is_an_error_naming_the_class_and_line() {
    let r = report("broken/class-loop.conf", true);
    assert!(r.problems.iter().any(|p| p.severity == Severity::Error
        && p.message
            .contains("class 'PXE UEFI' at class-loop.conf:33 also matches iPXE")));
    // Without a TFTP root the offers alone show it.
    let r = report("broken/class-loop.conf", false);
    assert!(r.problems.iter().any(|p| p.severity == Severity::Error
        && p.message
            .starts_with("iPXE is offered the same file as UEFI x64 firmware (ipxe.efi)")));
}

#[test]
fn option_60_and_missing_next_server_are_found() {
    let r = report("broken/rogue-echoes-60.conf", false);
    let t = text(&r);
    assert!(
        t.contains("error: uefi-x64: the offer carries option 60 \"PXEClient\" without option 43"),
        "{t}"
    );
    let r = report("broken/arm-gets-x86.conf", true);
    let t = text(&r);
    assert!(
        t.contains("error: uefi-arm64: fails at step 3 (start NBP)"),
        "{t}"
    );
}

#[test]
fn a_public_config_is_refused_as_kea_refuses_it_and_its_fix_is_checked() {
    let err = validate(&Request {
        config: fixture("kea/public/mengxifl-dhcp.json"),
        kea_version: Some(KeaVersion::V3_0),
        tftp_root: None,
        storm: 50,
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("definition for the option 'dhcp4.next-server' does not exist"),
        "{err}"
    );
    let r = report("kea/public/mengxifl-dhcp-fixed.json", true);
    insta::assert_snapshot!(text(&r));
}

#[test]
fn the_cli_exit_codes_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    let root = root(dir.path());
    let bootsim = env!("CARGO_BIN_EXE_bootsim");
    let junit = dir.path().join("validate.xml");
    let run = |config: &str| {
        Command::new(bootsim)
            .args([
                "validate",
                "--tftp-root",
                root.to_str().unwrap(),
                "--junit",
                junit.to_str().unwrap(),
            ])
            .arg(fixture(config))
            .output()
            .unwrap()
    };
    assert_eq!(run("seed/kea-dhcp4.conf").status.code(), Some(0));
    assert_eq!(run("broken/class-loop.conf").status.code(), Some(1));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite name=\"bootsim validate"), "{xml}");
    assert!(xml.contains("failures=\"2\""), "{xml}");
    assert_eq!(run("kea/public/mengxifl-dhcp.json").status.code(), Some(2));
}

/// Classes that never match, each explained per firmware down to the term: bytes compared with
/// text (an error, with the fix), a substring outside its value, member() of a class that is
/// only evaluated when required, a class that waits for the host lookup.
#[test]
fn each_class_is_explained_per_firmware_down_to_the_term() {
    let r = validate(&Request {
        config: fixture("broken/class-explain.conf"),
        kea_version: Some(KeaVersion::V2_2),
        tftp_root: None,
        storm: 50,
    })
    .unwrap();
    assert_eq!(r.errors(), 2, "{}", text(&r));
    let text_class = &r.classes[0];
    assert_eq!(text_class.class, "UEFI x64 (text)");
    assert_eq!(text_class.at, "class-explain.conf:9");
    let uefi = &text_class.verdicts[0];
    assert_eq!(
        (uefi.firmware.as_str(), uefi.result.as_str()),
        ("uefi-x64", "false")
    );
    assert!(
        uefi.reasons[0].ends_with("never true; write `option[93].hex == 0x0007`"),
        "{:?}",
        uefi.reasons
    );
    let bios = &r.classes[3];
    assert!(bios.notes[0].contains("'PXE firmware' (line 21) is only-if-required"));
    let unknown = &r.classes[4];
    assert!(unknown
        .when
        .starts_with("after the host-reservation lookup"));
    assert_eq!(unknown.verdicts[1].result, "true");
    // Under `or`, a comparison that is never true leaves the other branch: a warning.
    assert!(r.problems.iter().any(|p| p.severity == Severity::Warning
        && p.message.starts_with(
            "class 'legacy' at class-explain.conf:40: part of its test is never true: \
             `option[93].hex` is 2 byte(s)"
        )));
    insta::assert_snapshot!(text(&r));
}

/// Without --kea-version, validate uses the newest release whose grammar takes the file and
/// says why older or newer ones refuse it.
#[test]
fn the_kea_release_is_chosen_from_the_keywords() {
    let r = validate(&Request {
        config: fixture("seed/kea-dhcp4.conf"),
        kea_version: None,
        tftp_root: None,
        storm: 50,
    })
    .unwrap();
    assert_eq!(r.kea_version, "3.0");
    let verdicts: Vec<(&str, bool)> = r
        .releases
        .iter()
        .map(|x| (x.version.as_str(), x.accepts))
        .collect();
    assert_eq!(
        verdicts,
        [("2.2", false), ("2.4", false), ("2.6", true), ("3.0", true)]
    );
    assert_eq!(
        r.releases[0].refusal.as_deref(),
        Some("line 62: got unexpected keyword \"output-options\" in loggers map.")
    );

    // `generated-prefix` left dhcp-ddns in 2.6: the newest release that takes it is 2.4.
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.json");
    std::fs::write(
        &old,
        r#"{ "Dhcp4": { "dhcp-ddns": { "enable-updates": false, "generated-prefix": "myhost" },
             "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24",
                            "pools": [ { "pool": "192.0.2.10 - 192.0.2.200" } ] } ] } }"#,
    )
    .unwrap();
    let r = validate(&Request {
        config: old,
        kea_version: None,
        tftp_root: None,
        storm: 50,
    })
    .unwrap();
    assert_eq!(r.kea_version, "2.4");
    assert!(r.render().lines().nth(1).unwrap().starts_with(
        "Kea releases: 2.2 accepts; 2.4 accepts; 2.6 refuses (line 1: got unexpected keyword \"generated-prefix\""
    ));
}

/// Without a TFTP root, boot files are judged by name: a BIOS machine offered grubx64.efi,
/// iPXE EFI offered a .kpxe, each naming the class or subnet line that gave the file.
#[test]
fn boot_files_are_judged_by_name_without_a_tftp_root() {
    let r = report("broken/names-mismatch.conf", false);
    let errors: Vec<String> = r
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| format!("{}: {}", p.firmware.as_deref().unwrap_or("-"), p.message))
        .collect();
    assert_eq!(
        errors,
        [
            "uefi-ia32: offered EFI/debian/grubx64.efi by subnet 192.168.1.0/24 at \
             names-mismatch.conf:14: EFI/debian/grubx64.efi is a UEFI binary for x64 by its \
             name; this firmware runs only IA32 binaries",
            "uefi-arm64: offered EFI/debian/grubx64.efi by subnet 192.168.1.0/24 at \
             names-mismatch.conf:14: EFI/debian/grubx64.efi is a UEFI binary for x64 by its \
             name; this firmware runs only AArch64 binaries",
            "bios: offered EFI/debian/grubx64.efi by subnet 192.168.1.0/24 at \
             names-mismatch.conf:14: EFI/debian/grubx64.efi is a UEFI binary by its name; \
             BIOS PXE cannot run it (give this firmware undionly.kpxe or pxelinux.0)",
            "ipxe-efi: offered undionly.kpxe by class 'iPXE' at names-mismatch.conf:7: \
             undionly.kpxe is a BIOS PXE program by its name; UEFI firmware cannot run it",
        ]
    );
    // The guide's iPXE script refind.pxe is no BIOS binary to iPXE: no error there.
    assert_eq!(report("seed/kea-dhcp4.conf", false).errors(), 0);
}

/// A one-byte literal for the two-byte option 93 is an error with the padded fix.
#[test]
fn a_hex_literal_shorter_than_the_option_is_an_error_with_its_fix() {
    let r = report("broken/class-explain.conf", false);
    assert!(r.problems.iter().any(|p| p.severity == Severity::Error
        && p.message
            == "class 'ARM64 (one byte)' at class-explain.conf:35: its test is never true: \
                `option[93].hex` is 2 byte(s) (0x0007) and 0x0b is 1 byte(s): values of \
                different lengths never compare equal, so this is never true; write \
                `option[93].hex == 0x000b`"));
}

/// `--json` carries what the text shows: the release chosen, each release's verdict, and each
/// class's verdict per firmware with its reasons (true ones too).
#[test]
fn the_json_report_has_releases_and_class_verdicts() {
    let out = Command::new(env!("CARGO_BIN_EXE_bootsim"))
        .args(["validate", "--json"])
        .arg(fixture("broken/class-explain.conf"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kea_version"], "3.0");
    assert_eq!(v["releases"].as_array().map(Vec::len), Some(4));
    let class = &v["classes"][4];
    assert_eq!(class["class"], "unknown machines");
    assert_eq!(class["verdicts"][1]["firmware"], "uefi-ia32");
    assert_eq!(class["verdicts"][1]["result"], "true");
    assert_eq!(
        class["verdicts"][1]["reasons"][0],
        "`member('UNKNOWN')` is true"
    );
    assert_eq!(
        v["classes"][0]["verdicts"][0]["reasons"][0]
            .as_str()
            .map(|r| r.ends_with("write `option[93].hex == 0x0007`")),
        Some(true)
    );
}

/// ipxe/shimdemo's public menu.ipxe (from the shared corpus, skipped when absent) as the
/// guide's iPXE script: validate boots once per item of its first `choose` and says where
/// each leads (only the first menu of the first script is followed).
#[test]
fn each_item_of_a_scripts_menu_is_followed_to_its_outcome() {
    let script = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/ipxe-scripts/008-ipxe-shimdemo-menu.ipxe"
    ));
    if !script.exists() {
        eprintln!("skipped: {} is absent", script.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tftp_root = root(dir.path());
    std::fs::copy(&script, tftp_root.join("refind.pxe")).unwrap();
    let r = validate(&Request {
        config: fixture("seed/kea-dhcp4.conf"),
        kea_version: Some(KeaVersion::V3_0),
        tftp_root: Some(tftp_root),
        storm: 50,
    })
    .unwrap();
    let ipxe = r
        .rows
        .iter()
        .find(|row| row.firmware == "ipxe-efi")
        .unwrap();
    let items: Vec<&str> = ipxe.menu.iter().map(|m| m.item.as_str()).collect();
    assert_eq!(
        items,
        [
            "minimal",
            "fedora",
            "shell_secboot",
            "shell_vendor",
            "shell",
            "exit"
        ]
    );
    let shell = &ipxe.menu[4];
    assert!(
        shell.outcome.contains("the script ran `shell`"),
        "{}",
        shell.outcome
    );
    // The rendered matrix lists them under each firmware whose chain reaches the menu
    // (UEFI x64 gets there through ipxe.efi, iPXE EFI directly).
    let text = text(&r);
    let menu: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("firmware"))
        .take_while(|l| !l.starts_with("classes"))
        .collect();
    insta::assert_snapshot!(menu.join("\n"));
}
