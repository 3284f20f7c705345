//! `bootsim audit` against real captures (../shared/corpus/field-pcaps, read from there and
//! skipped when absent), against variants of them this test derives in a tempdir (Linux
//! cooked SLL and SLL2, 802.1Q, QinQ, nanosecond pcap, pcapng with two interfaces and ns
//! if_tsresol, files cut at every frame boundary and inside frames), and against captures
//! of simulated boots written with bootsim's own `--pcap`.

mod capture_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bootsim::capture::verdict::Verdict;
use bootsim::capture::{audit, read_bytes, report, Audit};
use capture_support::*;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, TsResolution};

#[test]
fn every_corpus_capture_is_told_and_its_transcript_snapshotted() {
    let Some(dir) = corpus() else { return };
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 15, "{names:?}");
    for path in &names {
        let a = audit_path(path);
        assert!(a.cut.is_none(), "{}: {:?}", path.display(), a.cut);
        assert!(!a.clients.is_empty(), "{}", path.display());
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        insta::with_settings!({ snapshot_suffix => name, prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("field", report::render(&a));
        });
        let (code, _, err) = bootsim(&["audit", path.to_str().unwrap()]);
        let want = if a.failed() { 1 } else { 0 };
        assert_eq!(code, want, "{}: {err}", path.display());
    }
}

#[test]
fn the_three_failures_are_named_with_their_packets() {
    let Some(dir) = corpus() else { return };
    let a = audit_path(&dir.join("rspxe-bios-proxy-4011-unanswered-FAIL.pcapng"));
    let c = &a.clients[0];
    assert_eq!(c.outcome, Verdict::Failed);
    assert!(
        c.diagnosis.contains("stopped at ProxyDHCP/4011"),
        "{}",
        c.diagnosis
    );
    assert!(
        c.diagnosis.contains("no reply from 192.168.178.21:4011"),
        "{}",
        c.diagnosis
    );
    assert!(c.diagnosis.contains("(packet 11)"), "{}", c.diagnosis);
    assert!(
        c.diagnosis.contains("RELEASEd (packet 12)"),
        "{}",
        c.diagnosis
    );

    let a = audit_path(&dir.join("rspxe-bios-ipxe-chainload-loop.pcapng"));
    let c = &a.clients[0];
    assert_eq!(c.outcome, Verdict::Failed);
    assert!(c.diagnosis.starts_with("chainload loop"), "{}", c.diagnosis);
    assert!(
        c.diagnosis.contains("requests ipxe.pxe again (packet 501)"),
        "{}",
        c.diagnosis
    );
    assert!(
        c.firmware
            .iter()
            .any(|f| f.contains("opt60 plain \"PXEClient\"")),
        "{:?}",
        c.firmware
    );

    let a = audit_path(&dir.join("rspxe-bios-ipxe-tftp-timeout-FAIL.pcapng"));
    let c = &a.clients[0];
    assert_eq!(c.outcome, Verdict::Failed);
    assert!(
        c.diagnosis.contains("stalled at block 29"),
        "{}",
        c.diagnosis
    );
    assert!(
        c.diagnosis.contains("resent block 29 10 times"),
        "{}",
        c.diagnosis
    );
    assert!(
        c.diagnosis.contains("ERROR 0 \"Connection timed out\""),
        "{}",
        c.diagnosis
    );
}

#[test]
fn full_chains_list_their_files_and_firmware_stages_in_order() {
    let Some(dir) = corpus() else { return };
    let a = audit_path(&dir.join("rspxe-uefi-pixiecore-full-chain.pcapng"));
    let c = &a.clients[0];
    let stages: Vec<&str> = c.steps.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(stages, ["PXE DHCP", "TFTP NBP", "iPXE DHCP"]);
    let classes: Vec<&str> = c.rounds.iter().map(|r| r.class.as_str()).collect();
    assert_eq!(classes, ["edk2-uefi", "ipxe"]);
    assert!(
        c.steps[1].detail.contains("935264 bytes"),
        "{}",
        c.steps[1].detail
    );
    assert!(c.steps[1].detail.contains("after a tsize probe (normal)"));
    assert!(c.steps[0]
        .detail
        .contains("7 DISCOVERs (2 xids, secs 0,4,12,28,0,4,12)"));
    assert_eq!(c.outcome, Verdict::HandedOff);

    let a = audit_path(&dir.join("rspxe-bios-two-stage-full.pcapng"));
    let c = &a.clients[0];
    let classes: Vec<&str> = c.rounds.iter().map(|r| r.class.as_str()).collect();
    assert_eq!(classes, ["bios-pxe", "ipxe"]);
    let sizes: Vec<bool> = c
        .steps
        .iter()
        .map(|s| s.detail.contains("1251776 bytes"))
        .collect();
    assert_eq!(sizes, [false, false, false, true]);
    assert_eq!(c.outcome, Verdict::HandedOff);
}

