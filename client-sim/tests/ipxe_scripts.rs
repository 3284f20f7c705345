//! The script interpreter on real public iPXE scripts (fixtures/ipxe, sources in
//! fixtures/ipxe/SOURCES.md), each served by netbootd in-process as the boot file iPXE gets:
//! what iPXE prints and where the script stops; menus driven by the scripted keyboard on
//! real public menu scripts from the shared corpus (skipped, saying so, when it is absent).

use bootsim::net::embedded::SIMULATION_EPOCH;
use std::path::PathBuf;
use std::time::Duration;

use bootsim::firmware::ipxe::keyboard::{Input, Keyboard};
use bootsim::firmware::ipxe::packets::{Build, Identity};
use bootsim::firmware::ipxe::{Ipxe, IpxeEnd};
use bootsim::net::embedded::{build, ServerSpec};
use bootsim::net::lan::Lan;
use netbootd::kea::KeaVersion;
use netbootd::time::Instant;
use netbootd::wire::MacAddr;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures")).join(path)
}

/// Runs `script` as the file the guide's "iPXE script" class hands out.
fn run(script: &str) -> (Ipxe, String) {
    run_with(&fixture(&format!("ipxe/{script}")), Keyboard::default())
}

thread_local! {
    /// The virtual time when the last run ended.
    static LAST_NOW: std::cell::Cell<Instant> = const { std::cell::Cell::new(Instant::ZERO) };
}

/// The shared corpus of real public iPXE scripts (never copied into the project).
fn corpus(name: &str) -> Option<PathBuf> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/ipxe-scripts"
    ))
    .join(name);
    if !path.exists() {
        eprintln!("skipped: {} is absent", path.display());
        return None;
    }
    Some(path)
}

/// Runs the script at `path` with someone typing `keyboard` at the console.
fn run_with(path: &std::path::Path, keyboard: Keyboard) -> (Ipxe, String) {
    let script = path.file_name().unwrap().to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("seed/kea-dhcp4.conf"))
        .unwrap()
        .replace("refind.pxe", script);
    let config = dir.path().join("kea-dhcp4.conf");
    std::fs::write(&config, text).unwrap();
    std::fs::copy(path, dir.path().join(script)).unwrap();
    let mut lan = Lan::new(
        build(&ServerSpec {
            config,
            kea_version: KeaVersion::V3_0,
            tftp_root: Some(dir.path().to_path_buf()),
            server_addr: None,
            epoch: SIMULATION_EPOCH,
        })
        .unwrap(),
    );
    let mut ipxe = Ipxe::new(
        Identity {
            mac: MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
            build: Build::EfiX64,
            uuid: None,
        },
        42,
    );
    ipxe.set_keyboard(keyboard);
    ipxe.start(Instant::ZERO);
    lan.run(&mut ipxe, Duration::from_secs(600));
    LAST_NOW.with(|n| n.set(bootsim::net::Network::now(&lan)));
    let console = ipxe
        .console()
        .iter()
        .map(|c| format!("{:>6.2} {}", c.at.as_secs_f64(), c.text))
        .collect::<Vec<_>>()
        .join("\n");
    (ipxe, console)
}

#[test]
fn netboot_xyz_netinfo_builds_its_menu_and_waits_at_choose() {
    let (ipxe, console) = run("netinfo.ipxe");
    assert_eq!(
        ipxe.outcome(),
        Some(&IpxeEnd::WaitingForInput {
            command: "choose".into()
        }),
        "{console}"
    );
    // `isset ${proxydhcp} || iseq ... && echo Yes || echo No ...`: no ProxyDHCP, and both
    // sides of iseq expand to nothing, so "Yes".
    assert!(console.ends_with(" Yes"), "{console}");
    insta::assert_snapshot!(console);
}

#[test]
fn netboot_xyz_loader_gets_dhcp_then_fails_to_chain_over_http() {
    let (ipxe, console) = run("netbootxyz-dhcp.ipxe");
    let Some(IpxeEnd::Returned { rc, .. }) = ipxe.outcome() else {
        panic!("{:?}\n{console}", ipxe.outcome());
    };
    assert_ne!(*rc, 0);
    assert!(
        console.contains("boot.netboot.xyz iPXE loader v2.0.84"),
        "{console}"
    );
    assert!(
        console.contains("http://boot.netboot.xyz/menu.ipxe... Operation not supported"),
        "{console}"
    );
    insta::assert_snapshot!(console);
}

/// ipxe/shimdemo's menu.ipxe: `choose option && goto ${option}`, no timeout. `--choose exit`
/// takes the item labelled `exit`, and the script goes to `:exit`, whose `exit` ends it.
#[test]
fn shimdemo_menu_chosen_item_is_followed_by_its_label() {
    let Some(path) = corpus("008-ipxe-shimdemo-menu.ipxe") else {
        return;
    };
    let (ipxe, console) = run_with(&path, Keyboard::new([Input::Item("exit".into())]));
    let Some(IpxeEnd::Returned { rc: 0, reason }) = ipxe.outcome() else {
        panic!("{:?}\n{console}", ipxe.outcome());
    };
    assert!(reason.contains("ended without booting"), "{reason}");
    // `shell_secboot`: its chain fails, then `prompt` waits for a key; Enter goes back to
    // the menu, which waits again (no input left, no timeout).
    let (ipxe, console) = run_with(
        &path,
        Keyboard::new([
            Input::Item("shell_secboot".into()),
            Input::Key("enter".into()),
        ]),
    );
    assert_eq!(
        ipxe.outcome(),
        Some(&IpxeEnd::WaitingForInput {
            command: "choose".into()
        }),
        "{console}"
    );
    assert!(
        console.contains("Press any key to return to menu"),
        "{console}"
    );
    insta::assert_snapshot!(console);
    // An item the menu lacks is the scenario's mistake, said as such.
    let (ipxe, _) = run_with(&path, Keyboard::new([Input::Item("linux".into())]));
    let Some(IpxeEnd::InputRefused { reason, .. }) = ipxe.outcome() else {
        panic!("{:?}", ipxe.outcome());
    };
    assert!(reason.contains("no item `linux`"), "{reason}");
}

