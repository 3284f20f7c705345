//! bootsim's firmware on the wire against what real firmware sent (fixtures/firmware/
//! observed.toml, from firmware.md's captures): every recorded field of the DISCOVERs,
//! REQUESTs and TFTP requests, taken from frames the models put on the in-process segment.

use bootsim::net::embedded::SIMULATION_EPOCH;
use std::path::PathBuf;
use std::time::Duration;

use netbootd::time::Instant;

use bootsim::firmware::ipxe::packets::{Build, Identity as IpxeId};
use bootsim::firmware::ipxe::Ipxe;
use bootsim::firmware::uefi_pxe::packets::{Arch, Identity, Undi};
use bootsim::firmware::uefi_pxe::UefiPxe;
use bootsim::identify::synthetic;
use bootsim::net::embedded::{build, ServerSpec};
use bootsim::net::lan::{Frame, Lan};
use netbootd::kea::KeaVersion;
use netbootd::tftp::packet::Packet;
use netbootd::wire::dhcp::Message;
use netbootd::wire::MacAddr;

const MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
const UUID: [u8; 16] = bootsim::firmware::MACHINE_UUID;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures")).join(path)
}

fn observed() -> toml::Value {
    toml::from_str(&std::fs::read_to_string(fixture("firmware/observed.toml")).unwrap()).unwrap()
}

fn hex(v: &toml::Value) -> Vec<u8> {
    let s: String = v
        .as_str()
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn ints(v: &toml::Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_integer().unwrap())
        .collect()
}