#[test]
fn firmware_is_identified_from_the_bytes_of_each_round() {
    let Some(dir) = corpus() else { return };
    let cases = [
        ("rspxe-amd-efi-discover.pcapng", "edk2-uefi", "UNDI 3.16"),
        ("rspxe-intel-efi-proxydhcp-dhcp.pcapng", "edk2-uefi", "x64"),
        (
            "pixiecore-bios-proxydhcp-usec.pcap",
            "bios-pxe",
            "Intel-style, UNDI 2.1",
        ),
        ("rspxe-ipxe-dhcp.pcapng", "ipxe", "iPXE BIOS"),
    ];
    for (file, class, name) in cases {
        let a = audit_path(&dir.join(file));
        let r = &a.clients[0].rounds[0];
        assert_eq!(r.class, class, "{file}");
        assert!(r.firmware.contains(name), "{file}: {}", r.firmware);
        assert!(r.ja4d.starts_with("disco"), "{file}: {}", r.ja4d);
    }
    // JA4D of the EDK2 DISCOVER: 57 = 1472, no 50 or 81, options without 53, then opt55.
    let a = audit_path(&dir.join("rspxe-amd-efi-discover.pcapng"));
    assert!(a.clients[0].rounds[0]
        .ja4d
        .starts_with("disco1472nn_57-55-97-94-93-60_1-2-3-4-5-6-12-13-"));
    // Two clients interleaved, one of them relayed.
    let a = audit_path(&dir.join("pixiecore-dhcp4-proxy-and-relay.pcap"));
    assert_eq!(a.clients.len(), 2);
    assert_eq!(
        a.clients[1].relay.as_deref(),
        Some("relayed by 192.168.40.1 (hops 1)")
    );
    assert!(a.clients[1].firmware[0].starts_with("unknown, looks like"));
}

#[test]
fn usec_and_nsec_magic_read_the_same() {
    let Some(dir) = corpus() else { return };
    let u = audit_path(&dir.join("pixiecore-bios-proxydhcp-usec.pcap"));
    let n = audit_path(&dir.join("pixiecore-bios-proxydhcp-nsec.pcap"));
    assert_eq!(essence(&u), essence(&n));
}

#[test]
fn derived_framings_tell_the_same_story() {
    let Some(dir) = corpus() else { return };
    for file in [
        "rspxe-bios-proxy-4011-unanswered-FAIL.pcapng",
        "pixiecore-bios-proxydhcp-usec.pcap",
        "rspxe-intel-efi-tftp-windowsize.pcapng",
    ] {
        let src = frames(&dir.join(file));
        let original = write_pcap(&src, DataLink::ETHERNET, TsResolution::MicroSecond);
        let want = essence(&audit(&read_bytes("x", &original).unwrap(), None));
        assert!(!want.is_empty());
        let map = |f: fn(&[u8]) -> Vec<u8>| -> Vec<(Duration, Vec<u8>)> {
            src.iter().map(|(t, d)| (*t, f(d))).collect()
        };
        let variants: Vec<(&str, Vec<u8>)> = vec![
            (
                "sll",
                write_pcap(&map(to_sll), DataLink::LINUX_SLL, TsResolution::MicroSecond),
            ),
            (
                "sll2",
                write_pcap(
                    &map(to_sll2),
                    DataLink::LINUX_SLL2,
                    TsResolution::MicroSecond,
                ),
            ),
            (
                "802.1q",
                write_pcap(
                    &map(|f| tagged(f, &[42])),
                    DataLink::ETHERNET,
                    TsResolution::MicroSecond,
                ),
            ),
            (
                "qinq",
                write_pcap(
                    &map(|f| tagged(f, &[100, 42])),
                    DataLink::ETHERNET,
                    TsResolution::MicroSecond,
                ),
            ),
            (
                "nsec",
                write_pcap(&src, DataLink::ETHERNET, TsResolution::NanoSecond),
            ),
            ("pcapng-2if-ns", write_pcapng_two_interfaces(&src)),
            ("big-endian", write_pcap_big_endian(&src)),
        ];
        let tmp = tempfile::tempdir().unwrap();
        for (label, bytes) in variants {
            let a = audit(&read_bytes(label, &bytes).unwrap(), None);
            assert_eq!(essence(&a), want, "{file} as {label}");
            if label == "qinq" {
                assert_eq!(a.clients[0].vlans, [100, 42], "{file}: {a:#?}");
            }
            // And through the CLI, from a file.
            let path = tmp.path().join(format!("{label}.cap"));
            std::fs::write(&path, &bytes).unwrap();
            let (code, out, _) = bootsim(&["audit", "--json", path.to_str().unwrap()]);
            let json: serde_json::Value = serde_json::from_str(&out).unwrap();
            let c = &json["clients"][0];
            assert_eq!(c["outcome"], serde_json::json!(a.clients[0].outcome));
            assert!(c["steps"].is_array() && c["firmware"].is_array() && c["mac"].is_string());
            assert_eq!(code, if a.failed() { 1 } else { 0 }, "{label}");
        }
    }
}

