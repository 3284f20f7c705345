//! iPXE from start to hand-off, sans-IO: the banner and its Ctrl-B wait, `autoboot`
//! (src/usr/autoboot.c: DHCP, `Next server:`/`Filename:`, the download, `imgstat`, exec), and
//! the script interpreter (src/image/script.c, src/core/exec.c, src/hci/commands/*.c) with
//! the commands boot scripts use. It ends when iPXE hands the machine to an EFI image (or a
//! BIOS NBP), returns to the firmware, or stops for input nobody will give.
//!
//! Console strings follow firmware.md B.5 (Debian 12's build: `...ok` banners, `(open)`).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use netbootd::wire::frame::Datagram;

use super::dhcp::{DhcpSession, Lease};
use super::keyboard::{self, Input, Keyboard};
use super::packets::{Build, Identity};
use super::script::{self, OptionSpec, Then};
use super::settings::Settings;
use super::tftp::{FetchError, TftpGet};
use crate::content::Content;
use crate::identify::{Image as Kind, Machine};

/// iPXE's rc values for the errors scripts meet (negative errno, as iPXE returns them).
pub mod rc {
    pub const ENOENT: i32 = -2;
    pub const ENOEXEC: i32 = -8;
    pub const EACCES: i32 = -13;
    pub const EINVAL: i32 = -22;
    pub const ERANGE: i32 = -34;
    pub const ENOTSUP: i32 = -95;
    pub const ETIMEDOUT: i32 = -110;
    pub const ECANCELED: i32 = -125;
}

/// iPXE's strerror for an rc (`"%s (https://ipxe.org/%08x)"`; codes from firmware.md B.5).
pub fn strerror(code: i32) -> String {
    match code {
        rc::ENOENT => "No such file or directory (https://ipxe.org/2d12618e)".into(),
        rc::EACCES => "Permission denied (https://ipxe.org/0212618e)".into(),
        rc::ENOEXEC => "Exec format error (https://ipxe.org/2e008081)".into(),
        rc::ETIMEDOUT => "Connection timed out (https://ipxe.org/4c126092)".into(),
        rc::ECANCELED => "Operation canceled (https://ipxe.org/0b072095)".into(),
        rc::ENOTSUP => "Operation not supported (https://ipxe.org/3c092083)".into(),
        rc::ERANGE => "Result too large (https://ipxe.org/44000000)".into(),
        rc::EINVAL => "Invalid argument (https://ipxe.org/1c000000)".into(),
        n => format!("Error {n:#08x} (https://ipxe.org/{n:08x})"),
    }
}

/// An image iPXE holds (`imgfetch`, `chain`...), as `imgstat` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Image {
    pub name: String,
    pub uri: String,
    #[serde(skip)]
    pub bytes: Content,
    pub cmdline: Option<String>,
    /// When the download finished.
    pub at: Duration,
    /// How many images iPXE had downloaded before this one (orders it among inputs).
    #[serde(skip)]
    pub seq: usize,
}

/// What a command waiting for input did with it (or without it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputEvent {
    pub at: Duration,
    /// How many images had been downloaded when it happened.
    pub after_fetches: usize,
    pub what: String,
}

/// How iPXE's run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpxeEnd {
    /// iPXE started an EFI image; `volume` is what its virtual filesystem holds (every
    /// registered image, by name: firmware.md B.9), `load_options` its EFI LoadOptions.
    ExecEfi {
        image: Image,
        volume: Vec<Image>,
        load_options: String,
    },
    /// A BIOS build started a raw NBP.
    ExecRaw { image: Image },
    /// iPXE returned to the firmware (autoboot failed or the script exited), with why.
    Returned { rc: i32, reason: String },
    /// A command waits for a key or a menu choice that never comes.
    WaitingForInput { command: String },
    /// The scripted keyboard's next input cannot be given to the command waiting for it
    /// (an item the menu lacks, a menu choice at `prompt`...): the scenario is wrong.
    InputRefused {
        command: String,
        input: String,
        reason: String,
    },
    /// `shell` or `sanboot`: out of the script's hands.
    Stopped { command: String },
}

/// A console line at a virtual time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Console {
    pub at: Duration,
    pub text: String,
}

/// The line being run: its tokens, where the next command starts, whether it runs, and
/// how the command now running joins the next one.
struct LineRun {
    tokens: Vec<String>,
    next: usize,
    process: bool,
    then: Then,
}

/// One script being run (nested ones come from `chain script.ipxe`).
struct Frame {
    image: Image,
    lines: Vec<script::Line>,
    /// Index of the next line to run.
    next: usize,
    line: Option<LineRun>,
    rc: i32,
    /// `exit` was run with this status.
    exit: Option<i32>,
}

/// What the interpreter waits for.
enum Wait {
    Banner,
    Dhcp {
        session: Box<DhcpSession>,
        autoboot: bool,
        started: Duration,
    },
    Fetch {
        get: Box<TftpGet>,
        uri: String,
        then: AfterFetch,
    },
    Sleep {
        until: Duration,
        rc: i32,
        /// What to log as input when it expires (a `choose` or `prompt` that timed out).
        timed_out: Option<String>,
    },
    /// DHCP is done; `ifconf` still waits for the IPv6 configurator, which gives up at
    /// `until` on a segment without a router.
    Ipv6 {
        until: Duration,
        started: Duration,
        lease: Option<Box<Lease>>,
        autoboot: bool,
    },
    None,
}

/// What to do with a downloaded image.
#[derive(Clone)]
struct AfterFetch {
    name: Option<String>,
    cmdline: Option<String>,
    exec: bool,
    select: bool,
    /// The autoboot image, not one a script asked for.
    autoboot: bool,
}

