//! What a downloaded file is, judged by its content as firmware would judge it, never by name.
//!
//! - EFI images: PE/COFF with the machine type and subsystem EDK2's loader checks
//!   (MdePkg/Library/BasePeCoffLib: `PeCoffLoaderGetImageInfo`; an image for another machine
//!   fails with EFI_UNSUPPORTED before it runs).
//! - iPXE builds carry their own strings ("iPXE", `PXEClient:Arch:` templates, ipxe.org error
//!   links); rEFInd carries UTF-16 "rEFInd" strings (it is built with CHAR16 literals).
//! - iPXE scripts start with `#!ipxe` (or `#!gpxe`) and a whitespace byte (`script_probe`,
//!   src/image/script.c; firmware.md B.7).
//! - A BIOS NBP (undionly.kpxe) is raw real-mode code with no header at all.

/// PE/COFF `Machine` values (IMAGE_FILE_MACHINE_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Machine {
    Ia32,
    X64,
    Arm,
    Aarch64,
    RiscV64,
    Other(u16),
}

impl Machine {
    fn from_coff(m: u16) -> Self {
        match m {
            0x014c => Machine::Ia32,
            0x8664 => Machine::X64,
            0x01c2 => Machine::Arm,
            0xaa64 => Machine::Aarch64,
            0x5064 => Machine::RiscV64,
            other => Machine::Other(other),
        }
    }

    /// The UEFI file-name suffix for this machine (`BOOTX64.EFI`, `refind_x64.efi`...).
    pub fn efi_suffix(self) -> &'static str {
        match self {
            Machine::Ia32 => "ia32",
            Machine::X64 => "x64",
            Machine::Arm => "arm",
            Machine::Aarch64 => "aa64",
            Machine::RiscV64 => "riscv64",
            Machine::Other(_) => "unknown",
        }
    }
}

/// Which program an image is, when we recognise it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Program {
    Ipxe,
    Refind,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Image {
    /// A PE/COFF image with subsystem EFI application (10), boot or runtime driver (11, 12).
    Efi {
        machine: Machine,
        subsystem: u16,
        program: Program,
    },
    /// A PE/COFF image that is not an EFI one (a Windows program, say).
    Pe { machine: Machine, subsystem: u16 },
    /// An iPXE script (`#!ipxe`).
    IpxeScript,
    /// Something else: for BIOS PXE, any file is run as real-mode code.
    Raw { program: Program },
}

/// EFI subsystems (IMAGE_SUBSYSTEM_EFI_*).
const EFI_SUBSYSTEMS: [u16; 4] = [10, 11, 12, 13];

impl Image {
    /// What the file is, in the words `bootsim boot` and `bootsim audit` print (`x86_64 EFI,
    /// iPXE`, `iPXE script`, `text`, ...); `bytes` is what is kept of it, to tell text.
    pub fn describe(&self, bytes: &[u8]) -> String {
        match self {
            Image::Efi {
                machine, program, ..
            } => {
                let arch = match machine {
                    Machine::X64 => "x86_64",
                    Machine::Ia32 => "IA32",
                    Machine::Aarch64 => "AArch64",
                    Machine::Arm => "ARM",
                    Machine::RiscV64 => "RISC-V",
                    Machine::Other(_) => "unknown-arch",
                };
                let what = match program {
                    Program::Ipxe => "iPXE",
                    Program::Refind => "rEFInd",
                    Program::Unknown => "EFI application",
                };
                format!("{arch} EFI, {what}")
            }
            Image::IpxeScript => "iPXE script".into(),
            Image::Pe { .. } => "PE image, not EFI".into(),
            Image::Raw {
                program: Program::Ipxe,
            } => "BIOS iPXE".into(),
            Image::Raw { .. }
                if bytes
                    .iter()
                    .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace()) =>
            {
                "text".into()
            }
            Image::Raw { .. } => "raw".into(),
        }
    }
}

/// Identifies `bytes`. Never fails: what is not recognised is `Raw`.
pub fn identify(bytes: &[u8]) -> Image {
    let mut signatures = Signatures::default();
    signatures.scan(bytes);
    identify_streamed(bytes, &signatures)
}

/// The program signatures, found anywhere in a file seen block by block.
#[derive(Debug, Clone, Default)]
pub struct Signatures {
    found: [bool; 5],
    /// The product version after a "1.0.0+git-" signature, read up to its NUL (it may
    /// straddle two blocks).
    version: Option<Vec<u8>>,
    version_done: bool,
    /// The last bytes of the previous block, so a signature split across blocks is seen.
    carry: Vec<u8>,
}

/// iPXE's `PXEClient:Arch:` template and its `ipxe.org/` error links; the BIOS build's PXE
/// prefix string; rEFInd's UTF-16 name; the product version of iPXE builds from before its
/// first numbered release (v1.20.1, 2020): "1.0.0+git-20190125.36a4c85-5.1" in Debian 12.
const SIGNATURES: [&[u8]; 5] = [
    b"PXEClient:Arch:",
    b"ipxe.org/",
    b"PXE->EB:",
    b"r\0E\0F\0I\0n\0d\0",
    b"1.0.0+git-",
];

