//! Debian's real ipxe.efi, undionly.kpxe and rEFInd images are recognised by content
//! (ci/firmware.sh unpacks the ipxe and refind packages into target/firmware).

#[path = "../../server/tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::Command;

use bootsim::identify::{identify, Image, Machine, Program};

fn firmware_dir() -> Option<PathBuf> {
    if !support::require_tool("apt-get") || !support::require_tool("dpkg-deb") {
        return None;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../ci/firmware.sh");
    let out = Command::new("bash")
        .arg(script)
        .output()
        .expect("bash runs");
    if !out.status.success() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "ci/firmware.sh failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        eprintln!("skipping: ci/firmware.sh could not unpack Debian's ipxe/refind");
        return None;
    }
    Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

#[test]
fn debian_firmware_images_are_identified() {
    let Some(dir) = firmware_dir() else { return };
    let read = |p: &str| std::fs::read(dir.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(
        identify(&read("boot/ipxe.efi")),
        Image::Efi {
            machine: Machine::X64,
            subsystem: 10,
            program: Program::Ipxe
        }
    );
    // Debian's build is one from before v1.20, recognised by its version, read whole even
    // when TFTP's 1432-byte blocks cut it in two.
    let ipxe = read("boot/ipxe.efi");
    for block in [1432, 512, 7] {
        let mut b = bootsim::content::ContentBuilder::default();
        for chunk in ipxe.chunks(block) {
            b.push(chunk);
        }
        assert_eq!(
            b.finish().legacy_ipxe(),
            Some("1.0.0+git-20190125.36a4c85-5.1"),
            "blocks of {block}"
        );
    }
    assert_eq!(
        identify(&read("usr/share/refind/refind/refind_x64.efi")),
        Image::Efi {
            machine: Machine::X64,
            subsystem: 10,
            program: Program::Refind
        }
    );
    assert_eq!(
        identify(&read("usr/lib/ipxe/undionly.kpxe")),
        Image::Raw {
            program: Program::Ipxe
        }
    );
    let seed = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/seed/refind.pxe"
    ))
    .unwrap();
    assert_eq!(identify(&seed), Image::IpxeScript);
}