pub struct Ipxe {
    id: Identity,
    xid: u32,
    settings: Settings,
    server_mac: [u8; 6],
    images: Vec<Image>,
    selected: Option<String>,
    frames: Vec<Frame>,
    wait: Wait,
    banner_until: Duration,
    console: Vec<Console>,
    end: Option<IpxeEnd>,
    out: Vec<Datagram>,
    next_port: u16,
    menus: Vec<(String, Vec<MenuItem>)>,
    /// What the person at the console types ([`keyboard`]).
    keyboard: Keyboard,
    /// The labels of the first menu `choose` showed, for `validate` to try each.
    first_menu: Option<Vec<String>>,
    /// What input did, in order.
    inputs: Vec<InputEvent>,
    /// Images downloaded so far (freed ones included).
    fetches: usize,
    /// How long the IPv6 configurator runs with no router to answer, when modelled.
    ipv6_gives_up: Option<Duration>,
    /// When the running `ifconf`'s IPv6 configurator gives up.
    ipv6_until: Option<Duration>,
    /// The product version of a build from before v1.20, whose console differs.
    legacy_version: Option<String>,
}

/// One `item` of a menu (src/hci/commands/menu_cmd.c `item_exec`): a gap has no label.
#[derive(Debug, Clone)]
struct MenuItem {
    label: Option<String>,
    /// `--key`: the shortcut that chooses it at once.
    key: Option<u32>,
    /// `--default`: selected first when `choose` has no `--default`.
    default: bool,
}

/// iPXE's IPv6 configurator on a segment without a router (no router advertisement ever
/// comes): router solicitations on a retry timer started with no delay that doubles from its
/// minimum and fails once the doubled timeout passes its maximum (src/net/retry.c
/// `timer_expired`). `ifconf` runs every configurator at once and finishes when the last
/// one has (src/usr/ifmgmt.c `ifconf`), so with no router "Configuring" lasts this long even
/// when DHCP is done in 3 s.
pub mod ipv6conf {
    use std::time::Duration;

    /// Builds before October 2020 (Debian 12's 1.0.0+git-20190125): src/net/ndp.c
    /// `ipv6conf` uses retry.c's defaults, 1/4 s to 10 s: solicitations at 0, 0.25, 0.75,
    /// 1.75, 3.75, 7.75 s, failure at 15.75 s. OBSERVED under QEMU/TCG: 16.7-18 s.
    pub const LEGACY: Duration = Duration::from_millis(15_750);
    /// Since October 2020 (`IPV6CONF_MIN_TIMEOUT` 1/8 s, `IPV6CONF_MAX_TIMEOUT` 3 s):
    /// 0, 0.125, 0.375, 0.875, 1.875, failure at 3.875 s.
    pub const CURRENT: Duration = Duration::from_millis(3_875);
}

const FETCH_OPTIONS: OptionSpec = &[
    ("name", 'n', true),
    ("timeout", 't', true),
    ("autofree", 'a', false),
    ("replace", 'r', false),
    ("quiet", 'q', false),
];

impl Ipxe {
    pub fn new(id: Identity, xid: u32) -> Ipxe {
        let settings = Settings::new(id.build, id.mac, id.uuid);
        Ipxe {
            next_port: 49152 + (xid % 8192) as u16,
            id,
            xid,
            settings,
            server_mac: [0xff; 6],
            images: Vec::new(),
            selected: None,
            frames: Vec::new(),
            wait: Wait::None,
            banner_until: Duration::ZERO,
            console: Vec::new(),
            end: None,
            out: Vec::new(),
            menus: Vec::new(),
            keyboard: Keyboard::default(),
            first_menu: None,
            inputs: Vec::new(),
            fetches: 0,
            ipv6_gives_up: None,
            ipv6_until: None,
            legacy_version: None,
        }
    }

    /// A build from before v1.20 with this product version (Debian 12's
    /// "1.0.0+git-20190125.36a4c85-5.1"): its banner names that version and
    /// `PRODUCT_URI` "http://ipxe.org" (src/config/branding.h then), its errors link to
    /// http://ipxe.org/<code>, and `ifstat` prints no link-layer name (src/usr/ifmgmt.c).
    /// OBSERVED under QEMU, whole lines.
    pub fn set_legacy_version(&mut self, version: String) {
        self.legacy_version = Some(version);
    }

    /// Models the IPv6 configurator inside `ifconf` ([`ipv6conf`]): from the next `ifconf`
    /// on, DHCP alone no longer ends "Configuring" before `gives_up` has passed.
    pub fn set_ipv6_configurator(&mut self, gives_up: Duration) {
        self.ipv6_gives_up = Some(gives_up);
    }

    fn say(&mut self, at: Duration, text: impl Into<String>) {
        let mut text = text.into();
        if self.legacy_version.is_some() {
            text = text.replace("https://ipxe.org", "http://ipxe.org");
        }
        self.console.push(Console { at, text });
    }

