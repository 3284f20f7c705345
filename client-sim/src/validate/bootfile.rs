//! Boot files judged by name when there is no TFTP root to read them from: the conventions of
//! the projects that ship them (iPXE's `bin/undionly.kpxe`, `bin-x86_64-efi/ipxe.efi`,
//! `snponly.efi`; syslinux's `pxelinux.0`; shim's and GRUB's `shimx64.efi`, `grubaa64.efi`;
//! netboot.xyz's `netboot.xyz.kpxe`, `netboot.xyz-arm64.efi`) say which firmware can run
//! a file. A name that contradicts the firmware offered it is an error naming the firmware,
//! the file and the class or subnet line that gave it. With a TFTP root, the file's real
//! format decides instead (`identify`).

use netbootd::kea::model::Config;

use crate::chain::Firmware;

/// What a file name says it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Named {
    /// A BIOS PXE NBP (`.kpxe`, `.kkpxe`, `.0`, `.com`, `undionly*`, `pxelinux.0`).
    Bios,
    /// `.pxe`: a BIOS NBP, or, for iPXE, possibly a script (the guide's `refind.pxe`).
    Pxe,
    /// A UEFI binary for this architecture (`None`: the name does not say).
    Efi(Option<EfiArch>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EfiArch {
    X64,
    Ia32,
    Aa64,
}

impl EfiArch {
    fn name(self) -> &'static str {
        match self {
            EfiArch::X64 => "x64",
            EfiArch::Ia32 => "IA32",
            EfiArch::Aa64 => "AArch64",
        }
    }
}

/// The architecture a path names (GRUB/shim suffixes, iPXE build directories, Debian and
/// netboot.xyz spellings).
fn arch_of(path: &str) -> Option<EfiArch> {
    let p = path.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| p.contains(n));
    if has(&["aa64", "arm64", "aarch64"]) {
        Some(EfiArch::Aa64)
    } else if has(&["ia32", "i386", "i686", "x86-efi", "efi32"]) {
        Some(EfiArch::Ia32)
    } else if has(&["x64", "x86_64", "amd64", "efi64"]) {
        Some(EfiArch::X64)
    } else {
        None
    }
}

/// What `file` (a path or URL as offered) is by its name; `None` when the name says nothing
/// (a kernel, an iPXE script, a URL to a script).
pub fn named(file: &str) -> Option<Named> {
    let path = file.rsplit("://").next().unwrap_or(file);
    let base = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let base = base.strip_suffix(".signed").unwrap_or(&base);
    if base.ends_with(".efi") {
        return Some(Named::Efi(arch_of(path)));
    }
    if base.ends_with(".kpxe")
        || base.ends_with(".kkpxe")
        || base.ends_with(".0")
        || base.ends_with(".com")
        || base.starts_with("undionly")
    {
        return Some(Named::Bios);
    }
    base.ends_with(".pxe").then_some(Named::Pxe)
}

/// Whether `file` may be an iPXE build by its name: iPXE's own names (`ipxe.efi`,
/// `snponly.efi`, `undionly.kpxe`, netboot.xyz's builds) or a UEFI binary whose name does
/// not say it is another loader (GRUB, shim, rEFInd, syslinux, a kernel).
pub fn could_be_ipxe(file: &str) -> bool {
    let f = file.to_ascii_lowercase();
    let base = f.rsplit('/').next().unwrap_or(&f);
    if ["ipxe", "snp", "undionly", "netboot.xyz", "kpxe"]
        .iter()
        .any(|n| base.contains(n))
    {
        return true;
    }
    base.ends_with(".efi")
        && ![
            "grub", "shim", "refind", "syslinux", "vmlinuz", "linux", "mm",
        ]
        .iter()
        .any(|n| base.contains(n))
}

/// Why `kind` cannot run `file`, judged by its name; `None` when the name fits or says
/// nothing.
pub fn mismatch(kind: Firmware, file: &str) -> Option<String> {
    let named = named(file)?;
    let (efi, arch) = match kind {
        Firmware::UefiX64 | Firmware::UefiHttp | Firmware::IpxeEfi => (true, EfiArch::X64),
        Firmware::UefiIa32 => (true, EfiArch::Ia32),
        Firmware::UefiArm64 => (true, EfiArch::Aa64),
        Firmware::Bios | Firmware::IpxeBios => (false, EfiArch::X64),
    };
    let ipxe = matches!(kind, Firmware::IpxeEfi | Firmware::IpxeBios);
    match named {
        Named::Efi(_) if !efi => Some(format!(
            "{file} is a UEFI binary by its name; BIOS PXE cannot run it (give this firmware \
             undionly.kpxe or pxelinux.0)"
        )),
        Named::Efi(Some(a)) if a != arch => Some(format!(
            "{file} is a UEFI binary for {} by its name; this firmware runs only {} binaries",
            a.name(),
            arch.name()
        )),
        Named::Bios if efi => Some(format!(
            "{file} is a BIOS PXE program by its name; UEFI firmware cannot run it"
        )),
        // iPXE fetches scripts with any name; EDK2's PXE runs only PE images.
        Named::Pxe if efi && !ipxe => Some(format!(
            "{file} is a BIOS PXE program by its name (.pxe); UEFI firmware cannot run it"
        )),
        _ => None,
    }
}