/// One searcher per signature, built once (building one per block cost more than the
/// search).
fn finders() -> &'static [memchr::memmem::Finder<'static>] {
    static FINDERS: std::sync::OnceLock<Vec<memchr::memmem::Finder<'static>>> =
        std::sync::OnceLock::new();
    FINDERS.get_or_init(|| {
        SIGNATURES
            .iter()
            .map(|s| memchr::memmem::Finder::new(*s))
            .collect()
    })
}

/// The longest signature's length.
const fn longest_signature() -> usize {
    let mut i = 0;
    let mut n = 1;
    while i < SIGNATURES.len() {
        if SIGNATURES[i].len() > n {
            n = SIGNATURES[i].len();
        }
        i += 1;
    }
    n
}

impl Signatures {
    /// Scans the next block. Signatures are searched in the block itself and in the seam
    /// (the previous block's last bytes and this one's first), so a block is never copied
    /// (ten thousand machines scan every block they download).
    pub fn scan(&mut self, block: &[u8]) {
        const LONGEST: usize = longest_signature();
        if let Some(v) = self.version.as_mut().filter(|_| !self.version_done) {
            // The rest of a version string cut by the previous block.
            let end = block.iter().position(|b| !b.is_ascii_graphic());
            v.extend_from_slice(&block[..end.unwrap_or(block.len())]);
            self.version_done = end.is_some() || v.len() >= 64;
        }
        let head = &block[..block.len().min(LONGEST - 1)];
        let mut seam = [0u8; 2 * LONGEST];
        let seam_len = self.carry.len() + head.len();
        seam[..self.carry.len()].copy_from_slice(&self.carry);
        seam[self.carry.len()..seam_len].copy_from_slice(head);
        let seam = &seam[..seam_len];
        for (i, sig) in SIGNATURES.iter().enumerate() {
            if self.found[i] {
                continue;
            }
            // The first occurrence: one across the seam comes before any inside the block.
            let finder = &finders()[i];
            debug_assert_eq!(finder.needle(), *sig);
            let at = if let Some(at) = finder.find(seam) {
                Some(at)
            } else {
                finder.find(block).map(|at| at + self.carry.len())
            };
            let Some(at) = at else { continue };
            self.found[i] = true;
            if i == 4 {
                // Rare (once a file): the version is read from carry and block together.
                let mut window = self.carry.clone();
                window.extend_from_slice(block);
                let tail = &window[at..];
                let end = tail.iter().position(|b| !b.is_ascii_graphic());
                self.version = Some(tail[..end.unwrap_or(tail.len()).min(64)].to_vec());
                self.version_done = end.is_some_and(|e| e <= 64);
            }
        }
        let keep = LONGEST - 1;
        if block.len() >= keep {
            self.carry.clear();
            self.carry.extend_from_slice(&block[block.len() - keep..]);
        } else {
            self.carry.extend_from_slice(block);
            let extra = self.carry.len().saturating_sub(keep);
            self.carry.drain(..extra);
        }
    }

    /// An iPXE build from before v1.20 (version "1.0.0+"): its IPv6 configurator backs off
    /// from 1/4 s to 10 s (src/net/ndp.c `ipv6conf` with retry.c's defaults), where builds
    /// since October 2020 use 1/8 s to 3 s (`IPV6CONF_MIN/MAX_TIMEOUT`).
    pub fn legacy_ipxe(&self) -> bool {
        self.program() == Program::Ipxe && self.found[4]
    }

    /// The product version of a pre-v1.20 iPXE build ("1.0.0+git-20190125.36a4c85-5.1").
    pub fn ipxe_version(&self) -> Option<String> {
        if !self.legacy_ipxe() {
            return None;
        }
        Some(String::from_utf8_lossy(self.version.as_deref()?).into_owned())
    }

    fn program(&self) -> Program {
        // A BIOS build's body is compressed; its PXE prefix (src/arch/x86/prefix/pxeprefix.S)
        // is not, and prints "PXE->EB:".
        if (self.found[0] && self.found[1]) || self.found[2] {
            Program::Ipxe
        } else if self.found[3] {
            Program::Refind
        } else {
            Program::Unknown
        }
    }
}

/// Identifies a file from its start (PE headers, a script's magic) and the signatures seen
/// anywhere in it.
pub fn identify_streamed(head: &[u8], signatures: &Signatures) -> Image {
    if is_ipxe_script(head) {
        return Image::IpxeScript;
    }
    if head.starts_with(b"MZ") {
        // The headers only (EDK2's PeCoffLoaderGetImageInfo reads no further to decide).
        if let Ok(h) = goblin::pe::header::Header::parse(head) {
            let machine = Machine::from_coff(h.coff_header.machine);
            let subsystem = h
                .optional_header
                .map(|o| o.windows_fields.subsystem)
                .unwrap_or(0);
            if EFI_SUBSYSTEMS.contains(&subsystem) {
                return Image::Efi {
                    machine,
                    subsystem,
                    program: signatures.program(),
                };
            }
            return Image::Pe { machine, subsystem };
        }
    }
    Image::Raw {
        program: signatures.program(),
    }
}

