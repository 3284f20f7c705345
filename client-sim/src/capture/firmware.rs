//! Which firmware sent a DHCP message, read from its bytes, and its JA4D fingerprint.
//!
//! The rules follow the byte layouts in ../shared/research/firmware.md (EDK2: A.2/A.3, iPXE:
//! B.1) and the table "Firmware facts the captures show" in research/captures.md (BIOS PXE
//! ROMs: IP TTL 20, option order 53,55,57,97,93,94,60; the same rule satori's dhcp.xml uses
//! for "PXE Client"). JA4D is FoxIO's DHCP fingerprint as its Zeek script builds it
//! (FoxIO-LLC/ja4 zeek/ja4d/main.zeek `do_ja4d`, consts.zeek `DHCP_SKIP_OPTIONS`).

use netbootd::wire::dhcp::Message;
use serde::Serialize;

/// What a DHCP message says about the program that sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// Short class: `edk2-uefi`, `bios-pxe`, `ipxe`, `uefi-http`, `unknown`.
    pub class: String,
    /// For people: "EDK2 UEFI x64 (OVMF, UNDI 3.0)", "unknown, looks like …".
    pub name: String,
    /// The bytes that decided it.
    pub evidence: Vec<String>,
    /// Option 93, the client system architecture (RFC 4578 section 2.1).
    pub arch: Option<u16>,
}

