//! `fuzz-seeds TARGET DIR [CORPUS]`: writes TARGET's seeds (the repository's, its saved
//! regressions, and the shared corpus's when CORPUS is given) to DIR, AFL's input directory.

use std::path::{Path, PathBuf};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(name), Some(dir)) = (args.first(), args.get(1)) else {
        eprintln!("usage: fuzz-seeds TARGET DIR [CORPUS]");
        std::process::exit(2);
    };
    if netboot_fuzz::target(name).is_none() {
        eprintln!("fuzz-seeds: no target {name}");
        std::process::exit(2);
    }
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("input directory");
    let mut seeds = netboot_fuzz::seeds::builtin(name);
    seeds.extend(netboot_fuzz::seeds::regressions(name));
    if let Some(corpus) = args.get(2) {
        seeds.extend(netboot_fuzz::seeds::from_corpus(name, Path::new(corpus)));
    }
    for (file, bytes) in &seeds {
        std::fs::write(dir.join(file.replace('/', "_")), bytes).expect("seed");
    }
    println!("{}: {} seeds in {}", name, seeds.len(), dir.display());
}
