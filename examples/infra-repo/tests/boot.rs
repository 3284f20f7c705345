//! The lab's boots in Rust, with bootsim's public API only.

use std::time::Duration;

use bootsim::prelude::*;

/// The lab network: the repository's Kea config and TFTP root (from tftpd-hpa's defaults
/// file), plus stand-ins for the binaries git does not keep.
fn lab() -> Network {
    Network::kea("kea-dhcp4.conf")
        .tftpd_hpa("etc/default/tftpd-hpa")
        .expect("tftpd-hpa defaults")
        .file("ipxe.efi", "ipxe:x64")
        .file("refind_x64.efi", "refind:x64")
}

fn server() -> Machine {
    Machine::new(Firmware::UefiX64).disk("disks/server.toml")
}

#[test]
fn a_uefi_server_boots_grub_through_ipxe_and_refind() {
    let boot = lab().boot(&server()).unwrap();
    boot.assert_booted(r"EFI\debian\grubx64.efi")
        .assert_fetched(&["ipxe.efi", "boot.ipxe", "refind.conf", "refind_x64.efi"])
        .assert_class("uefi-x64")
        .assert_class("ipxe")
        // The menu's 3-second timeout is most of it.
        .assert_within(Duration::from_secs(15));
    insta::assert_snapshot!(boot);
}

#[test]
fn choosing_the_shell_leaves_the_machine_at_ipxe() {
    lab()
        .boot(&server().choose("shell"))
        .unwrap()
        .assert_failed_at(Stage::Ipxe, "shell");
}

#[test]
fn bios_machines_get_no_boot_file_and_the_transcript_says_why() {
    lab()
        .boot(&Machine::new(Firmware::Bios))
        .unwrap()
        .assert_failed_at(Stage::PxeDhcp, "PXE-E53")
        .assert_failed_at(Stage::PxeDhcp, "client-system 0x0000");
}

#[test]
fn twenty_servers_powered_on_at_once_on_a_lossy_link_all_boot() {
    let faults = Faults {
        seed: 20,
        to_client: LinkFaults {
            loss: 0.1,
            ..LinkFaults::default()
        },
        ..Faults::default()
    };
    let run = lab().faults(faults).run(&[server().count(20)]).unwrap();
    assert_eq!(run.booted(), 20, "{run}");
    assert!(run.frames_lost() > 0);
}

#[test]
fn a_broken_scenario_input_is_an_error_naming_it() {
    let err = lab()
        .boot(&Machine::new(Firmware::UefiX64).mac("52:54:00:zz:00:01"))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("`52:54:00:zz:00:01` is not a MAC address"),
        "{err}"
    );
}

#[test]
fn a_config_kea_would_refuse_is_an_error_naming_its_line() {
    let dir = std::env::temp_dir().join(format!("infra-repo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("kea-dhcp4.conf");
    std::fs::write(
        &conf,
        "{ \"Dhcp4\": {\n  \"subnet4\": [ { \"id\": 1, \"subnet\": 7 } ]\n} }\n",
    )
    .unwrap();
    let err = Network::kea(&conf)
        .boot(&Machine::new(Firmware::UefiX64))
        .unwrap_err()
        .to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(err.contains("kea-dhcp4.conf:2"), "{err}");
}
