//! Every seed and every saved crash through every target under plain `cargo test`: what AFL
//! once found stays fixed without AFL, and the seeds stay valid inputs. The shared corpus
//! (real public files, read where it lies) is replayed too when it is present.

use std::path::Path;

use netboot_fuzz::seeds::{builtin, from_corpus, regressions};
use netboot_fuzz::TARGETS;

#[test]
fn every_target_has_seeds() {
    for t in TARGETS {
        assert!(!builtin(t.name).is_empty(), "{} has no seeds", t.name);
    }
}

#[test]
fn seeds_and_regressions_pass_every_target() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    for t in TARGETS {
        let mut inputs = builtin(t.name);
        inputs.extend(regressions(t.name));
        inputs.extend(from_corpus(t.name, &corpus));
        for (name, bytes) in &inputs {
            eprintln!("{} <- {name} ({} bytes)", t.name, bytes.len());
            (t.run)(bytes);
        }
    }
}

#[test]
fn seeds_reach_past_the_parsers() {
    // A seed its parser refuses would start AFL in the wrong place.
    let pcap = &builtin("capture")[0].1;
    let capture =
        bootsim::capture::read::read_bytes("dora.pcap", pcap).expect("the pcap seed reads");
    assert_eq!(capture.packets.len(), 4);
    let (name, text) = &builtin("tftpd_defaults")[1];
    let text = std::str::from_utf8(text).expect("text");
    netbootd::tftp::defaults::parse(name, text).expect("the options seed parses");
    let guide = builtin("kea_config")
        .into_iter()
        .find(|(n, _)| n == "seed-kea-dhcp4.conf")
        .expect("the guide's config is a seed")
        .1;
    assert!(netbootd::kea::json::parse_bytes("g", guide).error.is_none());
}
