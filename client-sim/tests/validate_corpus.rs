//! `bootsim validate` on the 40 real public Kea configs of ../shared/corpus/kea-configs (read
//! where they lie, never copied; skipped, saying so, where the corpus is absent): it never
//! panics, refuses what Kea refuses, picks the Kea release the keywords call for, and finds
//! the bugs their authors would want to hear about.

use std::path::{Path, PathBuf};

use bootsim::validate::{validate, Report, Request, Severity};

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("NETBOOT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/kea-configs")
        });
    if dir.join("VERDICTS.tsv").is_file() {
        return Some(dir);
    }
    eprintln!(
        "skipping: the public corpus {} is absent (it lives beside the project, never in it)",
        dir.display()
    );
    None
}

fn run(dir: &Path, file: &str) -> Result<Report, String> {
    validate(&Request {
        config: dir.join(file),
        kea_version: None,
        tftp_root: None,
        storm: 50,
    })
    .map_err(|e| e.to_string())
}

fn errors(r: &Report) -> Vec<&str> {
    r.problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| p.message.as_str())
        .collect()
}

#[test]
fn every_public_config_is_validated_or_refused_with_keas_words() {
    let Some(dir) = corpus() else { return };
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 40);
    let (mut validated, mut refused) = (0, 0);
    for f in &files {
        match run(&dir, f) {
            Ok(r) => {
                validated += 1;
                assert_eq!(r.rows.len(), 7, "{f}");
                assert!(!r.releases.is_empty(), "{f}");
            }
            Err(e) => {
                refused += 1;
                assert!(
                    e.contains("Kea would refuse this configuration")
                        || e.contains("no subnet4 to put the server on"),
                    "{f}: {e}"
                );
            }
        }
    }
    // Kea 2.2 accepts 10 of them on a machine with their interfaces (VERDICTS.tsv); newer
    // releases and a simulated machine with their interfaces and hooks take 19. The other 21
    // are refused as Kea refuses them (syntax, templates never rendered, missing includes) or
    // have no subnet4 (config backends).
    assert_eq!((validated, refused), (19, 21));
    let e = run(&dir, "002-mengxifl-include-mysql.json").unwrap_err();
    assert!(
        e.ends_with(
            "Syntax check failed with: Can't open include file /var/runningconf/dhcp4Expand.conf"
        ),
        "{e}"
    );
    // stork's demo for Kea 3: 2.x refuse `control-sockets`, 3.0 a keyword of later releases.
    let e = run(&dir, "031-stork-demo-kea3-shared-networks-relay.json").unwrap_err();
    let lines: Vec<&str> = e.lines().collect();
    assert!(
        lines[2].starts_with(
            "Kea releases: 2.2 refuses (line 7: got unexpected keyword \"control-sockets\" in \
             Dhcp4 map.)"
        ),
        "{e}"
    );
    assert!(
        lines[2].ends_with(
            "3.0 refuses (line 237: got unexpected keyword \"adaptive-lease-time-threshold\" \
             in shared-networks map.)"
        ),
        "{e}"
    );
    assert_eq!(
        lines[3],
        "no release bootsim follows takes these keywords: the config may be for a newer Kea"
    );
}

/// spectre63's option-93 classes compare two bytes with text: never true, each with its fix;
/// the BIOS class still has its `not option[93].exists` branch, so that one is a warning.
#[test]
fn option_93_compared_with_text_is_found_with_its_fix() {
    let Some(dir) = corpus() else { return };
    let r = run(&dir, "005-spectre63-option93-grub.json").unwrap();
    let never: Vec<&str> = errors(&r)
        .into_iter()
        .filter(|m| m.contains("its test is never true"))
        .collect();
    assert_eq!(never.len(), 3, "{never:?}");
    for (class, fix) in [
        ("UEFI-64", "0x0009"),
        ("UEFI-BC", "0x0007"),
        ("UEFI-32", "0x0006"),
    ] {
        assert!(
            never
                .iter()
                .any(|m| m.starts_with(&format!("class '{class}'"))
                    && m.ends_with(&format!("write `option[93].hex == {fix}`"))),
            "{class}: {never:?}"
        );
    }
    assert!(r.problems.iter().any(|p| p.severity == Severity::Warning
        && p.message.starts_with(
            "class 'BIOS' at 005-spectre63-option93-grub.json:37: part of its test is never true"
        )));
    insta::assert_snapshot!(r.render().replace(&dir.display().to_string(), "corpus"));
}

/// The release follows the keywords: `generated-prefix` (gone in 2.6), `pool-id` (2.4+),
/// `only-in-additional-list` (3.0).
#[test]
fn the_release_is_chosen_from_each_configs_keywords() {
    let Some(dir) = corpus() else { return };
    let release = |f: &str| run(&dir, f).unwrap();
    let r = release("014-remotelabz-config-dump-kea16.json");
    assert_eq!(r.kea_version, "2.4");
    assert!(r.releases[2]
        .refusal
        .as_deref()
        .is_some_and(|w| w.contains("\"generated-prefix\"")));
    let r = release("032-stork-demo-prior-kea3.json");
    assert_eq!(r.kea_version, "3.0");
    assert_eq!(
        r.releases[0].refusal.as_deref(),
        Some("line 249: got unexpected keyword \"pool-id\" in pools map.")
    );
    let r = release("020-agoodkind-ubnt-only-in-additional-list.json");
    let accepting: Vec<&str> = r
        .releases
        .iter()
        .filter(|x| x.accepts)
        .map(|x| x.version.as_str())
        .collect();
    assert_eq!(accepting, ["3.0"]);
    // Its class is only-in-additional-list, evaluated for the subnet that lists it in
    // evaluate-additional-classes (3.0's name for require-client-classes).
    let ubnt = r.classes.iter().find(|c| c.class == "ubnt").unwrap();
    assert_eq!(
        ubnt.when,
        "only after subnet selection, because it is only-in-additional-list, for subnet \
         10.250.4.0/24"
    );
    assert_eq!(ubnt.verdicts[0].result, "false");
}

/// dhcp-bats' AllGroups tests member() of two vendor classes that no PXE firmware matches,
/// and its pool is restricted to AllGroups: validate says so for each firmware.
#[test]
fn member_of_classes_false_for_this_packet_is_explained() {
    let Some(dir) = corpus() else { return };
    let r = run(&dir, "039-dhcp-bats-ztp-member-classes.json").unwrap();
    let all = r.classes.iter().find(|c| c.class == "AllGroups").unwrap();
    assert_eq!(
        all.verdicts[0].reasons,
        [
            "class 'CISCO' is not assigned when this test runs: its own test is false for this packet",
            "class 'ARISTA' is not assigned when this test runs: its own test is false for this packet",
        ]
    );
    assert!(r.problems.iter().any(|p| p.message.starts_with(
        "the server does not answer this firmware's DISCOVER: no free address in the pools it may use"
    )));
}

/// A config that network-boots nothing (Aruba and Cisco access points' option 43) gets one
/// line saying so, not one per firmware.
#[test]
fn a_config_that_boots_nothing_says_so_once() {
    let Some(dir) = corpus() else { return };
    let r = run(&dir, "016-infraserv-japanese-opt43-ap.json").unwrap();
    let boot: Vec<&str> = r
        .problems
        .iter()
        .map(|p| p.message.as_str())
        .filter(|m| m.contains("boot file"))
        .collect();
    assert_eq!(
        boot,
        [
            "no firmware of the matrix is offered a boot file (no boot-file-name or option 67 \
          reaches any of them): this config does not network-boot UEFI, BIOS or iPXE machines"
        ]
    );
}