/// Which class, subnet or global setting gave `file` to a client in `classes` (Kea takes the
/// first class with the field, then the subnet, then the globals: Dhcpv4Srv::setFixedFields
/// and the option lookup order), as "class 'X' at file:line" or "subnet P at file:line".
pub fn source(config: &Config, classes: &[String], file: &str) -> String {
    let gives = |boot: &Option<String>, options: &[netbootd::kea::model::OptionData]| {
        boot.as_deref() == Some(file) || options.iter().any(|o| o.code == 67 && o.text == file)
    };
    let short = |f: &str| f.rsplit('/').next().unwrap_or(f).to_string();
    for name in classes {
        if let Some(c) = config
            .classes
            .iter()
            .find(|c| &c.name == name && gives(&c.boot_file_name, &c.options))
        {
            return format!(
                "class '{}' at {}:{}",
                c.name,
                short(&c.span.file),
                c.span.start.line
            );
        }
    }
    if let Some(s) = config
        .subnets
        .iter()
        .find(|s| gives(&s.scope.boot_file_name, &s.scope.options))
    {
        return format!(
            "subnet {} at {}:{}",
            s.prefix,
            short(&s.span.file),
            s.span.start.line
        );
    }
    "the global boot-file-name or option 67".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_what_runs_them() {
        assert_eq!(named("undionly.kpxe"), Some(Named::Bios));
        assert_eq!(named("pxelinux.0"), Some(Named::Bios));
        assert_eq!(named("netboot.xyz.kpxe"), Some(Named::Bios));
        assert_eq!(named("refind.pxe"), Some(Named::Pxe));
        assert_eq!(
            named("EFI/debian/grubx64.efi"),
            Some(Named::Efi(Some(EfiArch::X64)))
        );
        assert_eq!(
            named("netboot.xyz-arm64.efi"),
            Some(Named::Efi(Some(EfiArch::Aa64)))
        );
        assert_eq!(
            named("bin-i386-efi/ipxe.efi"),
            Some(Named::Efi(Some(EfiArch::Ia32)))
        );
        assert_eq!(
            named("grubnetx64.efi.signed"),
            Some(Named::Efi(Some(EfiArch::X64)))
        );
        assert_eq!(named("ipxe.efi"), Some(Named::Efi(None)));
        assert_eq!(named("http://10.0.0.1/boot.ipxe"), None);
        assert_eq!(named("uImage"), None);
    }

    #[test]
    fn mismatches_name_the_firmware_side() {
        assert!(mismatch(Firmware::Bios, "grubx64.efi")
            .is_some_and(|m| m.contains("BIOS PXE cannot run it")));
        assert!(mismatch(Firmware::IpxeEfi, "undionly.kpxe")
            .is_some_and(|m| m.contains("UEFI firmware cannot run it")));
        assert!(mismatch(Firmware::UefiArm64, "shimx64.efi")
            .is_some_and(|m| m
                .contains("a UEFI binary for x64 by its name; this firmware runs only AArch64")));
        // The guide: iPXE EFI fetches its script refind.pxe.
        assert_eq!(mismatch(Firmware::IpxeEfi, "refind.pxe"), None);
        assert!(mismatch(Firmware::UefiX64, "refind.pxe").is_some());
        assert_eq!(mismatch(Firmware::UefiX64, "ipxe.efi"), None);
        assert_eq!(mismatch(Firmware::Bios, "pxelinux.0"), None);
        assert_eq!(mismatch(Firmware::IpxeBios, "boot.ipxe"), None);
    }

    #[test]
    fn only_names_that_may_be_ipxe_make_a_loop() {
        assert!(could_be_ipxe("ipxe.efi"));
        assert!(could_be_ipxe("netboot.xyz.efi"));
        assert!(could_be_ipxe("bin-x86_64-efi/snponly.efi"));
        assert!(could_be_ipxe("boot.efi"));
        assert!(!could_be_ipxe("uefi/grubx64.efi"));
        assert!(!could_be_ipxe("shimx64.efi"));
        assert!(!could_be_ipxe("uImage"));
        assert!(!could_be_ipxe("pxelinux.0"));
    }
}
