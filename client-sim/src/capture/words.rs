//! Small pieces of wording shared by the audit's steps and findings: times, packet lists,
//! TFTP options, and what a fetched file is (as `bootsim boot` prints it).

use netbootd::time::Instant;

use crate::identify::{identify as identify_image, Image, Machine};

use super::flows::Transfer;

pub fn secs(d: Instant) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

pub fn range(p: &[usize]) -> String {
    match (p.first(), p.last()) {
        (Some(a), Some(b)) if a == b => format!("packet {a}"),
        (Some(a), Some(b)) => format!("packets {a}-{b}"),
        _ => "no packets".into(),
    }
}

/// "packet 3" or "packets 3, 5".
pub fn list(p: &[usize]) -> String {
    let n = p
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if p.len() == 1 {
        format!("packet {n}")
    } else {
        format!("packets {n}")
    }
}

/// What a fetched file is, as `bootsim boot` prints it.
pub fn describe(bytes: &[u8]) -> String {
    identify_image(bytes).describe(bytes)
}

pub fn looks_like_ipxe(t: &Transfer) -> bool {
    let name = t.file.to_ascii_lowercase();
    let what = describe(&t.content());
    what.contains("iPXE") && !what.contains("script")
        || name.contains("ipxe") && !name.ends_with(".ipxe")
        || name.contains("undionly")
}

pub fn options(o: &[(String, String)]) -> String {
    if o.is_empty() {
        return "none".into();
    }
    o.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether firmware of architecture `arch` (option 93) can start `bytes`: an EFI image must
/// be built for its machine (UEFI spec 2.x section 2.1.1; EDK2 `CoreLoadImage` refuses
/// others with EFI_UNSUPPORTED), and BIOS (0) runs no EFI image. `None` when it can, or
/// when the image is not one whose machine we know.
pub fn arch_mismatch(arch: u16, bytes: &[u8]) -> Option<String> {
    let Image::Efi { machine, .. } = identify_image(bytes) else {
        return None;
    };
    let fits = match arch {
        0 => false,
        6 | 15 => machine == Machine::Ia32,
        7 | 9 | 16 => machine == Machine::X64,
        10 | 18 => machine == Machine::Arm,
        11 | 19 => machine == Machine::Aarch64,
        _ => true,
    };
    (!fits).then(|| describe(bytes))
}