#[test]
fn every_truncation_reads_as_far_as_it_goes_and_never_panics() {
    let Some(dir) = corpus() else { return };
    let path = dir.join("rspxe-bios-proxy-4011-unanswered-FAIL.pcapng");
    let bytes = std::fs::read(&path).unwrap();
    let whole = audit(&read_bytes("whole", &bytes).unwrap(), None);
    // Every prefix: the header is unreadable (an error) or the capture is read up to a cut.
    let mut cuts = 0;
    for len in 0..bytes.len() {
        match read_bytes("cut", &bytes[..len]) {
            Err(e) => assert!(e.to_string().starts_with("cut: "), "{e}"),
            Ok(c) => {
                let a = audit(&c, None);
                assert!(a.packets <= whole.packets);
                if let Some(cut) = &c.cut {
                    cuts += 1;
                    assert!(cut.offset <= len && cut.packet >= 1, "{cut:?}");
                }
            }
        }
    }
    assert!(cuts > bytes.len() / 2, "{cuts}");
    // Cut in the middle of packet 12 (the RELEASE): packets 1-11 are read, and the note says so.
    let pcap = write_pcap(
        &frames(&path),
        DataLink::ETHERNET,
        TsResolution::MicroSecond,
    );
    let c = read_bytes("mid", &pcap).unwrap();
    let offset12 = c.packets.iter().find(|p| p.number == 12).unwrap().offset;
    let c = read_bytes("mid", &pcap[..offset12 + 30]).unwrap();
    assert_eq!(c.packets.last().map(|p| p.number), Some(11));
    let cut = c.cut.clone().unwrap();
    assert_eq!((cut.packet, cut.offset), (12, offset12));
    assert!(cut.to_string().contains("packet 12 (byte offset"), "{cut}");
    // Through the CLI at every frame boundary and mid-frame: exit 0, 1 or 2.
    let tmp = tempfile::tempdir().unwrap();
    let full = read_bytes("x", &pcap).unwrap();
    let mut ends: Vec<usize> = full.packets.iter().map(|p| p.offset).collect();
    ends.extend(full.packets.iter().map(|p| p.offset + 20));
    ends.extend([0, 3, 10, pcap.len()]);
    for end in ends {
        let f = tmp.path().join("cut.pcap");
        std::fs::write(&f, &pcap[..end.min(pcap.len())]).unwrap();
        let (code, out, err) = bootsim(&["audit", f.to_str().unwrap()]);
        assert!(matches!(code, 0..=2), "cut at {end}: {code} {out} {err}");
        if end < 24 {
            assert_eq!(code, 2, "{err}");
            assert!(err.contains("cut.pcap"), "{err}");
        }
    }
}

