//! The AFL++ harness: `fuzz-afl TARGET`, built by `cargo afl build --features afl` and run by
//! `ci/fuzz.sh`, feeds AFL's inputs to one target in persistent mode.

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(target) = netboot_fuzz::target(&name) else {
        let names: Vec<_> = netboot_fuzz::TARGETS.iter().map(|t| t.name).collect();
        eprintln!("usage: fuzz-afl TARGET, one of: {}", names.join(" "));
        std::process::exit(2);
    };
    afl::fuzz!(|data: &[u8]| (target.run)(data));
}