    fn mac_text(&self) -> String {
        self.id
            .mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Starts iPXE at `now`: banner, then `autoboot` after the 2-second Ctrl-B prompt
    /// (`BANNER_TIMEOUT`).
    pub fn start(&mut self, now: Duration) {
        self.say(now, "iPXE initialising devices...ok");
        let version = self
            .legacy_version
            .as_deref()
            .unwrap_or("1.21.1+")
            .to_string();
        self.say(
            now,
            format!("iPXE {version} -- Open Source Network Boot Firmware -- https://ipxe.org"),
        );
        // The features linked in (OBSERVED for Debian 12's 2019 EFI and BIOS builds).
        let features = match (&self.legacy_version, self.id.build) {
            (None, _) => "DNS HTTP HTTPS iSCSI TFTP SRP AoE EFI Menu",
            (Some(_), Build::EfiX64) => "DNS HTTP iSCSI NFS TFTP SRP AoE EFI Menu",
            (Some(_), Build::BiosUndi) => {
                "DNS HTTP iSCSI NFS TFTP AoE ELF MBOOT PXE bzImage Menu PXEXT"
            }
        };
        self.say(now, format!("Features: {features}"));
        self.say(now, "Press Ctrl-B for the iPXE command line...");
        // shell_banner (src/usr/autoboot.c): prompt() for Ctrl-B. Only a scripted Ctrl-B is
        // taken here; other inputs are left for the script's own prompts and menus.
        if let Some(Input::Key(key)) = self.keyboard.peek() {
            if keyboard::key_code(key) == Some(keyboard::code::CTRL_B) {
                self.keyboard.pop();
                self.end = Some(IpxeEnd::Stopped {
                    command: "shell (Ctrl-B at the banner)".into(),
                });
                return;
            }
        }
        self.banner_until = now + Duration::from_secs(2);
        self.wait = Wait::Banner;
    }

    pub fn console(&self) -> &[Console] {
        &self.console
    }

    pub fn outcome(&self) -> Option<&IpxeEnd> {
        self.end.as_ref()
    }

    /// The DHCPACK iPXE configured itself from, once it has one.
    pub fn lease(&self) -> Option<&Lease> {
        self.settings.lease.as_ref()
    }

    /// Gives the scripted keyboard to this iPXE (what is left of it after an earlier one).
    pub fn set_keyboard(&mut self, keyboard: Keyboard) {
        self.keyboard = keyboard;
    }

    /// Takes back what is left of the scripted keyboard, for the next iPXE of the chain.
    pub fn take_keyboard(&mut self) -> Keyboard {
        std::mem::take(&mut self.keyboard)
    }

    /// What the console's input did (or its absence, at a timeout), in order.
    pub fn inputs(&self) -> &[InputEvent] {
        &self.inputs
    }

    /// The item labels of the first menu `choose` showed, if one was.
    pub fn first_menu(&self) -> Option<&[String]> {
        self.first_menu.as_deref()
    }

    pub fn images(&self) -> &[Image] {
        &self.images
    }

    pub fn poll_transmit(&mut self) -> Option<Datagram> {
        if !self.out.is_empty() {
            return Some(self.out.remove(0));
        }
        match &mut self.wait {
            Wait::Dhcp { session, .. } => session.poll_transmit(),
            Wait::Fetch { get, .. } => get.poll_transmit(),
            _ => None,
        }
    }

    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.end.is_some() {
            return None;
        }
        match &self.wait {
            Wait::Banner => Some(self.banner_until),
            Wait::Dhcp { session, .. } => session.poll_timeout(),
            Wait::Fetch { get, .. } => get.poll_timeout(),
            Wait::Sleep { until, .. } => Some(*until),
            Wait::Ipv6 { until, .. } => Some(*until),
            Wait::None => None,
        }
    }

    pub fn finished(&self) -> bool {
        self.end.is_some() && self.out.is_empty()
    }

    pub fn handle(&mut self, now: Duration, d: &Datagram) {
        match &mut self.wait {
            Wait::Dhcp { session, .. } => {
                session.handle(now, d);
                if session.outcome().is_some() {
                    self.server_mac = d.src_mac;
                }
            }
            Wait::Fetch { get, .. } => get.handle(now, d),
            _ => return,
        }
        self.advance(now);
    }

    pub fn handle_timeout(&mut self, now: Duration) {
        match &mut self.wait {
            Wait::Banner if now >= self.banner_until => {
                self.wait = Wait::None;
                let mac = self.mac_text();
                let ll = if self.legacy_version.is_some() {
                    ""
                } else {
                    " (Ethernet)"
                };
                self.say(
                    now,
                    format!("net0: {mac} using SNP on SNP-0000:00:02.0{ll} (open)"),
                );
                self.say(now, "  [Link:up, TX:0 TXE:0 RX:0 RXE:0]");
                self.start_dhcp(now, true);
                return;
            }
            Wait::Dhcp { session, .. } => session.handle_timeout(now),
            Wait::Fetch { get, .. } => get.handle_timeout(now),
            Wait::Sleep {
                until,
                rc,
                timed_out,
            } if now >= *until => {
                let rc = *rc;
                if let Some(what) = timed_out.take() {
                    self.log_input(now, what);
                }
                self.wait = Wait::None;
                self.resume(now, rc);
                return;
            }
            Wait::Ipv6 { until, .. } if now >= *until => {
                if let Wait::Ipv6 {
                    started,
                    lease,
                    autoboot,
                    ..
                } = std::mem::replace(&mut self.wait, Wait::None)
                {
                    self.ipv6_until = None;
                    self.dhcp_done(now, started, lease.map(|l| *l), autoboot);
                }
                return;
            }
            _ => return,
        }
        self.advance(now);
    }

    fn start_dhcp(&mut self, now: Duration, autoboot: bool) {
        let session = Box::new(DhcpSession::new(self.id.clone(), self.xid, now));
        self.xid = self.xid.wrapping_add(1);
        self.ipv6_until = self.ipv6_gives_up.map(|d| now + d);
        self.wait = Wait::Dhcp {
            session,
            autoboot,
            started: now,
        };
    }

    /// A network operation may have finished.
    fn advance(&mut self, now: Duration) {
        let wait = std::mem::replace(&mut self.wait, Wait::None);
        match wait {
            Wait::Dhcp {
                session,
                autoboot,
                started,
            } => match session.outcome().cloned() {
                None => {
                    self.wait = Wait::Dhcp {
                        session,
                        autoboot,
                        started,
                    }
                }
                Some(result) => self.dhcp_done(now, started, result.ok(), autoboot),
            },
            Wait::Fetch { mut get, uri, then } => match get.outcome().cloned() {
                None => self.wait = Wait::Fetch { get, uri, then },
                Some(result) => {
                    // The final ACK is still queued: it must leave before the session goes.
                    while let Some(d) = get.poll_transmit() {
                        self.out.push(d);
                    }
                    self.fetched(now, uri, then, result)
                }
            },
            other => self.wait = other,
        }
    }