#[test]
fn snaplen_cut_frames_are_flagged_not_fatal() {
    let Some(dir) = corpus() else { return };
    let src = frames(&dir.join("pixiecore-bios-proxydhcp-usec.pcap"));
    let mut w = PcapWriter::with_header(Vec::new(), PcapHeader::default()).unwrap();
    for (at, f) in &src {
        let keep = f.len().min(200);
        w.write_packet(&PcapPacket::new(*at, f.len() as u32, &f[..keep]))
            .unwrap();
    }
    let c = read_bytes("snap", &w.into_writer()).unwrap();
    assert!(c.packets.iter().any(|p| p.snapped));
    let a = audit(&c, None);
    assert!(
        a.notes
            .iter()
            .any(|n| n.contains("cut by the snapshot length")),
        "{:?}",
        a.notes
    );
}

#[test]
fn garbage_and_missing_files_exit_2_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("garbage.pcap");
    std::fs::write(&f, b"this is not a capture at all, not even close").unwrap();
    let (code, _, err) = bootsim(&["audit", f.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("garbage.pcap: not a pcap or pcapng capture"),
        "{err}"
    );
    let (code, _, err) = bootsim(&["audit", "/nonexistent/x.pcapng"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/x.pcapng"), "{err}");
}

/// Simulated boots written with `bootsim run --pcap`, told back by audit.
fn simulated(scenario: &str) -> (Audit, PathBuf, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, err) = bootsim(&[
        "run",
        &format!("scenarios/{scenario}.toml"),
        "--pcap",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let path = tmp.path().join(format!("{scenario}.pcap"));
    (audit_path(&path), path, tmp)
}

#[test]
fn a_simulated_guide_boot_lists_its_four_files_and_stages() {
    let (a, path, _tmp) = simulated("seed");
    let c = &a.clients[0];
    let files: Vec<String> = c
        .steps
        .iter()
        .filter(|s| s.stage.starts_with("TFTP") || s.stage == "iPXE fetch")
        .map(|s| {
            s.detail
                .split(' ')
                .next()
                .unwrap()
                .trim_start_matches('/')
                .to_string()
        })
        .collect();
    assert_eq!(
        files,
        ["ipxe.efi", "refind.pxe", "refind.conf", "refind_x64.efi"]
    );
    let classes: Vec<&str> = c.rounds.iter().map(|r| r.class.as_str()).collect();
    assert_eq!(classes, ["edk2-uefi", "ipxe"]);
    assert_eq!(c.outcome, Verdict::HandedOff);
    insta::assert_snapshot!("simulated_seed", report::render(&a));
    let junit = tempfile::NamedTempFile::new().unwrap();
    let (code, _, _) = bootsim(&[
        "audit",
        path.to_str().unwrap(),
        "--junit",
        junit.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let xml = std::fs::read_to_string(junit.path()).unwrap();
    assert!(
        xml.contains("<testcase name=\"52:54:00:12:34:56\""),
        "{xml}"
    );
    assert!(!xml.contains("<failure"), "{xml}");
}

#[test]
fn the_simulated_option60_trap_names_4011_and_pxe_e16() {
    let (a, path, _tmp) = simulated("option60-trap");
    let c = &a.clients[0];
    assert_eq!(c.outcome, Verdict::Failed);
    assert!(c
        .findings
        .iter()
        .any(|f| f.kind == "binl-trap-opt60-without-opt43"));
    assert!(c.diagnosis.contains("UDP 4011"), "{}", c.diagnosis);
    assert!(c.diagnosis.contains("PXE-E16"), "{}", c.diagnosis);
    assert!(c.diagnosis.contains("192.168.1.5"), "{}", c.diagnosis);
    insta::assert_snapshot!("simulated_option60_trap", report::render(&a));
    let junit = tempfile::NamedTempFile::new().unwrap();
    let (code, _, _) = bootsim(&[
        "audit",
        path.to_str().unwrap(),
        "--junit",
        junit.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    let xml = std::fs::read_to_string(junit.path()).unwrap();
    assert!(xml.contains("<failure") && xml.contains("PXE-E16"), "{xml}");
}

#[test]
fn the_simulated_class_loop_is_a_chainload_loop() {
    let (a, _path, _tmp) = simulated("class-loop");
    let c = &a.clients[0];
    assert_eq!(c.outcome, Verdict::Failed);
    assert!(c.diagnosis.starts_with("chainload loop"), "{}", c.diagnosis);
    assert!(c.steps.iter().filter(|s| s.stage == "chain").count() >= 2);
    insta::assert_snapshot!("simulated_class_loop", report::render(&a));
}

#[test]
fn client_filter_keeps_one_client() {
    let Some(dir) = corpus() else { return };
    let p = dir.join("pixiecore-dhcp4-proxy-and-relay.pcap");
    let (code, out, _) = bootsim(&[
        "audit",
        "--json",
        "--client",
        "00:24:d7:ba:0b:20",
        p.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["clients"].as_array().unwrap().len(), 1);
    assert_eq!(json["clients"][0]["mac"], "00:24:d7:ba:0b:20");
}

#[test]
fn every_corpus_capture_cut_at_every_frame_boundary_and_every_byte_mutated_never_panics() {
    let Some(dir) = corpus() else { return };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    paths.sort();
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        let whole = read_bytes("whole", &bytes).unwrap();
        // Cut at each packet record's start, and 7 bytes into it (for the long captures,
        // at eight packets spread over the file: each audit of them takes a while).
        let step = if bytes.len() > 65_536 {
            whole.packets.len() / 8 + 1
        } else {
            1
        };
        for p in whole.packets.iter().step_by(step) {
            for end in [p.offset, p.offset + 7] {
                let c = read_bytes("cut", &bytes[..end.min(bytes.len())]).unwrap();
                let _ = report::render(&audit(&c, None));
            }
        }
        // Small captures: every byte set to 0x00, 0xff and flipped in its top bit.
        if bytes.len() <= 8192 {
            for i in 0..bytes.len() {
                for v in [0x00, 0xff, bytes[i] ^ 0x80] {
                    let mut m = bytes.clone();
                    m[i] = v;
                    if let Ok(c) = read_bytes("mutated", &m) {
                        let _ = report::render(&audit(&c, None));
                    }
                }
            }
        }
    }
}

#[test]
fn audit_agrees_with_every_simulated_scenario_on_who_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let scenarios: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"))
            .unwrap()
            .map(|e| format!("scenarios/{}", e.unwrap().file_name().to_string_lossy()))
            .filter(|p| p.ends_with(".toml"))
            .collect();
    let mut args = vec!["run", "--json", "--pcap", tmp.path().to_str().unwrap()];
    args.extend(scenarios.iter().map(|s| s.as_str()));
    let (code, out, err) = bootsim(&args);
    assert_eq!(code, 0, "{err}");
    let runs: serde_json::Value = serde_json::from_str(&out).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), scenarios.len());
    for run in runs {
        let file = run["file"].as_str().unwrap();
        let stem = Path::new(file)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let a = audit_path(&tmp.path().join(format!("{stem}.pcap")));
        for t in run["transcripts"].as_array().unwrap() {
            let mac = t["mac"].as_str().unwrap();
            let c = a
                .clients
                .iter()
                .find(|c| c.mac == mac)
                .unwrap_or_else(|| panic!("{stem}: {mac} not in the audit"));
            let sim = t["outcome"]["result"].as_str().unwrap();
            let want = if sim == "booted" {
                Verdict::HandedOff
            } else {
                Verdict::Failed
            };
            assert_eq!(
                c.outcome, want,
                "{stem} {mac}: simulated {sim}, audit says {}",
                c.diagnosis
            );
        }
    }
}

#[test]
fn an_icmp_port_unreachable_for_the_4011_request_is_named() {
    let Some(dir) = corpus() else { return };
    let mut src = frames(&dir.join("rspxe-bios-proxy-4011-unanswered-FAIL.pcapng"));
    // Packet 11 is the 4011 REQUEST; the proxy host answers it with ICMP port unreachable,
    // quoting its IPv4 header and 8 bytes of UDP (RFC 792), as a host with nothing on 4011.
    let (at, request) = src[10].clone();
    let ihl = usize::from(request[14] & 0x0f) * 4;
    let quoted = &request[14..14 + ihl + 8];
    let (client_mac, proxy_mac): ([u8; 6], [u8; 6]) = (
        request[6..12].try_into().unwrap(),
        request[..6].try_into().unwrap(),
    );
    let src_ip: [u8; 4] = request[26..30].try_into().unwrap();
    let dst_ip: [u8; 4] = request[30..34].try_into().unwrap();
    let mut icmp = Vec::new();
    etherparse::PacketBuilder::ethernet2(proxy_mac, client_mac)
        .ipv4(dst_ip, src_ip, 64)
        .icmpv4_raw(3, 3, [0; 4])
        .write(&mut icmp, quoted)
        .unwrap();
    src.insert(11, (at + Duration::from_millis(1), icmp));
    let pcap = write_pcap(&src, DataLink::ETHERNET, TsResolution::MicroSecond);
    let a = audit(&read_bytes("icmp", &pcap).unwrap(), None);
    let c = &a.clients[0];
    assert_eq!(c.outcome, Verdict::Failed);
    assert!(
        c.diagnosis
            .contains("192.168.178.21 answered ICMP port unreachable (packet 12)"),
        "{}",
        c.diagnosis
    );
    assert!(
        c.diagnosis.contains("RELEASEd (packet 13)"),
        "{}",
        c.diagnosis
    );
}

#[test]
fn simulated_edk2_and_ipxe_fingerprint_like_the_real_boards() {
    let Some(dir) = corpus() else { return };
    let (sim, _path, _tmp) = simulated("seed");
    let rounds = &sim.clients[0].rounds;
    // EDK2: byte-identical layout to the ASRock (Intel NIC) and AMD boards' UEFI.
    for file in [
        "rspxe-amd-efi-discover.pcapng",
        "rspxe-intel-efi-proxydhcp-dhcp.pcapng",
    ] {
        let real = audit_path(&dir.join(file));
        assert_eq!(rounds[0].ja4d, real.clients[0].rounds[0].ja4d, "{file}");
    }
    // iPXE: the same message type, size and option order; option 55 depends on the build.
    let real = audit_path(&dir.join("rspxe-ipxe-dhcp.pcapng"));
    let head = |s: &str| s.rsplit_once('_').map(|(h, _)| h.to_string()).unwrap();
    assert_eq!(head(&rounds[1].ja4d), head(&real.clients[0].rounds[0].ja4d));
}

#[test]
fn a_server_that_stops_sending_is_a_stall_after_the_last_block() {
    let Some(dir) = corpus() else { return };
    let src = frames(&dir.join("rspxe-ipxe-tftp.pcapng"));
    // The client's last ACK, then nothing from the server: the ACK sent twice more, 1 s apart.
    let is_ack = |f: &[u8]| {
        etherparse::SlicedPacket::from_ethernet(f)
            .ok()
            .and_then(|p| match p.transport {
                Some(etherparse::TransportSlice::Udp(u)) => Some(u.payload().starts_with(&[0, 4])),
                _ => None,
            })
            .unwrap_or(false)
    };
    let last = src.iter().rposition(|(_, f)| is_ack(f)).unwrap();
    let mut cut: Vec<(Duration, Vec<u8>)> = src[..=last].to_vec();
    let (at, ack) = src[last].clone();
    for i in 1..=2 {
        cut.push((at + Duration::from_secs(i), ack.clone()));
    }
    let pcap = write_pcap(&cut, DataLink::ETHERNET, TsResolution::MicroSecond);
    let a = audit(&read_bytes("stopped", &pcap).unwrap(), None);
    let c = &a.clients[0];
    assert_eq!(c.outcome, Verdict::Failed, "{}", report::render(&a));
    assert!(
        c.diagnosis
            .contains("the server stopped sending; the client re-sent ACK"),
        "{}",
        c.diagnosis
    );
}

#[test]
fn a_capture_without_any_server_answer_says_they_may_be_unseen() {
    let Some(dir) = corpus() else { return };
    let src = frames(&dir.join("rspxe-bios-proxy-4011-unanswered-FAIL.pcapng"));
    // The BIOS client of captures.md, 00:01:2e:91:f7:fe.
    let client = [0x00, 0x01, 0x2e, 0x91, 0xf7, 0xfe];
    let only_client: Vec<(Duration, Vec<u8>)> = src
        .into_iter()
        .filter(|(_, f)| f[6..12] == client[..])
        .collect();
    let pcap = write_pcap(&only_client, DataLink::ETHERNET, TsResolution::MicroSecond);
    let a = audit(&read_bytes("client-side", &pcap).unwrap(), None);
    assert!(
        a.notes
            .iter()
            .any(|n| n.starts_with("no DHCP answer from any server")),
        "{:?}",
        a.notes
    );
}