fn strings(v: &toml::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

fn lan(root: &std::path::Path, config: &str) -> Lan {
    Lan::new(
        build(&ServerSpec {
            config: fixture(config),
            kea_version: KeaVersion::V3_0,
            tftp_root: Some(root.to_path_buf()),
            server_addr: None,
            epoch: SIMULATION_EPOCH,
        })
        .unwrap(),
    )
}

fn dhcp_from_client(frames: &[Frame], kind: u8) -> Vec<(Instant, usize, Message)> {
    frames
        .iter()
        .filter(|f| f.from_client && f.datagram.dst.port() == 67)
        .filter_map(|f| {
            let m = Message::decode(&f.datagram.payload).ok()?;
            (m.message_type() == Some(kind)).then_some((f.at, f.datagram.payload.len(), m))
        })
        .collect()
}

fn rrqs(frames: &[Frame]) -> Vec<(u16, Vec<String>)> {
    frames
        .iter()
        .filter(|f| f.from_client && f.datagram.dst.port() == 69)
        .filter_map(|f| match Packet::decode(&f.datagram.payload).ok()? {
            Packet::Rrq { options, .. } => Some((
                f.datagram.src.port(),
                options.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            )),
            _ => None,
        })
        .collect()
}

fn root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["refind.pxe", "refind.conf"] {
        std::fs::copy(fixture(&format!("seed/{f}")), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join("ipxe.efi"), synthetic::ipxe_efi(0x8664)).unwrap();
    std::fs::write(
        dir.path().join("refind_x64.efi"),
        synthetic::refind_efi(0x8664),
    )
    .unwrap();
    dir
}

#[test]
fn edk2_messages_match_the_ovmf_capture() {
    let o = observed();
    let e = &o["edk2"];
    let dir = root();
    let mut lan = lan(dir.path(), "seed/kea-dhcp4.conf");
    let id = Identity {
        mac: MAC,
        arch: Arch::X64,
        undi: Undi::default(),
        uuid: UUID,
    };
    let mut pxe = UefiPxe::new(id, 0x1234, Duration::from_millis(300));
    pxe.start(Instant::ZERO);
    lan.run(&mut pxe, Duration::from_secs(120));
    let (_, len, d) = dhcp_from_client(&lan.frames, 1).remove(0);
    let want = &e["discover"];
    assert_eq!(len as i64, want["udp_payload_len"].as_integer().unwrap());
    assert_eq!(i64::from(d.flags), want["flags"].as_integer().unwrap());
    assert_eq!(i64::from(d.secs), want["secs"].as_integer().unwrap());
    assert_eq!(
        d.options
            .codes()
            .iter()
            .map(|c| i64::from(*c))
            .collect::<Vec<_>>(),
        ints(&want["options"])
    );
    assert_eq!(
        d.option(57).unwrap(),
        (want["max_message_size"].as_integer().unwrap() as u16).to_be_bytes()
    );
    assert_eq!(
        d.option(55)
            .unwrap()
            .iter()
            .map(|c| i64::from(*c))
            .collect::<Vec<_>>(),
        ints(&want["parameter_request_list"])
    );
    assert_eq!(d.option(97).unwrap(), hex(&want["client_machine_id"]));
    assert_eq!(d.option(94).unwrap(), hex(&want["client_ndi"]));
    assert_eq!(d.option(93).unwrap(), hex(&want["client_arch"]));
    assert_eq!(
        d.option(60).unwrap(),
        want["vendor_class"].as_str().unwrap().as_bytes()
    );
    let (_, _, r) = dhcp_from_client(&lan.frames, 3).remove(0);
    let want = &e["request"];
    assert_eq!(i64::from(r.flags), want["flags"].as_integer().unwrap());
    assert_eq!(
        r.options
            .codes()
            .iter()
            .map(|c| i64::from(*c))
            .collect::<Vec<_>>(),
        ints(&want["options"])
    );
    assert_eq!(
        r.option(57).unwrap(),
        (want["max_message_size"].as_integer().unwrap() as u16).to_be_bytes()
    );
    let rrq = rrqs(&lan.frames);
    let want = &e["tftp"];
    assert_eq!(
        rrq[0],
        (
            want["probe_port"].as_integer().unwrap() as u16,
            strings(&want["probe_options"])
        )
    );
    assert_eq!(
        rrq[1],
        (
            want["download_port"].as_integer().unwrap() as u16,
            strings(&want["download_options"])
        )
    );
    let abort = lan
        .frames
        .iter()
        .find_map(|f| match Packet::decode(&f.datagram.payload) {
            Ok(Packet::Error { code: 8, message }) if f.from_client => Some(message),
            _ => None,
        });
    assert_eq!(abort.as_deref(), want["abort"].as_str());
}

#[test]
fn edk2_retransmits_discovers_on_the_observed_schedule() {
    // No server answers: a segment whose config has no subnet for the client's interface
    // address would refuse to build, so give the server an address outside the subnet.
    let o = observed();
    let dir = root();
    let server = build(&ServerSpec {
        config: fixture("seed/kea-dhcp4.conf"),
        kea_version: KeaVersion::V3_0,
        tftp_root: Some(dir.path().to_path_buf()),
        server_addr: Some("10.9.9.9".parse().unwrap()),
        epoch: SIMULATION_EPOCH,
    })
    .unwrap();
    let mut lan = Lan::new(server);
    let id = Identity {
        mac: MAC,
        arch: Arch::X64,
        undi: Undi::default(),
        uuid: UUID,
    };
    let mut pxe = UefiPxe::new(id, 0x1234, Duration::from_millis(300));
    pxe.start(Instant::ZERO);
    lan.run(&mut pxe, Duration::from_secs(120));
    let secs: Vec<i64> = dhcp_from_client(&lan.frames, 1)
        .iter()
        .map(|(_, _, m)| i64::from(m.secs))
        .collect();
    assert_eq!(secs, ints(&o["edk2"]["discover_schedule"]["secs"]));
}

#[test]
fn ipxe_messages_match_the_capture() {
    let o = observed();
    let i = &o["ipxe"];
    let dir = root();
    let mut lan = lan(dir.path(), "seed/kea-dhcp4.conf");
    let mut ipxe = Ipxe::new(
        IpxeId {
            mac: MAC,
            build: Build::EfiX64,
            uuid: Some(UUID),
        },
        77,
    );
    ipxe.start(Instant::ZERO);
    lan.run(&mut ipxe, Duration::from_secs(120));
    let discovers = dhcp_from_client(&lan.frames, 1);
    let want = &i["discover"];
    let d = &discovers[0].2;
    assert_eq!(i64::from(d.flags), want["flags"].as_integer().unwrap());
    assert_eq!(
        discovers
            .iter()
            .map(|(_, _, m)| i64::from(m.secs))
            .collect::<Vec<_>>(),
        ints(&want["secs"])
    );
    assert_eq!(
        d.options
            .codes()
            .iter()
            .map(|c| i64::from(*c))
            .collect::<Vec<_>>(),
        ints(&want["options"])
    );
    assert_eq!(
        d.option(57).unwrap(),
        (want["max_message_size"].as_integer().unwrap() as u16).to_be_bytes()
    );
    assert_eq!(d.option(93).unwrap(), hex(&want["client_arch"]));
    assert_eq!(d.option(94).unwrap(), hex(&want["client_ndi"]));
    assert_eq!(
        d.option(60).unwrap(),
        want["vendor_class"].as_str().unwrap().as_bytes()
    );
    assert_eq!(
        d.option(77).unwrap(),
        want["user_class"].as_str().unwrap().as_bytes()
    );
    assert_eq!(
        d.option(55)
            .unwrap()
            .iter()
            .map(|c| i64::from(*c))
            .collect::<Vec<_>>(),
        ints(&want["parameter_request_list"])
    );
    assert_eq!(d.option(175).unwrap(), hex(&want["encapsulated"]));
    assert_eq!(d.option(61).unwrap(), hex(&want["client_id"]));
    assert_eq!(d.option(97).unwrap(), hex(&want["client_machine_id"]));
    let requests = dhcp_from_client(&lan.frames, 3);
    let r = &requests[0].2;
    assert_eq!(
        i64::from(r.secs),
        i["request"]["observed_secs"].as_integer().unwrap()
    );
    assert_eq!(
        r.options
            .codes()
            .iter()
            .map(|c| i64::from(*c))
            .collect::<Vec<_>>(),
        ints(&i["request"]["options"])
    );
    // Timing, relative to the first DISCOVER (iPXE starts DHCP after its 2-s banner).
    let t0 = discovers[0].0;
    let at: Vec<f64> = discovers
        .iter()
        .map(|(t, _, _)| (*t - t0).as_secs_f64())
        .collect();
    let want_at: Vec<f64> = i["timing"]["discover_at"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_float().unwrap())
        .collect();
    assert_eq!(at, want_at);
    assert_eq!(
        (requests[0].0 - t0).as_secs_f64(),
        i["timing"]["request_at"].as_float().unwrap()
    );
    let rrq = rrqs(&lan.frames);
    assert_eq!(rrq[0].1, strings(&i["tftp"]["rrq_options"]));
    let names: Vec<String> = lan
        .frames
        .iter()
        .filter(|f| f.from_client && f.datagram.dst.port() == 69)
        .filter_map(|f| match Packet::decode(&f.datagram.payload).ok()? {
            Packet::Rrq { filename, .. } => Some(String::from_utf8_lossy(&filename).into_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(names[0], i["tftp"]["rrq_filename"].as_str().unwrap());
}

#[test]
fn ipxe_bios_rom_sends_its_own_feature_list() {
    let o = observed();
    let want = &o["ipxe_bios"]["discover"];
    let id = IpxeId {
        mac: MAC,
        build: Build::BiosUndi,
        uuid: Some(UUID),
    };
    let d = id.discover(1, 4);
    assert_eq!(
        d.options
            .codes()
            .iter()
            .map(|c| i64::from(*c))
            .collect::<Vec<_>>(),
        ints(&want["options"])
    );
    assert_eq!(d.option(175).unwrap(), hex(&want["encapsulated"]));
}

#[test]
fn a_legacy_ipxe_waits_for_its_ipv6_configurator_as_observed() {
    // The real Debian ipxe.efi is recognised by its version string; the model then keeps
    // "Configuring" open until the IPv6 configurator gives up.
    let o = observed();
    let c = &o["ipxe"]["configuring"];
    let dir = root();
    let mut lan = lan(dir.path(), "seed/kea-dhcp4.conf");
    let mut ipxe = Ipxe::new(
        IpxeId {
            mac: MAC,
            build: Build::EfiX64,
            uuid: Some(UUID),
        },
        77,
    );
    ipxe.set_ipv6_configurator(bootsim::firmware::ipxe::machine::ipv6conf::LEGACY);
    ipxe.start(Instant::ZERO);
    lan.run(&mut ipxe, Duration::from_secs(120));
    let t0 = dhcp_from_client(&lan.frames, 1)[0].0;
    let first_rrq = lan
        .frames
        .iter()
        .find(|f| f.from_client && f.datagram.dst.port() == 69)
        .unwrap()
        .at;
    let model = (first_rrq - t0).as_secs_f64();
    assert_eq!(model, c["legacy_model_s"].as_float().unwrap());
    within_a_quarter_of_the_fastest_run(c, model);
}

/// The fastest real run is the one TCG stretched least: the model's timer must be within the
/// 25% `bootsim qemu --compare` allows of it.
fn within_a_quarter_of_the_fastest_run(observed: &toml::Value, model: f64) {
    let fastest = observed["observed_s"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_float().unwrap())
        .fold(f64::INFINITY, f64::min);
    assert!(
        (fastest - model).abs() <= 0.25 * fastest,
        "model {model} s, fastest real run {fastest} s"
    );
}

#[test]
fn the_models_timers_agree_with_the_fastest_real_runs() {
    let o = observed();
    let t = &o["timing"];
    // The values the models use: EDK2's offer wait (uefi_pxe, 1-s tick), iPXE's (DHCP
    // discovery), rEFInd's `timeout 1` of the guide's refind.conf.
    let (edk2, ipxe, refind) = guide_timers();
    for (name, model) in [
        ("edk2_offer_wait", edk2),
        ("ipxe_offer_wait", ipxe),
        ("refind_timeout", refind),
    ] {
        assert_eq!(model, t[name]["model_s"].as_float().unwrap(), "{name}");
        within_a_quarter_of_the_fastest_run(&t[name], model);
    }
}

/// The three timer gaps of the guide's simulated chain, read from its frames and console.
fn guide_timers() -> (f64, f64, f64) {
    use bootsim::chain::{boot, Client, Firmware};
    use bootsim::qemu::observe::Wire;
    let dir = root();
    let mut lan = lan(dir.path(), "seed/kea-dhcp4.conf");
    let client = Client {
        firmware: Firmware::UefiX64,
        mac: MAC,
        uuid: UUID,
        disks: vec![bootsim::recipe::load(&fixture("disks/debian.toml")).unwrap()],
        seed: 0x1d2c_3b4a,
    };
    let t = boot(&mut lan, &client);
    let wire = Wire::read(&lan.frames, MAC, &lan.notes);
    let gap = |round: usize| {
        let r = &wire.rounds[round];
        let at = |kind| {
            r.messages
                .iter()
                .find(|m| m.from_client && m.kind == Some(kind))
                .unwrap()
                .at
        };
        (at(3) - at(1)).as_secs_f64()
    };
    let menu = t
        .console
        .iter()
        .find(|c| c.2.contains("Main Menu"))
        .unwrap()
        .0;
    let start = t
        .console
        .iter()
        .find(|c| c.2.starts_with("Starting"))
        .unwrap()
        .0;
    (gap(0), gap(1), (start - menu).as_secs_f64())
}