/// RFC 4578 section 2.1 and the IANA processor-architecture registry.
fn arch_name(arch: u16) -> String {
    match arch {
        0 => "x86 BIOS".into(),
        6 => "IA32".into(),
        7 | 9 => "x64".into(),
        10 => "ARM32".into(),
        11 => "ARM64".into(),
        15 => "IA32 HTTP".into(),
        16 => "x64 HTTP".into(),
        19 => "ARM64 HTTP".into(),
        other => format!("arch {other}"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches('\0')
        .to_string()
}

fn codes(m: &Message) -> Vec<u8> {
    m.options.codes()
}

fn list(codes: &[u8]) -> String {
    codes
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The option codes in order, without the ones a REQUEST adds (54, 50) and without 43,
/// which a 4011 request may carry: what stays the same across one firmware's messages.
fn layout(m: &Message) -> Vec<u8> {
    codes(m)
        .into_iter()
        .filter(|c| ![50, 54, 43, 61, 12, 81].contains(c))
        .collect()
}

/// EDK2 PXE DISCOVER/REQUEST order: 53, 57, 55, 97, 94, 93, 60 (firmware.md A.2, A.3; 50
/// and 54 removed by `layout`). The 4011 request: 53, 55, 57, 60, 93, 94, 97 (captures.md).
const EDK2_ORDER: [u8; 7] = [53, 57, 55, 97, 94, 93, 60];
const EDK2_BINL_ORDER: [u8; 7] = [53, 55, 57, 60, 93, 94, 97];
/// BIOS PXE ROMs (Intel UNDI 2.1, two boards in the corpus): 53, 55, 57, 97, 93, 94, 60.
const BIOS_ORDER: [u8; 7] = [53, 55, 57, 97, 93, 94, 60];

/// Identifies the firmware that sent `m`, with `ttl` the IP TTL of its packet.
pub fn identify(m: &Message, ttl: u8) -> Identity {
    let vendor = m.option(60).map(|v| text(&v));
    let user_class = m.option(77);
    let arch = m
        .option(93)
        .filter(|v| v.len() >= 2)
        .map(|v| u16::from_be_bytes([v[0], v[1]]));
    let undi = m.option(94).filter(|v| v.len() == 3).map(|v| (v[1], v[2]));
    let order = layout(m);
    let mut evidence = vec![format!("options {}", list(&codes(m))), format!("ttl {ttl}")];
    if let Some(v) = &vendor {
        evidence.push(format!("opt60 {v:?}"));
    }
    if let Some(a) = arch {
        evidence.push(format!("opt93 {a} ({})", arch_name(a)));
    }
    if let Some((major, minor)) = undi {
        evidence.push(format!("opt94 UNDI {major}.{minor}"));
    }
    if let Some(size) = m.option(57).filter(|v| v.len() == 2) {
        evidence.push(format!("opt57 {}", u16::from_be_bytes([size[0], size[1]])));
    }
    let arch_text = arch.map(arch_name).unwrap_or_else(|| "arch ?".into());
    let id = |class: &str, name: String, evidence: Vec<String>| Identity {
        class: class.into(),
        name,
        evidence,
        arch,
    };

    // iPXE: option 175 (encapsulated iPXE options) is iPXE's own; option 77 is "iPXE" unless
    // the build or script set user-class (firmware.md B.1, dhcp.c `dhcp_create_request`).
    let ipxe_features = m.option(175).is_some();
    let uc = user_class.as_ref().map(|u| text(u));
    if ipxe_features || uc.as_deref() == Some("iPXE") {
        if let Some(u) = &uc {
            // iPXE sends a raw "iPXE"; RFC 3004 would put a length byte first.
            let form = if u.as_bytes().first().is_some_and(|b| b.is_ascii_graphic()) {
                "raw"
            } else {
                "RFC 3004"
            };
            evidence.push(format!("opt77 {u:?} ({form})"));
        }
        if ipxe_features {
            evidence.push("opt175 (iPXE features)".into());
        }
        let build = match arch {
            Some(0) => "BIOS",
            Some(_) => "EFI",
            None => "unknown build",
        };
        let mut name = format!("iPXE {build} ({arch_text})");
        if let Some(u) = uc.as_deref().filter(|u| *u != "iPXE") {
            name.push_str(&format!(", user-class {u:?}"));
        }
        if vendor.as_deref() == Some("PXEClient") {
            // ipxe/ipxe#1527: opt60 loses its Arch/UNDI suffix after some chainloads.
            name.push_str(", opt60 plain \"PXEClient\"");
        }
        return id("ipxe", name, evidence);
    }
    if let Some(v) = vendor.as_deref().filter(|v| v.starts_with("HTTPClient")) {
        // UEFI HTTP boot sends "HTTPClient:Arch:…" (UEFI spec 2.x section 24.7.2).
        return id(
            "uefi-http",
            format!("UEFI HTTP boot ({arch_text}), {v}"),
            evidence,
        );
    }
    let pxe = vendor
        .as_deref()
        .is_some_and(|v| v.starts_with("PXEClient"));
    let undi_text = undi
        .map(|(a, b)| format!("UNDI {a}.{b}"))
        .unwrap_or_else(|| "no UNDI".into());
    if pxe && arch == Some(0) {
        let rom = if order == BIOS_ORDER && ttl == 20 {
            "BIOS PXE ROM (Intel-style"
        } else if order == BIOS_ORDER || ttl == 20 {
            "BIOS PXE ROM (partly Intel-style"
        } else {
            "BIOS PXE ROM (other vendor"
        };
        return id("bios-pxe", format!("{rom}, {undi_text})"), evidence);
    }
    if pxe && arch.is_some() {
        let edk2 = order == EDK2_ORDER || order == EDK2_BINL_ORDER;
        if edk2 {
            // The UNDI version is the NIC's: OVMF's own drivers report 3.0 (firmware.md A.2).
            let which = if undi == Some((3, 0)) {
                "OVMF or EDK2 without NII"
            } else {
                "vendor UEFI, EDK2 PXE stack"
            };
            return id(
                "edk2-uefi",
                format!("EDK2 UEFI {arch_text} ({which}, {undi_text})"),
                evidence,
            );
        }
        return id(
            "unknown",
            format!(
                "unknown, looks like UEFI PXE {arch_text} but option order {} is not EDK2's",
                list(&order)
            ),
            evidence,
        );
    }
    let looks = match (&vendor, m.option(55).is_some()) {
        (Some(v), _) if v.starts_with("PXEClient") => format!("a PXE client ({v})"),
        (Some(v), _) => format!("an OS DHCP client ({v})"),
        (None, true) => "an OS DHCP client".into(),
        (None, false) => "a BOOTP client".into(),
    };
    id("unknown", format!("unknown, looks like {looks}"), evidence)
}

/// FoxIO JA4D: `<type><maxsize><i|n><d|n>_<options>_<requested>`: the message type as five
/// letters, option 57 as four digits (capped at 9999), whether 50 and 81 are present, the
/// option codes in order without 53, 50, 81 and 255, and option 55's list, `-`-joined,
/// `00` when empty.
pub fn ja4d(m: &Message) -> String {
    let kind = match m.message_type() {
        Some(1) => "disco".to_string(),
        Some(2) => "offer".into(),
        Some(3) => "reqst".into(),
        Some(4) => "decln".into(),
        Some(5) => "dpack".into(),
        Some(6) => "dpnak".into(),
        Some(7) => "relse".into(),
        Some(8) => "infor".into(),
        Some(9) => "frenw".into(),
        Some(t) => format!("{t:05}"),
        None => "00000".into(),
    };
    let size = match m.option(57).filter(|v| v.len() == 2) {
        Some(v) => u16::from_be_bytes([v[0], v[1]]).min(9999),
        None => 0,
    };
    let requested = if m.option(50).is_some() { 'i' } else { 'n' };
    let fqdn = if m.option(81).is_some() { 'd' } else { 'n' };
    let join = |v: &[u8]| {
        if v.is_empty() {
            "00".to_string()
        } else {
            v.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join("-")
        }
    };
    let opts: Vec<u8> = codes(m)
        .into_iter()
        .filter(|c| ![53, 50, 81, 255].contains(c))
        .collect();
    let params = m.option(55).unwrap_or_default();
    format!(
        "{kind}{size:04}{requested}{fqdn}_{}_{}",
        join(&opts),
        join(&params)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u8, options: &[(u8, &[u8])]) -> Message {
        let mut m = Message::default();
        m.options.push(53, &[kind]);
        for (code, value) in options {
            m.options.push(*code, value);
        }
        m.options.end();
        m
    }

    #[test]
    fn ja4d_matches_foxios_reference_vectors() {
        // FoxIO-LLC/ja4 wireshark/test/testdata/dhcp.pcapng.json frames 1 and 2: a Windows
        // DISCOVER (61, 50, 55) and its OFFER (1, 58, 59, 51, 54, no 55).
        let discover = message(
            1,
            &[
                (61, &[1, 0, 11, 130, 1, 252, 66]),
                (50, &[0, 0, 0, 0]),
                (55, &[1, 3, 6, 42]),
            ],
        );
        assert_eq!(ja4d(&discover), "disco0000in_61-55_1-3-6-42");
        let ip = [192, 168, 0, 1];
        let offer = message(
            2,
            &[
                (1, &[255, 255, 255, 0]),
                (58, &[0, 0, 7, 8]),
                (59, &[0, 0, 12, 78]),
                (51, &[0, 0, 14, 16]),
                (54, &ip),
            ],
        );
        assert_eq!(ja4d(&offer), "offer0000nn_1-58-59-51-54_00");
        // Option 57 is capped at 9999 (EDK2's REQUEST says 65280: firmware.md A.3).
        let request = message(3, &[(57, &[0xff, 0x00])]);
        assert!(ja4d(&request).starts_with("reqst9999nn_57_00"));
    }

    #[test]
    fn http_boot_ipxe_with_another_user_class_and_unknown_clients_are_named() {
        let http = message(
            1,
            &[(93, &[0, 16]), (60, b"HTTPClient:Arch:00016:UNDI:003000")],
        );
        let id = identify(&http, 64);
        assert_eq!(id.class, "uefi-http");
        assert!(id.name.contains("x64 HTTP"), "{}", id.name);

        let ipxe = message(
            1,
            &[
                (93, &[0, 7]),
                (60, b"PXEClient:Arch:00007:UNDI:003010"),
                (77, b"pixiecore"),
                (175, &[0xb1, 5, 1, 0x1a, 0xf4, 0x10, 0]),
            ],
        );
        let id = identify(&ipxe, 64);
        assert_eq!(id.class, "ipxe");
        assert_eq!(id.name, "iPXE EFI (x64), user-class \"pixiecore\"");

        // A PXE client whose option order is neither EDK2's nor the BIOS ROMs'.
        let odd = message(
            1,
            &[
                (60, b"PXEClient:Arch:00007:UNDI:003000"),
                (93, &[0, 7]),
                (55, &[1, 3]),
            ],
        );
        let id = identify(&odd, 64);
        assert_eq!(id.class, "unknown");
        assert!(
            id.name.starts_with("unknown, looks like UEFI PXE x64"),
            "{}",
            id.name
        );

        let os = message(1, &[(60, b"MSFT 5.0"), (55, &[1, 3])]);
        assert_eq!(
            identify(&os, 128).name,
            "unknown, looks like an OS DHCP client (MSFT 5.0)"
        );
    }
}