    fn dhcp_done(
        &mut self,
        now: Duration,
        started: Duration,
        lease: Option<Lease>,
        autoboot: bool,
    ) {
        if let Some(until) = self.ipv6_until.filter(|u| *u > now) {
            self.wait = Wait::Ipv6 {
                until,
                started,
                lease: lease.map(Box::new),
                autoboot,
            };
            return;
        }
        // "Configuring (net0 <mac>)..." then a dot per second, then " ok" or the error.
        let dots = ".".repeat(3 + now.saturating_sub(started).as_secs() as usize);
        let mac = self.mac_text();
        let Some(lease) = lease else {
            self.say(
                now,
                format!(
                    "Configuring (net0 {mac}){dots} No configuration methods succeeded (https://ipxe.org/{})",
                    // EFI builds map the error through EFI_NOT_READY; BIOS builds do not
                    // (OBSERVED with QEMU's BIOS ROM: 040ee119).
                    match self.id.build {
                        Build::EfiX64 => "040ee186",
                        Build::BiosUndi => "040ee119",
                    }
                ),
            );
            if autoboot {
                return self.give_up(now, rc::ETIMEDOUT, "DHCP got no usable answer");
            }
            return self.resume(now, rc::ETIMEDOUT);
        };
        self.say(now, format!("Configuring (net0 {mac}){dots} ok"));
        let mask = lease
            .netmask()
            .map(|m| m.to_string())
            .unwrap_or_else(|| "0.0.0.0".into());
        let gw = lease
            .gateway()
            .map(|g| format!(" gw {g}"))
            .unwrap_or_default();
        self.say(now, format!("net0: {}/{mask}{gw}", lease.address));
        if self.ipv6_gives_up.is_some() {
            // The link-local address the IPv6 configurator leaves (EUI-64 from the MAC).
            let m = self.id.mac;
            self.say(
                now,
                format!(
                    "net0: fe80::{:x}:{:x}:{:x}:{:x}/64",
                    u16::from_be_bytes([m[0] ^ 0x02, m[1]]),
                    u16::from_be_bytes([m[2], 0xff]),
                    u16::from_be_bytes([0xfe, m[3]]),
                    u16::from_be_bytes([m[4], m[5]])
                ),
            );
        }
        self.settings.lease = Some(lease.clone());
        if !autoboot {
            return self.resume(now, 0);
        }
        // autoboot.c netboot(): fetch_next_server_and_filename, then pxe_uri.
        let next = lease.next_server();
        let file = lease.filename();
        if let Some(n) = next {
            self.say(now, format!("Next server: {n}"));
        }
        if let Some(f) = &file {
            self.say(now, format!("Filename: {f}"));
        }
        let uri = match (file, next) {
            (Some(f), _) if f.contains("://") => f,
            (Some(f), Some(n)) => format!("tftp://{n}/{}", f.trim_start_matches('/')),
            _ => {
                // 2d03e18e for EFI builds, 2d03e13b for BIOS ones (OBSERVED with QEMU's BIOS
                // ROM on the guide's network; firmware.md B.5).
                let code = match self.id.build {
                    Build::EfiX64 => "2d03e18e",
                    Build::BiosUndi => "2d03e13b",
                };
                self.say(
                    now,
                    format!("Nothing to boot: No such file or directory (https://ipxe.org/{code})"),
                );
                return self.give_up(now, rc::ENOENT, "the DHCPACK has no boot file name");
            }
        };
        self.fetch(
            now,
            uri,
            AfterFetch {
                name: None,
                cmdline: None,
                exec: true,
                select: true,
                autoboot: true,
            },
        );
    }

    /// autoboot failed: "No more network devices", and iPXE returns to the firmware.
    fn give_up(&mut self, now: Duration, code: i32, reason: &str) {
        self.say(now, "No more network devices");
        self.end = Some(IpxeEnd::Returned {
            rc: code,
            reason: reason.into(),
        });
    }

    /// Starts a download of `uri` (tftp:// only; others are not supported here).
    fn fetch(&mut self, now: Duration, uri: String, then: AfterFetch) {
        let Some(rest) = uri.strip_prefix("tftp://") else {
            self.say(now, format!("{uri}... {}", strerror(rc::ENOTSUP)));
            return self.after_failure(now, &then, rc::ENOTSUP);
        };
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let Ok(server) = host.parse::<Ipv4Addr>() else {
            self.say(now, format!("{uri}... {}", strerror(rc::ENOENT)));
            return self.after_failure(now, &then, rc::ENOENT);
        };
        let Some(lease) = &self.settings.lease else {
            self.say(
                now,
                format!("{uri}... Network unreachable (https://ipxe.org/28086090)"),
            );
            return self.after_failure(now, &then, rc::ENOENT);
        };
        let local = SocketAddrV4::new(lease.address, self.next_port);
        self.next_port = self.next_port.wrapping_add(1).max(49152);
        // The RRQ names the URI's path without its leading '/' (`tftp_send_rrq`, iPXE
        // src/net/udp/tftp.c: `path = uri->path + 1`, in Debian's 2019 build and HEAD;
        // OBSERVED under QEMU: "refind.pxe"): tftp://s/x asks for "x", tftp://s//x for "/x".
        let get = Box::new(TftpGet::new(
            now,
            self.id.mac,
            self.server_mac,
            local,
            server,
            path,
        ));
        self.wait = Wait::Fetch { get, uri, then };
    }

    /// A download failed. The URI line already says why; `imgsingle_exec` prints "Could not
    /// boot:" only when executing fails, not when acquiring does.
    fn after_failure(&mut self, now: Duration, then: &AfterFetch, code: i32) {
        if then.autoboot {
            self.give_up(now, code, "the boot file could not be downloaded");
        } else {
            self.resume(now, code);
        }
    }

