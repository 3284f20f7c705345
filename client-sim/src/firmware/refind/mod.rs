//! rEFInd started by iPXE: its config read from iPXE's volume (firmware.md C.1), the loader
//! scan over the client's disks (refind/scan.c `ScanForBootloaders`, `ScanEfiFiles`; C.4,
//! C.5), `default_selection` and `timeout` (C.6), and the launch with its console lines
//! (C.7). rEFInd never touches the network, so this is a plain function of its inputs.

pub mod config;

use std::time::Duration;

use netbootd::time::Instant;

use serde::Serialize;

use crate::disk::{Disk, Volume};
use crate::identify::{identify, Image, Machine};
use config::RefindConfig;

/// A menu entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// `Boot EFI\debian\grubx64.efi from ESP` (rEFInd adds a trailing space).
    pub title: String,
    /// Index of the disk in the client's disk list.
    pub disk: usize,
    pub disk_name: String,
    pub volume: String,
    pub path: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
    pub options: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RefindEnd {
    /// The loader was started.
    Booted { entry: Entry },
    /// The firmware refused the loader (wrong architecture, not an EFI image).
    LoadFailed { entry: Entry, error: String },
    /// Nothing to boot: the menu has no loader entries.
    NoLoaders,
    /// The menu waits for a key (timeout 0, or nothing matched default_selection with no
    /// timeout).
    WaitingAtMenu { reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct RefindRun {
    pub console: Vec<(Instant, String)>,
    pub entries: Vec<Entry>,
    pub config: RefindConfig,
    pub end: RefindEnd,
    /// Virtual time spent (the timeout countdown).
    pub elapsed: Duration,
}

/// `IsValidLoader`: MZ and a PE signature within the first 4096 bytes.
fn is_loader(bytes: &[u8]) -> bool {
    if bytes.len() < 0x40 || &bytes[..2] != b"MZ" {
        return false;
    }
    let at = u32::from_le_bytes([bytes[0x3c], bytes[0x3d], bytes[0x3e], bytes[0x3f]]) as usize;
    at < 4096 && bytes.get(at..at + 4) == Some(b"PE\0\0")
}

fn skipped_name(name: &str, config: &RefindConfig) -> bool {
    name.starts_with('.')
        || config.dont_scan_files.iter().any(|f| {
            f.rsplit('\\')
                .next()
                .unwrap_or(f)
                .eq_ignore_ascii_case(name)
        })
}

fn is_efi_name(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".efi")
}

/// `ScanEfiFiles` on one volume.
fn scan_volume(
    disk_index: usize,
    disk: &Disk,
    volume: &Volume,
    config: &RefindConfig,
) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let add = |path: String, bytes: &[u8], entries: &mut Vec<Entry>| {
        entries.push(Entry {
            title: format!("Boot {path} from {}", volume.label),
            disk: disk_index,
            disk_name: disk.name.clone(),
            volume: volume.label.clone(),
            path,
            bytes: bytes.to_vec(),
            options: None,
        });
    };
    let dir_skipped = |dir: &str| {
        config.dont_scan_dirs.iter().any(|d| {
            d.rsplit(':')
                .next()
                .unwrap_or(d)
                .trim_start_matches('\\')
                .eq_ignore_ascii_case(dir)
        }) || dir.eq_ignore_ascii_case("EFI\\tools")
    };
    // Windows first: bkpbootmgfw.efi, then bootmgfw.efi.
    for name in ["bkpbootmgfw.efi", "bootmgfw.efi"] {
        let path = format!("EFI\\Microsoft\\Boot\\{name}");
        if let Some(b) = volume.get(&path) {
            if is_loader(b) {
                add(path, b, &mut entries);
                break;
            }
        }
    }
    // The root, then each EFI\<dir> but tools and BOOT (handled last).
    let mut dirs = vec![String::new()];
    dirs.extend(
        volume
            .dirs_in("EFI")
            .into_iter()
            .filter(|d| !d.eq_ignore_ascii_case("BOOT") && !d.eq_ignore_ascii_case("Microsoft"))
            .map(|d| format!("EFI\\{d}")),
    );
    for dir in dirs {
        if dir_skipped(&dir) {
            continue;
        }
        for (name, bytes) in volume.files_in(&dir) {
            if !is_efi_name(name) || skipped_name(name, config) || !is_loader(bytes) {
                continue;
            }
            let path = if dir.is_empty() {
                name.to_string()
            } else {
                format!("{dir}\\{name}")
            };
            add(path, bytes, &mut entries);
        }
    }
    // also_scan_dirs: Linux kernels (vmlinuz*, bzImage*, kernel*) with an EFI stub.
    if config.scan_all_linux_kernels {
        for dir in &config.also_scan_dirs {
            let dir = dir.trim_start_matches('@').trim_start_matches('\\');
            for (name, bytes) in volume.files_in(dir) {
                let lower = name.to_ascii_lowercase();
                let kernel = ["vmlinuz", "bzimage", "kernel"]
                    .iter()
                    .any(|p| lower.starts_with(p));
                if kernel && is_loader(bytes) {
                    add(format!("{dir}\\{name}"), bytes, &mut entries);
                }
            }
        }
    }
    // The fallback loader, unless it is byte-identical to one already listed. rEFInd titles
    // it "Fallback boot loader" (scan.c ScanEfiFiles: `AddLoaderEntry(FALLBACK_FULLNAME,
    // L"Fallback boot loader", Volume, TRUE)`; OBSERVED with 0.13.2 under QEMU:
    // "Boot Fallback boot loader from ESP").
    if let Some(b) = volume.get("EFI\\BOOT\\bootx64.efi") {
        if is_loader(b) && !entries.iter().any(|e| e.bytes == b) {
            add("EFI\\BOOT\\bootx64.efi".into(), b, &mut entries);
            if let Some(e) = entries.last_mut() {
                e.title = format!("Boot Fallback boot loader from {}", volume.label);
            }
        }
    }
    entries
}

