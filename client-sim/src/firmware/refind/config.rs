//! refind.conf as rEFInd reads it (refind/config.c `ReadConfig`, `ReadTokenLine`,
//! `KeepReading`, `HandleBoolean/Int/String/Strings`; firmware.md C.2, C.3).
//!
//! rEFInd silently ignores what it does not understand; bootsim reads the same way and
//! reports each such line as a lint, with its line number, so an operator sees why a
//! setting "does nothing".

/// A lint: a line rEFInd reads differently from what its author probably meant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Lint {
    pub line: usize,
    pub message: String,
}

/// A `menuentry` stanza (manual boot entry).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Stanza {
    pub title: String,
    pub volume: Option<String>,
    pub loader: Option<String>,
    pub options: Option<String>,
    pub disabled: bool,
    pub line: usize,
}

/// The settings the boot path depends on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefindConfig {
    pub timeout: i64,
    /// `scanfor` first letters, in order: i e o n m h b c f.
    pub scanfor: Vec<char>,
    pub default_selection: Vec<String>,
    pub dont_scan_volumes: Vec<String>,
    pub dont_scan_dirs: Vec<String>,
    pub dont_scan_files: Vec<String>,
    pub also_scan_dirs: Vec<String>,
    pub scan_all_linux_kernels: bool,
    pub textonly: bool,
    pub shutdown_after_timeout: bool,
    pub stanzas: Vec<Stanza>,
    pub lints: Vec<Lint>,
}

impl Default for RefindConfig {
    fn default() -> Self {
        RefindConfig {
            timeout: 20,
            // Non-Mac default (config.c: `ieom`).
            scanfor: vec!['i', 'e', 'o', 'm'],
            default_selection: vec!["+".into()],
            dont_scan_volumes: vec!["LRS_ESP".into()],
            dont_scan_dirs: Vec::new(),
            dont_scan_files: default_dont_scan_files(),
            also_scan_dirs: vec!["boot".into(), "@/boot".into()],
            scan_all_linux_kernels: true,
            textonly: false,
            shutdown_after_timeout: false,
            stanzas: Vec::new(),
            lints: Vec::new(),
        }
    }
}