/// ipxe/shimdemo's menu with nobody typing: it waits at `choose` for ever (as before).
#[test]
fn shimdemo_menu_without_input_or_timeout_waits_at_choose() {
    let Some(path) = corpus("008-ipxe-shimdemo-menu.ipxe") else {
        return;
    };
    let (ipxe, console) = run_with(&path, Keyboard::default());
    assert_eq!(
        ipxe.outcome(),
        Some(&IpxeEnd::WaitingForInput {
            command: "choose".into()
        }),
        "{console}"
    );
}

/// 3mdeb/netboot's menu.ipxe: `choose --default boot --timeout 3000 target && goto
/// ${target}`. No item is labelled `boot`, so the selection stays on the first named item,
/// `shell` (menu_ui.c `show_menu`), taken when the 3 s run out in virtual time; `:shell`
/// runs `shell`.
#[test]
fn xen_menu_takes_its_default_when_the_timeout_expires() {
    let Some(path) = corpus("021-3mdeb-xen-module-menu.ipxe") else {
        return;
    };
    let (ipxe, console) = run_with(&path, Keyboard::default());
    assert_eq!(
        ipxe.outcome(),
        Some(&IpxeEnd::Stopped {
            command: "shell".into()
        }),
        "{console}"
    );
    // The menu comes up when the script is fetched and the boot ends 3 s later.
    let fetched = ipxe.images()[0].at;
    let ended = LAST_NOW.with(|n| n.get());
    assert_eq!(ended, fetched + Duration::from_millis(3000), "{console}");
    insta::assert_snapshot!(console);
    // A key cancels the timeout (menu_loop); with no input after it, the menu waits.
    let (ipxe, _) = run_with(&path, Keyboard::new([Input::Key("x".into())]));
    assert_eq!(
        ipxe.outcome(),
        Some(&IpxeEnd::WaitingForInput {
            command: "choose".into()
        })
    );
}

/// `prompt` and `read` with the scripted keyboard (a small script of our own): a key other
/// than `--key` cancels (-ECANCELED, prompt.c), `read` stores the typed line, a `prompt
/// --timeout` with no input left fails after its timeout, a bare `prompt` waits.
#[test]
fn prompt_and_read_take_scripted_keys_and_time_out_in_virtual_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.ipxe");
    std::fs::write(
        &path,
        "#!ipxe\n\
         prompt --key 0x02 --timeout 2000 Press Ctrl-B for the shell && shell ||\n\
         read name\n\
         echo hello ${name}\n\
         prompt --timeout 1000 Press a key || echo timed out\n\
         prompt Last\n",
    )
    .unwrap();
    let keys = |k: &[&str]| Keyboard::new(k.iter().map(|k| Input::Key(k.to_string())));
    let (ipxe, console) = run_with(&path, keys(&["x", "world"]));
    assert_eq!(
        ipxe.outcome(),
        Some(&IpxeEnd::WaitingForInput {
            command: "prompt".into()
        }),
        "{console}"
    );
    assert!(console.contains("5.00 hello world"), "{console}");
    assert!(console.contains("6.00 timed out"), "{console}");
    // Ctrl-B first is taken by the banner's own prompt (autoboot.c shell_banner).
    let (ipxe, console) = run_with(&path, keys(&["ctrl-b"]));
    assert!(
        matches!(ipxe.outcome(), Some(IpxeEnd::Stopped { command }) if command.contains("banner")),
        "{console}"
    );
    // A menu item where a key is wanted is the scenario's mistake.
    let (ipxe, _) = run_with(&path, Keyboard::new([Input::Item("linux".into())]));
    assert!(matches!(
        ipxe.outcome(),
        Some(IpxeEnd::InputRefused { command, .. }) if command == "prompt"
    ));
}

/// The CLI as users run it: `--choose` and `--keys` are consumed in command-line order
/// across both flags (item, then the key for the `prompt` it leads to, then an item of the
/// menu it returns to), and the transcript says what each took.
#[test]
fn the_cli_drives_a_menu_with_choose_and_keys_in_order() {
    let Some(path) = corpus("008-ipxe-shimdemo-menu.ipxe") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("seed/kea-dhcp4.conf"))
        .unwrap()
        .replace("refind.pxe", "menu.ipxe");
    let config = dir.path().join("kea-dhcp4.conf");
    std::fs::write(&config, text).unwrap();
    std::fs::copy(&path, dir.path().join("menu.ipxe")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bootsim"))
        .args(["boot", "--firmware", "ipxe-efi", "--config"])
        .arg(&config)
        .arg("--tftp-root")
        .arg(dir.path())
        .args([
            "--choose",
            "shell_vendor",
            "--keys",
            "enter",
            "--choose",
            "exit",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    insta::assert_snapshot!(stdout);
}