    fn fetched(
        &mut self,
        now: Duration,
        uri: String,
        then: AfterFetch,
        result: Result<Content, FetchError>,
    ) {
        let bytes = match result {
            Ok(b) => b,
            Err(e) => {
                self.say(now, format!("{uri}... {}", e.text()));
                let code = match e {
                    FetchError::NotFound => rc::ENOENT,
                    FetchError::PermissionDenied => rc::EACCES,
                    FetchError::TimedOut => rc::ETIMEDOUT,
                    FetchError::Other(_) => rc::ENOTSUP,
                };
                return self.after_failure(now, &then, code);
            }
        };
        self.say(now, format!("{uri}... ok"));
        let name = then
            .name
            .clone()
            .unwrap_or_else(|| uri.rsplit('/').next().unwrap_or("img").to_string());
        // A new image of the same name replaces the old one (register_image).
        self.images.retain(|i| i.name != name);
        let image = Image {
            name: name.clone(),
            uri,
            bytes,
            cmdline: then.cmdline.clone(),
            at: now,
            seq: self.fetches,
        };
        self.fetches += 1;
        self.images.push(image.clone());
        if then.select {
            self.selected = Some(name);
        }
        if then.autoboot {
            let kind = if matches!(image.bytes.image(), Kind::IpxeScript) {
                " [script]"
            } else {
                ""
            };
            self.say(
                now,
                format!("{} : {} bytes{kind}", image.name, image.bytes.len()),
            );
        }
        if then.exec {
            self.exec(now, image, then.autoboot);
        } else {
            self.resume(now, 0);
        }
    }

    /// image_exec: a script runs here; an EFI image ends iPXE's part of the boot.
    fn exec(&mut self, now: Duration, image: Image, autoboot: bool) {
        if matches!(image.bytes.image(), Kind::IpxeScript) {
            let text = String::from_utf8_lossy(image.bytes.bytes()).into_owned();
            self.frames.push(Frame {
                image,
                lines: script::lines(&text),
                next: 0,
                line: None,
                rc: 0,
                exit: None,
            });
            return self.run(now);
        }
        let fits = match (image.bytes.image().clone(), self.id.build) {
            (Kind::Efi { machine, .. }, Build::EfiX64) => machine == Machine::X64,
            (Kind::Raw { .. }, Build::BiosUndi) => true,
            _ => false,
        };
        if !fits {
            let prefix = if autoboot {
                "Could not boot image"
            } else {
                "Could not boot"
            };
            self.say(now, format!("{prefix}: {}", strerror(rc::ENOEXEC)));
            if autoboot {
                return self.give_up(now, rc::ENOEXEC, "iPXE cannot execute the boot file");
            }
            return self.resume(now, rc::ENOEXEC);
        }
        let load_options = match &image.cmdline {
            Some(c) => format!("{} {c}", image.name),
            None => image.name.clone(),
        };
        self.end = Some(match self.id.build {
            Build::EfiX64 => IpxeEnd::ExecEfi {
                volume: self.images.clone(),
                image,
                load_options,
            },
            Build::BiosUndi => IpxeEnd::ExecRaw { image },
        });
    }

    /// An asynchronous command finished with `code`: carry on with the script.
    fn resume(&mut self, now: Duration, code: i32) {
        if let Some(frame) = self.frames.last_mut() {
            frame.rc = code;
            Self::after_command(frame);
            self.run(now);
        }
    }

    /// exec.c's `process_next`: whether the next command of the line runs.
    fn after_command(frame: &mut Frame) {
        let rc = frame.rc;
        if let Some(line) = frame.line.as_mut() {
            line.process = match line.then {
                Then::Always | Then::End => true,
                Then::OnSuccess => rc == 0,
                Then::OnFailure => rc != 0,
            };
        }
    }

    /// Runs commands until one has to wait or the script ends (script.c `process_script`:
    /// a line that ends with a non-zero status, or `exit`, ends the script).
    fn run(&mut self, now: Duration) {
        loop {
            if self.end.is_some() || !matches!(self.wait, Wait::None) {
                return;
            }
            let Some(frame) = self.frames.last_mut() else {
                return;
            };
            if let Some(code) = frame.exit {
                return self.script_ended(now, code);
            }
            let Some(line) = frame.line.as_mut() else {
                let Some(text) = frame.lines.get(frame.next).map(|l| l.text.clone()) else {
                    return self.script_ended(now, 0);
                };
                frame.next += 1;
                // A label line: what follows the label on it runs (OBSERVED).
                let text = script::label(&text).map_or(text.clone(), |(_, rest)| rest.to_string());
                let tokens = script::tokens(&text);
                if !tokens.is_empty() {
                    frame.rc = 0;
                    frame.line = Some(LineRun {
                        tokens,
                        next: 0,
                        process: true,
                        then: Then::Always,
                    });
                }
                continue;
            };
            // The line ends after its last command; `cmd ||` ends with an empty command,
            // which succeeds when it runs (exec.c: the idiom that ignores a failure).
            if line.then == Then::End {
                frame.line = None;
                if frame.rc != 0 {
                    let code = frame.rc;
                    return self.script_ended(now, code);
                }
                continue;
            }
            let start = line.next;
            let (len, then) = script::command_at(&line.tokens, start);
            line.then = then;
            line.next = start + len + 1;
            if !line.process {
                Self::after_command(frame);
                continue;
            }
            let settings = &self.settings;
            let argv: Vec<String> = line.tokens[start..start + len]
                .iter()
                .map(|t| script::expand(t, &|inner| settings.expand_one(inner)))
                .collect();
            if let Some(code) = self.command(now, &argv) {
                if let Some(frame) = self.frames.last_mut() {
                    frame.rc = code;
                    Self::after_command(frame);
                }
            }
        }
    }