/// Default dont_scan_files for x64 (global.h, HEAD): shims, MOK tools, fwupd, memtest,
/// shells.
fn default_dont_scan_files() -> Vec<String> {
    [
        "shim.efi",
        "shim-fedora.efi",
        "shim-centos.efi",
        "shimx64.efi",
        "PreLoader.efi",
        "fbx64.efi",
        "MokManager.efi",
        "HashTool.efi",
        "HashTool-signed.efi",
        "KeyTool.efi",
        "KeyTool-signed.efi",
        "mmx64.efi",
        "fwupx64.efi",
        "memtest86.efi",
        "memtest86x64.efi",
        "bootx64.efi",
        "shell.efi",
        "shellx64.efi",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Booleans, integers, strings and lists rEFInd knows (C.3), for the lint.
const BOOLEANS: &[&str] = &[
    "shutdown_after_timeout",
    "use_nvram",
    "follow_symlinks",
    "support_gzipped_loaders",
    "uefi_deep_legacy_scan",
    "scan_all_linux_kernels",
    "fold_linux_kernels",
    "textonly",
    "enable_and_lock_vmx",
    "write_systemd_vars",
    "enable_mouse",
    "enable_touch",
];
const INTEGERS: &[&str] = &[
    "timeout",
    "small_icon_size",
    "big_icon_size",
    "mouse_size",
    "textmode",
    "screensaver",
    "max_tags",
    "log_level",
    "scan_delay",
    "mouse_speed",
];
const STRINGS: &[&str] = &[
    "icons_dir",
    "banner",
    "selection_small",
    "selection_big",
    "font",
    "spoof_osx_version",
    "banner_scale",
    "include",
];
const LISTS: &[&str] = &[
    "also_scan_dirs",
    "dont_scan_volumes",
    "don't_scan_volumes",
    "dont_scan_dirs",
    "dont_scan_files",
    "dont_scan_firmware",
    "also_scan_tool_dirs",
    "dont_scan_tools",
    "windows_recovery_files",
    "scan_driver_dirs",
    "linux_prefixes",
    "extra_kernel_version_strings",
    "showtools",
    "use_graphics_for",
    "csr_values",
    "hideui",
    "scanfor",
    "default_selection",
    "resolution",
];
const HIDEUI: &[&str] = &[
    "banner",
    "label",
    "singleuser",
    "hwtest",
    "arrows",
    "hints",
    "editor",
    "safemode",
    "badges",
    "all",
];

/// Decodes the file: UTF-16LE with a BOM, else Latin-1 (a UTF-8 BOM is read as Latin-1).
fn decode(bytes: &[u8]) -> String {
    if bytes.starts_with(&[0xff, 0xfe]) {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    bytes.iter().map(|b| char::from(*b)).collect()
}

/// One line's tokens: separators space, tab, `=` and `,` outside quotes; `"` toggles quoting
/// and `""` inside quotes is a literal quote; `#` outside quotes ends the line; an unquoted
/// `/` becomes `\`.
pub fn tokenize(line: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut any = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            '"' => {
                quoted = !quoted;
                any = true;
            }
            '#' if !quoted => break,
            ' ' | '\t' | '=' | ',' if !quoted => {
                if any || !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                    any = false;
                }
            }
            '/' if !quoted => current.push('\\'),
            c => current.push(c),
        }
    }
    if any || !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

fn boolean(args: &[String]) -> bool {
    !matches!(
        args.first().map(|a| a.to_ascii_lowercase()).as_deref(),
        Some("0" | "false" | "off")
    )
}

/// A list option: a first value `+` adds to the default (HandleStrings).
fn list(default: &[String], args: &[String]) -> Vec<String> {
    match args.first().map(String::as_str) {
        Some("+") => default
            .iter()
            .cloned()
            .chain(args[1..].iter().cloned())
            .collect(),
        _ => args.to_vec(),
    }
}

pub fn parse(bytes: &[u8]) -> RefindConfig {
    let text = decode(bytes);
    let mut c = RefindConfig::default();
    let mut stanza: Option<Stanza> = None;
    let lint =
        |c: &mut RefindConfig, line: usize, message: String| c.lints.push(Lint { line, message });
    // Lines end at LF or CR; numbers count LF-ended lines, as an editor shows them.
    let pieces = text
        .split('\n')
        .enumerate()
        .flat_map(|(i, l)| l.split('\r').map(move |p| (i + 1, p)));
    for (line, raw) in pieces {
        let tokens = tokenize(raw);
        let Some(key) = tokens.first() else { continue };
        let key_lc = key.to_ascii_lowercase();
        let args = &tokens[1..];
        if let Some(s) = stanza.as_mut() {
            match key_lc.as_str() {
                "}" => {
                    c.stanzas.push(stanza.take().expect("in a stanza"));
                }
                "volume" => s.volume = args.first().cloned(),
                "loader" => s.loader = args.first().cloned(),
                "options" => s.options = args.first().cloned(),
                "disabled" => s.disabled = true,
                "initrd" | "icon" | "ostype" | "graphics" | "firmware_bootnum" | "submenuentry"
                | "add_options" => {}
                _ => lint(
                    &mut c,
                    line,
                    format!("'{key}' is not a menuentry token; rEFInd ignores it"),
                ),
            }
            continue;
        }
        match key_lc.as_str() {
            "timeout" => match args {
                [v] => match v.parse::<i64>() {
                    Ok(n) => c.timeout = n,
                    Err(_) => lint(&mut c, line, format!("timeout '{v}' is not a number; rEFInd reads 0")),
                },
                _ => lint(&mut c, line, "timeout needs exactly one value; rEFInd ignores the line".into()),
            },
            "scanfor" => {
                c.scanfor = args
                    .iter()
                    .filter_map(|a| a.chars().next().map(|ch| ch.to_ascii_lowercase()))
                    .take(9)
                    .collect();
                for a in args {
                    let known = ["internal", "external", "optical", "netboot", "manual", "hdbios", "biosexternal", "cd", "firmware"];
                    if !known.iter().any(|k| k.eq_ignore_ascii_case(a)) {
                        lint(&mut c, line, format!("scanfor '{a}': rEFInd only looks at its first letter '{}'", a.chars().next().unwrap_or(' ')));
                    }
                }
            }
            "default_selection" => c.default_selection = args.iter().take(1).cloned().collect(),
            "dont_scan_volumes" | "don't_scan_volumes" => c.dont_scan_volumes = list(&c.dont_scan_volumes.clone(), args),
            "dont_scan_dirs" => c.dont_scan_dirs = list(&c.dont_scan_dirs.clone(), args),
            "dont_scan_files" => c.dont_scan_files = list(&c.dont_scan_files.clone(), args),
            "also_scan_dirs" => c.also_scan_dirs = list(&c.also_scan_dirs.clone(), args),
            "scan_all_linux_kernels" => c.scan_all_linux_kernels = boolean(args),
            "textonly" => c.textonly = boolean(args),
            "shutdown_after_timeout" => c.shutdown_after_timeout = boolean(args),
            "hideui" => {
                for a in args {
                    if !HIDEUI.contains(&a.to_ascii_lowercase().as_str()) {
                        lint(&mut c, line, format!("hideui flag '{a}' is unknown (rEFInd prints \" unknown hideui flag: '{a}'\")"));
                    }
                }
            }
            "banner_scale" => match args.first().map(|a| a.to_ascii_lowercase()) {
                Some(a) if ["noscale", "fillscreen", "fullscreen"].contains(&a.as_str()) => {}
                Some(a) => lint(&mut c, line, format!("banner_scale '{a}' is not noscale, fillscreen or fullscreen; rEFInd ignores it")),
                None => lint(&mut c, line, "banner_scale without a value does nothing (noscale, fillscreen or fullscreen)".into()),
            },
            "menuentry" => {
                stanza = Some(Stanza {
                    title: args.first().cloned().unwrap_or_default(),
                    line,
                    ..Stanza::default()
                });
            }
            k if BOOLEANS.contains(&k) || STRINGS.contains(&k) || LISTS.contains(&k) => {}
            k if INTEGERS.contains(&k) => {
                if args.len() != 1 || args[0].parse::<i64>().is_err() {
                    lint(&mut c, line, format!("{key} needs exactly one number; rEFInd ignores the line"));
                }
            }
            _ => lint(&mut c, line, format!("unknown token '{key}': rEFInd ignores this line")),
        }
    }
    if let Some(s) = stanza {
        lint(
            &mut c,
            s.line,
            format!(
                "menuentry \"{}\" is never closed with '}}'; rEFInd drops it",
                s.title
            ),
        );
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_follow_refind_rules() {
        assert_eq!(
            tokenize("scanfor internal,external"),
            ["scanfor", "internal", "external"]
        );
        assert_eq!(
            tokenize("loader /EFI/debian/grubx64.efi"),
            ["loader", "\\EFI\\debian\\grubx64.efi"]
        );
        assert_eq!(
            tokenize("options \"root=/dev/sda1 quiet\" # c"),
            ["options", "root=/dev/sda1 quiet"]
        );
        assert_eq!(tokenize("title \"a \"\"b\"\"\""), ["title", "a \"b\""]);
    }

    #[test]
    fn the_guides_file_reads_with_one_lint() {
        let c = parse(include_bytes!("../../../../fixtures/seed/refind.conf"));
        assert_eq!(c.timeout, 1);
        assert_eq!(c.scanfor, ['i']);
        assert_eq!(c.default_selection, ["1"]);
        assert!(c.textonly);
        assert_eq!(
            c.lints,
            [Lint {
                line: 6,
                message:
                    "banner_scale without a value does nothing (noscale, fillscreen or fullscreen)"
                        .into()
            }]
        );
    }

    #[test]
    fn unknown_tokens_and_bad_values_are_linted_with_their_line() {
        let c = parse(b"timeout five\r\nunknown_token_here foo\nhideui hints nosuch\nmenuentry \"Debian\" {\n loader /EFI/debian/grubx64.efi\n}\n");
        let lines: Vec<usize> = c.lints.iter().map(|l| l.line).collect();
        assert_eq!(lines, [1, 2, 3]);
        assert_eq!(
            c.stanzas[0].loader.as_deref(),
            Some("\\EFI\\debian\\grubx64.efi")
        );
    }
}