/// `#!ipxe` or `#!gpxe` followed by a whitespace byte.
pub fn is_ipxe_script(bytes: &[u8]) -> bool {
    bytes.len() > 6
        && (bytes.starts_with(b"#!ipxe") || bytes.starts_with(b"#!gpxe"))
        && bytes[6].is_ascii_whitespace()
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Tiny synthetic images for tests and scenarios: real PE/COFF headers that [`identify`]
/// (and goblin) accept, with the strings that mark iPXE and rEFInd builds.
pub mod synthetic {
    use super::utf16;

    /// The smallest PE32+ header goblin accepts: DOS stub pointer, COFF header, optional
    /// header with the subsystem, no sections.
    pub fn tiny_pe(machine: u16, subsystem: u16, extra: &[u8]) -> Vec<u8> {
        // goblin wants the PE header past a DOS stub, as real linkers put it.
        let mut b = vec![0u8; 0x80];
        b[0..2].copy_from_slice(b"MZ");
        b[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        b.extend_from_slice(b"PE\0\0");
        let opt_size: u16 = 240;
        b.extend_from_slice(&machine.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes()); // sections
        b.extend_from_slice(&[0; 12]);
        b.extend_from_slice(&opt_size.to_le_bytes());
        b.extend_from_slice(&0x0022u16.to_le_bytes()); // characteristics
        let mut opt = vec![0u8; opt_size as usize];
        opt[0..2].copy_from_slice(&0x20bu16.to_le_bytes());
        opt[32..36].copy_from_slice(&0x1000u32.to_le_bytes()); // section alignment
        opt[36..40].copy_from_slice(&0x200u32.to_le_bytes()); // file alignment
        opt[56..60].copy_from_slice(&0x1000u32.to_le_bytes()); // size of image
        opt[60..64].copy_from_slice(&0x200u32.to_le_bytes()); // size of headers
        opt[68..70].copy_from_slice(&subsystem.to_le_bytes());
        opt[108..112].copy_from_slice(&16u32.to_le_bytes()); // data directories
        b.extend_from_slice(&opt);
        b.resize(0x200, 0);
        b.extend_from_slice(extra);
        b
    }

    /// An x86_64 (or other machine) iPXE EFI build.
    pub fn ipxe_efi(machine: u16) -> Vec<u8> {
        tiny_pe(
            machine,
            10,
            b"PXEClient:Arch:00007:UNDI:003010\0https://ipxe.org/%08x",
        )
    }

    /// A rEFInd EFI build.
    pub fn refind_efi(machine: u16) -> Vec<u8> {
        tiny_pe(machine, 10, &utf16("rEFInd - Initializing..."))
    }

    /// Some OS loader (grubx64.efi, shimx64.efi...), distinguished by `tag`.
    pub fn loader(machine: u16, tag: &str) -> Vec<u8> {
        tiny_pe(machine, 10, tag.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::synthetic::tiny_pe;
    use super::*;

    #[test]
    fn efi_machine_and_subsystem() {
        let img = identify(&tiny_pe(0xaa64, 10, b""));
        assert_eq!(
            img,
            Image::Efi {
                machine: Machine::Aarch64,
                subsystem: 10,
                program: Program::Unknown
            }
        );
        assert!(matches!(
            identify(&tiny_pe(0x8664, 3, b"")),
            Image::Pe { subsystem: 3, .. }
        ));
    }

    #[test]
    fn programs_by_their_strings() {
        let ipxe = tiny_pe(
            0x8664,
            10,
            b"PXEClient:Arch:00007:UNDI:003010\0https://ipxe.org/%08x",
        );
        assert!(matches!(
            identify(&ipxe),
            Image::Efi {
                program: Program::Ipxe,
                ..
            }
        ));
        let refind = tiny_pe(0x8664, 10, &utf16("rEFInd - Initializing..."));
        assert!(matches!(
            identify(&refind),
            Image::Efi {
                program: Program::Refind,
                ..
            }
        ));
    }

    #[test]
    fn scripts_need_whitespace_after_the_magic() {
        assert_eq!(identify(b"#!ipxe\necho hi\n"), Image::IpxeScript);
        assert_eq!(identify(b"#!gpxe echo"), Image::IpxeScript);
        assert!(matches!(identify(b"#!ipxeecho"), Image::Raw { .. }));
        assert!(matches!(identify(b"MZ garbage"), Image::Raw { .. }));
        assert!(matches!(identify(b""), Image::Raw { .. }));
    }
}