    fn script_ended(&mut self, now: Duration, code: i32) {
        let frame = self.frames.pop().expect("a frame");
        if self.frames.is_empty() {
            // The autoboot image returned.
            if code != 0 {
                self.say(now, format!("Could not boot image: {}", strerror(code)));
                self.give_up(
                    now,
                    code,
                    &format!("{} ended with status {code}", frame.image.name),
                );
            } else {
                self.say(now, "No more network devices");
                self.end = Some(IpxeEnd::Returned {
                    rc: 0,
                    reason: format!("{} ended without booting anything", frame.image.name),
                });
            }
        } else {
            // Back in the script that chained this one.
            if code != 0 {
                self.say(now, format!("Could not boot: {}", strerror(code)));
            }
            self.resume(now, code);
        }
    }

    /// Runs one command; `None` when it waits (the status comes through `resume`).
    fn command(&mut self, now: Duration, argv: &[String]) -> Option<i32> {
        let Some(name) = argv.first() else {
            return Some(0);
        };
        match name.as_str() {
            "echo" => {
                let (newline, args) = match argv.get(1).map(String::as_str) {
                    Some("-n") => (false, &argv[2..]),
                    _ => (true, &argv[1..]),
                };
                let _ = newline;
                self.say(now, args.join(" "));
                Some(0)
            }
            "set" => {
                if argv.len() < 2 {
                    return Some(rc::EINVAL);
                }
                let value = argv[2..].join(" ");
                if value.is_empty() {
                    self.settings.user.remove(&argv[1]);
                } else {
                    self.settings.user.insert(argv[1].clone(), value);
                }
                Some(0)
            }
            "clear" => {
                if let Some(n) = argv.get(1) {
                    self.settings.user.remove(n);
                }
                Some(0)
            }
            "isset" => Some(if argv.get(1).is_some_and(|v| !v.is_empty()) {
                0
            } else {
                rc::ENOENT
            }),
            "iseq" => {
                if argv.len() != 3 {
                    self.say(now, "Usage:\n  iseq <value1> <value2>");
                    return Some(rc::EINVAL);
                }
                Some(if argv[1] == argv[2] { 0 } else { rc::ERANGE })
            }
            "goto" => Some(self.goto(argv.get(1).map(String::as_str).unwrap_or(""))),
            "exit" => {
                let code = argv.get(1).and_then(|v| v.parse::<i32>().ok()).unwrap_or(0);
                // SHELL_STOP_COMMAND_SEQUENCE: the script ends with this status.
                if let Some(frame) = self.frames.last_mut() {
                    frame.exit = Some(code);
                }
                Some(code)
            }
            "sleep" => {
                let secs = argv.get(1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
                self.wait = Wait::Sleep {
                    until: now + Duration::from_secs(secs),
                    rc: 0,
                    timed_out: None,
                };
                None
            }
            "prompt" => self.prompt(now, argv),
            "dhcp" | "ifconf" => {
                self.start_dhcp(now, false);
                None
            }
            "ifopen" | "ifclose" | "ifstat" | "iflinkwait" | "params" | "param" | "sync" => Some(0),
            "menu" => {
                let p = script::parse_options(argv, &[("name", 'n', true), ("delete", 'd', false)])
                    .ok()?;
                let name = p.get("name").unwrap_or("").to_string();
                self.menus.retain(|(n, _)| *n != name);
                self.menus.push((name, Vec::new()));
                Some(0)
            }
            "item" => {
                let p = script::parse_options(
                    argv,
                    &[
                        ("menu", 'm', true),
                        ("key", 'k', true),
                        ("default", 'd', false),
                        ("gap", 'g', false),
                        ("secret", 's', false),
                    ],
                )
                .ok()?;
                let menu = p.get("menu").unwrap_or("").to_string();
                let Some((_, items)) = self.menus.iter_mut().find(|(n, _)| *n == menu) else {
                    self.say(now, "Could not find menu: No such file or directory (https://ipxe.org/2d12618e)");
                    return Some(rc::ENOENT);
                };
                // item_exec: a gap takes no label; every other item needs one.
                let label = if p.flag("gap") {
                    None
                } else {
                    match p.args.first() {
                        Some(l) => Some(l.clone()),
                        None => return Some(0),
                    }
                };
                items.push(MenuItem {
                    label,
                    key: p.get("key").and_then(keyboard::parse_key),
                    default: p.flag("default"),
                });
                Some(0)
            }
            "choose" => self.choose(now, argv),
            "imgfetch" | "module" | "initrd" | "kernel" | "imgselect" | "imgload" | "chain"
            | "imgexec" | "boot" => self.image_command(now, argv),
            "imgargs" => {
                let name = argv.get(1)?.clone();
                let args = argv[2..].join(" ");
                match self.images.iter_mut().find(|i| i.name == name) {
                    Some(i) => {
                        i.cmdline = (!args.is_empty()).then_some(args);
                        Some(0)
                    }
                    None => Some(rc::ENOENT),
                }
            }
            "imgstat" => {
                let lines: Vec<String> = self
                    .images
                    .iter()
                    .map(|i| format!("{} : {} bytes", i.name, i.bytes.len()))
                    .collect();
                for l in lines {
                    self.say(now, l);
                }
                Some(0)
            }
            "imgfree" => {
                match argv.get(1) {
                    Some(n) => self.images.retain(|i| &i.name != n),
                    None => self.images.clear(),
                }
                Some(0)
            }
            "show" => {
                let n = argv.get(1).cloned().unwrap_or_default();
                let v = self.settings.expand_one(&n);
                self.say(now, format!("{n} = {v}"));
                Some(0)
            }
            "read" => self.read(now, argv),
            "shell" | "sanboot" | "sanhook" | "autoboot" | "login" => {
                self.end = Some(IpxeEnd::Stopped {
                    command: argv.join(" "),
                });
                None
            }
            other => {
                self.say(now, format!("{other}: command not found"));
                Some(rc::ENOEXEC)
            }
        }
    }

    /// `choose [--menu M] [--default ITEM] [--timeout MS] [--keep] SETTING`
    /// (src/hci/commands/menu_cmd.c `choose_exec`, src/hci/tui/menu_ui.c `show_menu`,
    /// `menu_loop`). The selection starts on the first named item, moved to the `--default`
    /// label when one matches, else to an item flagged `--default`. The scripted keyboard
    /// picks an item by label, or presses keys: Enter takes the selection, Esc/Ctrl-C fail
    /// with -ECANCELED, an item's `--key` takes that item, any key cancels the timeout. With
    /// no input left, a timeout takes the selection when it expires (virtual time); without
    /// one, the script waits forever. The chosen item's label is stored in SETTING, and the
    /// menu is destroyed unless `--keep`.
    fn choose(&mut self, now: Duration, argv: &[String]) -> Option<i32> {
        let p = match script::parse_options(
            argv,
            &[
                ("menu", 'm', true),
                ("default", 'd', true),
                ("timeout", 't', true),
                ("retimeout", 'r', true),
                ("keep", 'k', false),
            ],
        ) {
            Ok(p) => p,
            Err(message) => {
                self.say(now, message);
                return Some(rc::EINVAL);
            }
        };
        let Some(setting) = p.args.first().cloned() else {
            // parse_options (src/core/parseopt.c): print_usage, then -ERANGE.
            self.say(now, "Usage:\n\n  choose <setting>");
            return Some(rc::ERANGE);
        };
        let menu = p.get("menu").unwrap_or("").to_string();
        let Some(position) = self.menus.iter().position(|(n, _)| *n == menu) else {
            return Some(rc::ENOENT);
        };
        let items = if p.flag("keep") {
            self.menus[position].1.clone()
        } else {
            self.menus.remove(position).1
        };
        let labels: Vec<String> = items.iter().filter_map(|i| i.label.clone()).collect();
        // show_menu: "Menus with no named items cannot be selected from".
        let Some(first) = labels.first().cloned() else {
            return Some(rc::ENOENT);
        };
        if self.first_menu.is_none() {
            self.first_menu = Some(labels.clone());
        }
        let mut selected = match p.get("default") {
            Some(d) => labels.iter().find(|l| *l == d).cloned(),
            None => items
                .iter()
                .filter(|i| i.default)
                .filter_map(|i| i.label.clone())
                .next_back(),
        }
        .unwrap_or(first);
        // parse_timeout: 0 means no timeout.
        let mut timeout = p
            .get("timeout")
            .and_then(|t| t.parse::<u64>().ok())
            .filter(|t| *t > 0);
        loop {
            let Some(input) = self.keyboard.pop() else {
                return match timeout {
                    Some(ms) => {
                        let what = format!("`choose` timed out after {ms} ms: took `{selected}`");
                        self.settings.user.insert(setting, selected);
                        self.wait = Wait::Sleep {
                            until: now + Duration::from_millis(ms),
                            rc: 0,
                            timed_out: Some(what),
                        };
                        None
                    }
                    None => self.stop_waiting("choose"),
                };
            };
            match &input {
                Input::Item(label) => {
                    if !labels.contains(label) {
                        return self.refuse(
                            "choose",
                            &input,
                            format!(
                                "the menu has no item `{label}` (it has {})",
                                labels.join(", ")
                            ),
                        );
                    }
                    selected = label.clone();
                    break;
                }
                Input::Key(key) => {
                    let Some(code) = keyboard::key_code(key) else {
                        return self.refuse(
                            "choose",
                            &input,
                            "a menu takes one key, not text".into(),
                        );
                    };
                    timeout = None;
                    match code {
                        keyboard::code::ESC | keyboard::code::CTRL_C => {
                            self.log_input(now, format!("`choose` cancelled by `{key}`"));
                            return Some(rc::ECANCELED);
                        }
                        keyboard::code::CR | keyboard::code::LF => break,
                        _ => {
                            if let Some(item) = items.iter().find(|i| i.key == Some(code)) {
                                if let Some(label) = &item.label {
                                    selected = label.clone();
                                    break;
                                }
                            }
                        }
                    }
                }
            }
        }
        self.log_input(now, format!("`choose` took `{selected}`"));
        self.settings.user.insert(setting, selected);
        Some(0)
    }

    /// `prompt [--key KEY] [--timeout MS] [TEXT]` (src/usr/prompt.c `prompt`: -ETIMEDOUT
    /// when no key comes, -ECANCELED for a key other than `--key`): the next scripted key
    /// answers it (-ECANCELED when `--key` names another key); with no input
    /// left, -ETIMEDOUT once the timeout passes, or a wait forever without one.
    fn prompt(&mut self, now: Duration, argv: &[String]) -> Option<i32> {
        let p = match script::parse_options(argv, &[("key", 'k', true), ("timeout", 't', true)]) {
            Ok(p) => p,
            Err(message) => {
                self.say(now, message);
                return Some(rc::EINVAL);
            }
        };
        if !p.args.is_empty() {
            self.say(now, p.args.join(" "));
        }
        let wanted = p.get("key").and_then(keyboard::parse_key);
        match self.keyboard.pop() {
            Some(input @ Input::Item(_)) => self.refuse(
                "prompt",
                &input,
                "prompt waits for a key, not a menu item".into(),
            ),
            Some(Input::Key(key)) => {
                let code = keyboard::key_code(&key).or_else(|| key.chars().next().map(u32::from));
                let (code, what) = match wanted {
                    Some(w) if code != Some(w) => (rc::ECANCELED, "not the key it waits for"),
                    _ => (0, "goes on"),
                };
                self.log_input(now, format!("`prompt` got `{key}`: {what}"));
                Some(code)
            }
            None => match p
                .get("timeout")
                .and_then(|t| t.parse::<u64>().ok())
                .filter(|t| *t > 0)
            {
                Some(ms) => {
                    self.wait = Wait::Sleep {
                        until: now + Duration::from_millis(ms),
                        rc: rc::ETIMEDOUT,
                        timed_out: Some(format!("`prompt` timed out after {ms} ms")),
                    };
                    None
                }
                None => self.stop_waiting("prompt"),
            },
        }
    }

    /// `read SETTING` (src/hci/commands/nvo_cmd.c `read_exec`, readline with the current
    /// value as the default): the next scripted input is the line typed; Enter alone keeps
    /// the current value, Esc/Ctrl-C fail with -ECANCELED.
    fn read(&mut self, now: Duration, argv: &[String]) -> Option<i32> {
        let Some(setting) = argv.get(1).cloned() else {
            // parse_options (src/core/parseopt.c): print_usage, then -ERANGE.
            self.say(now, "Usage:\n\n  read <setting>");
            return Some(rc::ERANGE);
        };
        match self.keyboard.pop() {
            Some(input @ Input::Item(_)) => self.refuse(
                "read",
                &input,
                "read waits for a line of text, not a menu item".into(),
            ),
            Some(Input::Key(text)) => match keyboard::key_code(&text) {
                Some(keyboard::code::ESC | keyboard::code::CTRL_C) => {
                    self.log_input(now, format!("`read {setting}` cancelled by `{text}`"));
                    Some(rc::ECANCELED)
                }
                Some(keyboard::code::CR | keyboard::code::LF) if text.len() > 1 => {
                    self.log_input(now, format!("`read {setting}` kept its value"));
                    Some(0)
                }
                _ => {
                    self.log_input(now, format!("`read {setting}` got `{text}`"));
                    self.settings.user.insert(setting, text);
                    Some(0)
                }
            },
            None => self.stop_waiting("read"),
        }
    }

    /// Notes what the console's input (or its absence) did, for the transcript: after how
    /// many downloads, so the chain can put it between the right steps.
    fn log_input(&mut self, at: Duration, what: String) {
        self.inputs.push(InputEvent {
            at,
            after_fetches: self.fetches,
            what,
        });
    }

    fn refuse(&mut self, command: &str, input: &Input, reason: String) -> Option<i32> {
        self.end = Some(IpxeEnd::InputRefused {
            command: command.into(),
            input: input.text(),
            reason,
        });
        None
    }

    fn stop_waiting(&mut self, command: &str) -> Option<i32> {
        self.end = Some(IpxeEnd::WaitingForInput {
            command: command.into(),
        });
        None
    }

    /// `goto`: the label anywhere in the script, then the rest of this line is skipped
    /// (SHELL_STOP_COMMAND); not found is -ENOENT, silently.
    fn goto(&mut self, target: &str) -> i32 {
        let frame = self.frames.last_mut().expect("a frame");
        let found = frame
            .lines
            .iter()
            .position(|l| script::label(&l.text).is_some_and(|(name, _)| name == target));
        match found {
            Some(i) => {
                frame.next = i;
                frame.line = None;
                0
            }
            None => rc::ENOENT,
        }
    }

    /// The image commands: acquire (by name or URI), then register, select or execute.
    fn image_command(&mut self, now: Duration, argv: &[String]) -> Option<i32> {
        let parsed = match script::parse_options(argv, FETCH_OPTIONS) {
            Ok(p) => p,
            Err(message) => {
                self.say(now, message);
                return Some(rc::EINVAL);
            }
        };
        let command = argv[0].as_str();
        let exec = matches!(command, "chain" | "imgexec" | "boot");
        let select = matches!(command, "kernel" | "imgselect" | "imgload") || exec;
        let Some(target) = parsed.args.first().cloned() else {
            if command == "boot" || command == "imgexec" {
                // Run the selected image.
                let Some(image) = self
                    .selected
                    .as_ref()
                    .and_then(|n| self.images.iter().find(|i| &i.name == n))
                    .cloned()
                else {
                    self.say(now, "No image selected");
                    return Some(0);
                };
                self.exec(now, image, false);
                return None;
            }
            self.say(
                now,
                format!("Usage:\n  {command} [--name <name>] <uri|image> [<arguments>...]"),
            );
            return Some(rc::EINVAL);
        };
        let cmdline = (parsed.args.len() > 1).then(|| parsed.args[1..].join(" "));
        if let Some(existing) = self.images.iter().find(|i| i.name == target).cloned() {
            let mut image = existing;
            if cmdline.is_some() {
                image.cmdline = cmdline;
            }
            if select {
                self.selected = Some(image.name.clone());
            }
            if exec {
                self.exec(now, image, false);
                return None;
            }
            return Some(0);
        }
        let uri = self.resolve(&target);
        self.fetch(
            now,
            uri,
            AfterFetch {
                name: parsed.get("name").map(str::to_string),
                cmdline,
                exec,
                select,
                autoboot: false,
            },
        );
        None
    }

    /// A URI relative to the running script's own URI (`churi(image->uri)`).
    fn resolve(&self, target: &str) -> String {
        if target.contains("://") {
            return target.to_string();
        }
        let base = self
            .frames
            .last()
            .map(|f| f.image.uri.clone())
            .unwrap_or_default();
        let Some(rest) = base.strip_prefix("tftp://") else {
            return target.to_string();
        };
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if let Some(abs) = target.strip_prefix('/') {
            return format!("tftp://{host}/{abs}");
        }
        let dir = path
            .rsplit_once('/')
            .map(|(d, _)| format!("{d}/"))
            .unwrap_or_default();
        format!("tftp://{host}/{dir}{target}")
    }
}

impl crate::net::lan::Station for Ipxe {
    fn poll_transmit(&mut self) -> Option<Datagram> {
        Ipxe::poll_transmit(self)
    }
    fn handle(&mut self, now: Duration, datagram: &Datagram) {
        Ipxe::handle(self, now, datagram)
    }
    fn handle_timeout(&mut self, now: Duration) {
        Ipxe::handle_timeout(self, now)
    }
    fn poll_timeout(&self) -> Option<Duration> {
        Ipxe::poll_timeout(self)
    }
    fn finished(&self) -> bool {
        Ipxe::finished(self)
    }
}