/// Runs rEFInd: `config` is the refind.conf beside it (None: missing), `machine` its own
/// architecture (a loader for another one fails to start).
pub fn run(config: Option<&[u8]>, disks: &[Disk], machine: Machine) -> RefindRun {
    let mut console = Vec::new();
    let mut now = Instant::ZERO;
    let mut say = |at: Instant, text: String| console.push((at, text));
    say(now, "rEFInd - Initializing...".into());
    let config = match config {
        Some(bytes) => config::parse(bytes),
        None => {
            say(now, "Configuration file 'refind.conf' missing!".into());
            RefindConfig::default()
        }
    };
    let mut entries = Vec::new();
    for kind in &config.scanfor {
        match kind {
            'i' | 'e' => {
                let internal = *kind == 'i';
                for (index, disk) in disks
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| d.internal == internal)
                {
                    for volume in &disk.volumes {
                        if config
                            .dont_scan_volumes
                            .iter()
                            .any(|v| v.eq_ignore_ascii_case(&volume.label))
                        {
                            continue;
                        }
                        entries.extend(scan_volume(index, disk, volume, &config));
                    }
                }
            }
            'm' => {
                for s in config.stanzas.iter().filter(|s| !s.disabled) {
                    let found = disks.iter().enumerate().find_map(|(i, d)| {
                        d.volumes
                            .iter()
                            .filter(|v| {
                                s.volume
                                    .as_ref()
                                    .is_none_or(|want| v.label.eq_ignore_ascii_case(want))
                            })
                            .find_map(|v| {
                                let loader = s.loader.as_deref()?;
                                v.get(loader).map(|b| (i, d, v, b))
                            })
                    });
                    if let Some((i, d, v, b)) = found {
                        entries.push(Entry {
                            title: format!("Boot {} from {}", s.title, v.label),
                            disk: i,
                            disk_name: d.name.clone(),
                            volume: v.label.clone(),
                            path: crate::disk::normalize(s.loader.as_deref().unwrap_or("")),
                            bytes: b.to_vec(),
                            options: s.options.clone(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    say(now, "rEFInd - Main Menu".into());
    for e in &entries {
        say(now, format!("  {}", e.title));
    }
    let done = |console, entries, config, end, now: Instant| RefindRun {
        console,
        entries,
        config,
        end,
        elapsed: now.since_origin(),
    };
    if entries.is_empty() {
        return done(console, entries, config, RefindEnd::NoLoaders, now);
    }
    // default_selection: a digit is a shortcut (first nine entries), longer text a
    // case-insensitive substring of a title; `+` is the previous boot, unset here.
    let chosen = config
        .default_selection
        .iter()
        .find_map(|sel| {
            if sel == "+" {
                return Some(0);
            }
            if sel.len() == 1 {
                let d = sel.chars().next()?.to_digit(10)? as usize;
                return (1..=9)
                    .contains(&d)
                    .then(|| d - 1)
                    .filter(|i| *i < entries.len());
            }
            entries
                .iter()
                .position(|e| e.title.to_lowercase().contains(&sel.to_lowercase()))
        })
        .unwrap_or(0);
    match config.timeout {
        0 => {
            let end = RefindEnd::WaitingAtMenu {
                reason: "timeout 0: rEFInd waits for a key".into(),
            };
            return done(console, entries, config, end, now);
        }
        t if t > 0 => {
            for left in (0..=t).rev() {
                say(now, format!("Automatic boot in {left} seconds"));
                if left > 0 {
                    now += Duration::from_secs(1);
                }
            }
        }
        _ => {}
    }
    let entry = entries[chosen].clone();
    say(now, "rEFInd - Booting OS".into());
    let name = entry
        .path
        .rsplit('\\')
        .next()
        .unwrap_or(&entry.path)
        .to_string();
    say(now, format!("Starting {name}"));
    if let Some(o) = &entry.options {
        say(now, format!("Using load options '{o}'"));
    }
    let fits = matches!(identify(&entry.bytes), Image::Efi { machine: m, .. } if m == machine);
    let end = if fits {
        RefindEnd::Booted { entry }
    } else {
        say(now, format!("Error: Unsupported while loading {name}"));
        RefindEnd::LoadFailed {
            entry,
            error: "Unsupported".into(),
        }
    };
    done(console, entries, config, end, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identify::synthetic::loader;

    fn debian_disk() -> Disk {
        Disk {
            name: "disk0".into(),
            internal: true,
            volumes: vec![Volume::new("ESP")
                .with_file("EFI/debian/shimx64.efi", loader(0x8664, "shim"))
                .with_file("EFI/debian/grubx64.efi", loader(0x8664, "grub"))
                .with_file("EFI/debian/grub.cfg", b"set root".to_vec())
                .with_file("EFI/BOOT/bootx64.efi", loader(0x8664, "shim"))],
        }
    }

    #[test]
    fn the_guides_config_boots_grub_from_the_internal_disk() {
        let run = run(
            Some(include_bytes!("../../../../fixtures/seed/refind.conf")),
            &[debian_disk()],
            Machine::X64,
        );
        let RefindEnd::Booted { entry } = &run.end else {
            panic!("{:?}", run.end)
        };
        assert_eq!(entry.path, "EFI\\debian\\grubx64.efi");
        assert_eq!(entry.disk, 0);
        // shimx64.efi is in dont_scan_files; bootx64.efi is a copy of shim, which was not
        // listed, so the fallback entry is listed too.
        let titles: Vec<&str> = run.entries.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Boot EFI\\debian\\grubx64.efi from ESP",
                "Boot Fallback boot loader from ESP"
            ]
        );
        assert_eq!(run.elapsed, Duration::from_secs(1));
    }

    #[test]
    fn wrong_architecture_and_empty_disks_fail_as_refind_reports() {
        let arm = Disk {
            name: "disk0".into(),
            internal: true,
            volumes: vec![
                Volume::new("ESP").with_file("EFI/debian/grubaa64.efi", loader(0xaa64, "grub"))
            ],
        };
        let r = run(Some(b"timeout 1\nscanfor internal\n"), &[arm], Machine::X64);
        assert!(matches!(r.end, RefindEnd::LoadFailed { .. }));
        assert_eq!(
            r.console.last().unwrap().1,
            "Error: Unsupported while loading grubaa64.efi"
        );
        let r = run(Some(b"scanfor internal\n"), &[], Machine::X64);
        assert_eq!(r.end, RefindEnd::NoLoaders);
        // External disks are not scanned by `scanfor internal`.
        let mut usb = debian_disk();
        usb.internal = false;
        assert_eq!(
            run(Some(b"scanfor internal\n"), &[usb], Machine::X64).end,
            RefindEnd::NoLoaders
        );
    }
}
