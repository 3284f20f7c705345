//! Random and truncated input never panics the configuration pipeline (JSON dialect, grammar,
//! semantic checks), and every refusal names a place or is a file-level error.

use std::path::Path;

use netbootd::kea::check::check_document;
use netbootd::kea::json::parse_bytes;
use netbootd::kea::system::System;
use netbootd::kea::KeaVersion;
use proptest::prelude::*;

/// A machine with every interface and every hooks library, so the semantic checks run deep.
struct Everything;

impl System for Everything {
    fn interface_exists(&self, _: &str) -> bool {
        true
    }
    fn file_exists(&self, _: &Path) -> bool {
        true
    }
}

fn seed() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/seed/kea-dhcp4.conf"))
        .expect("seed")
}

fn run(bytes: Vec<u8>) {
    for version in KeaVersion::ALL {
        let doc = parse_bytes("fuzz.conf", bytes.clone());
        let outcome = check_document(&doc, version, &Everything);
        if let Some(error) = &outcome.error {
            assert!(!error.to_string().is_empty());
        }
    }
}

#[test]
fn every_truncation_of_the_guides_config_is_refused_with_a_place() {
    let seed = seed();
    for len in 0..seed.len() {
        let doc = parse_bytes("cut.conf", seed[..len].to_vec());
        let outcome = check_document(&doc, KeaVersion::V2_2, &Everything);
        let error = outcome.error.expect("a cut config is invalid");
        assert!(
            error.span.is_some() || error.message.contains("cut.conf"),
            "cut at {len}: {error}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        run(bytes);
    }

    #[test]
    fn mutated_guides_config_never_panics(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
    ) {
        let mut bytes = seed();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        run(bytes);
    }

    #[test]
    fn json_shaped_noise_never_panics(text in r#"\{"Dhcp4":\{("[a-z4-]{1,12}":([0-9]{1,3}|"[a-z0-9./ -]{0,12}"|\[\]|\{\}|true|null),?){0,6}\}\}"#) {
        run(text.into_bytes());
    }
}

mod expressions {
    use netbootd::kea::expr::{self, evaluate, ClassLookup, ClassSet, OptionLookup, Packet};
    use netbootd::kea::KeaVersion;
    use netbootd::wire::dhcp::Message;
    use proptest::prelude::*;

    struct Any;
    impl OptionLookup for Any {
        fn option_code(&self, name: &str) -> Option<u16> {
            (name.len() < 20).then_some(name.len() as u16)
        }
    }
    impl ClassLookup for Any {
        fn is_defined(&self, _: &str) -> bool {
            true
        }
    }

    const PIECES: &[&str] = &[
        "option[93].hex",
        "option[77].exists",
        "==",
        "and",
        "or",
        "not",
        "(",
        ")",
        "'iPXE'",
        "0x0007",
        "substring(",
        ",",
        "-1",
        "all",
        "pkt4.mac",
        "relay4[1].hex",
        "member('x')",
        "concat(",
        "ifelse(",
        "split(",
        "10.0.0.1",
        "+",
        "vendor[*].exists",
        "uint16totext(",
        "hexstring(",
        "vendor-class[4491].data[1]",
        "lcase(",
        "sand",
        "]",
        "[",
        ".",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn random_text_never_panics(text in "\\PC{0,60}") {
            for v in KeaVersion::ALL {
                let _ = expr::parse(&text, v, &Any, &Any);
            }
        }

        #[test]
        fn random_token_soup_never_panics_and_evaluates_safely(
            picks in proptest::collection::vec(0..PIECES.len(), 1..16),
            options in proptest::collection::vec((1u8..255, proptest::collection::vec(any::<u8>(), 0..12)), 0..6),
        ) {
            let text: Vec<&str> = picks.iter().map(|i| PIECES[*i]).collect();
            let text = text.join(" ");
            let mut m = Message::default();
            for (code, data) in &options {
                m.options.push(*code, data);
            }
            m.options.end();
            for v in KeaVersion::ALL {
                if let Ok(e) = expr::parse(&text, v, &Any, &Any) {
                    let pkt = Packet::broadcast(&m, "eth0", 300);
                    let _ = evaluate(&e, &pkt, &ClassSet::default());
                }
            }
        }
    }
}
