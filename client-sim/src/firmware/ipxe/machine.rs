//! iPXE from start to hand-off, sans-IO: the banner and its Ctrl-B wait, `autoboot`
//! (src/usr/autoboot.c: DHCP, `Next server:`/`Filename:`, the download, `imgstat`, exec), and
//! what the script's commands wait for (DHCP, downloads, sleeps). The script interpreter is
//! `interpreter.rs`, the commands `commands/`. It ends when iPXE hands the machine to an EFI
//! image (or a BIOS NBP), returns to the firmware, or stops for input nobody will give.
//!
//! Console strings follow firmware.md B.5 (Debian 12's build: `...ok` banners, `(open)`).

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use netbootd::time::Instant;
use netbootd::wire::frame::Datagram;
use netbootd::wire::MacAddr;

use super::dhcp::{DhcpSession, Lease};
use super::interpreter::Frame;
use super::keyboard::{self, Input, Keyboard};
use super::outcome::{rc, strerror, Console, Image, InputEvent, IpxeEnd};
use super::packets::{Build, Identity};
use super::settings::Settings;
use super::tftp::{FetchError, TftpGet};
use crate::content::Content;
use crate::identify::{Image as Kind, Machine};

/// What the interpreter waits for (a download inline: iPXE itself is boxed by the chain).
#[allow(clippy::large_enum_variant)]
pub(super) enum Wait {
    Banner,
    Dhcp {
        session: Box<DhcpSession>,
        autoboot: bool,
        started: Instant,
    },
    /// The download inline: each of its packets reaches it.
    Fetch {
        get: TftpGet,
        uri: String,
        then: AfterFetch,
    },
    Sleep {
        until: Instant,
        rc: i32,
        /// What to log as input when it expires (a `choose` or `prompt` that timed out).
        timed_out: Option<String>,
    },
    /// DHCP is done; `ifconf` still waits for the IPv6 configurator, which gives up at
    /// `until` on a segment without a router.
    Ipv6 {
        until: Instant,
        started: Instant,
        lease: Option<Box<Lease>>,
        autoboot: bool,
    },
    None,
}

/// What to do with a downloaded image.
#[derive(Clone)]
pub(super) struct AfterFetch {
    pub(super) name: Option<String>,
    pub(super) cmdline: Option<String>,
    pub(super) exec: bool,
    pub(super) select: bool,
    /// The autoboot image, not one a script asked for.
    pub(super) autoboot: bool,
}

/// How deep scripts may execute scripts before the model gives up (see `Ipxe::exec`): a
/// model guard, not an iPXE limit.
pub(super) const MAX_SCRIPT_NESTING: usize = 32;

pub struct Ipxe {
    pub(super) id: Identity,
    pub(super) xid: u32,
    pub(super) settings: Settings,
    pub(super) server_mac: MacAddr,
    pub(super) images: Vec<Image>,
    pub(super) selected: Option<String>,
    pub(super) frames: Vec<Frame>,
    /// The virtual instant the work loop last ran commands at, and how many it has run at
    /// it (see [`MAX_COMMANDS_AT_ONCE`](super::outcome::MAX_COMMANDS_AT_ONCE)).
    pub(super) busy: (Instant, usize),
    pub(super) wait: Wait,
    pub(super) banner_until: Instant,
    pub(super) console: Vec<Console>,
    pub(super) end: Option<IpxeEnd>,
    pub(super) out: VecDeque<Datagram>,
    pub(super) next_port: u16,
    pub(super) menus: Vec<(String, Vec<MenuItem>)>,
    /// What the person at the console types ([`keyboard`]).
    pub(super) keyboard: Keyboard,
    /// The labels of the first menu `choose` showed, for `validate` to try each.
    pub(super) first_menu: Option<Vec<String>>,
    /// What input did, in order.
    pub(super) inputs: Vec<InputEvent>,
    /// Images downloaded so far (freed ones included).
    pub(super) fetches: usize,
    /// How long the IPv6 configurator runs with no router to answer, when modelled.
    pub(super) ipv6_gives_up: Option<Duration>,
    /// When the running `ifconf`'s IPv6 configurator gives up.
    pub(super) ipv6_until: Option<Instant>,
    /// The product version of a build from before v1.20, whose console differs.
    pub(super) legacy_version: Option<String>,
}

/// One `item` of a menu (src/hci/commands/menu_cmd.c `item_exec`): a gap has no label.
#[derive(Debug, Clone)]
pub(super) struct MenuItem {
    pub(super) label: Option<String>,
    /// `--key`: the shortcut that chooses it at once.
    pub(super) key: Option<u32>,
    /// `--default`: selected first when `choose` has no `--default`.
    pub(super) default: bool,
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

impl Ipxe {
    pub fn new(id: Identity, xid: u32) -> Ipxe {
        let settings = Settings::new(id.build, id.mac, id.uuid);
        Ipxe {
            next_port: 49152 + (xid % 8192) as u16,
            id,
            xid,
            settings,
            server_mac: MacAddr::BROADCAST,
            images: Vec::new(),
            selected: None,
            frames: Vec::new(),
            busy: (Instant::ZERO, 0),
            wait: Wait::None,
            banner_until: Instant::ZERO,
            console: Vec::new(),
            end: None,
            out: VecDeque::new(),
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

    pub(super) fn say(&mut self, at: Instant, text: impl Into<String>) {
        let mut text = text.into();
        if self.legacy_version.is_some() {
            text = text.replace("https://ipxe.org", "http://ipxe.org");
        }
        self.console.push(Console { at, text });
    }

    fn mac_text(&self) -> String {
        self.id.mac.to_string()
    }

    /// Starts iPXE at `now`: banner, then `autoboot` after the 2-second Ctrl-B prompt
    /// (`BANNER_TIMEOUT`).
    pub fn start(&mut self, now: Instant) {
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
        if let Some(d) = self.out.pop_front() {
            return Some(d);
        }
        match &mut self.wait {
            Wait::Dhcp { session, .. } => session.poll_transmit(),
            Wait::Fetch { get, .. } => get.poll_transmit(),
            _ => None,
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
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

    pub fn handle(&mut self, now: Instant, d: &Datagram) {
        self.receive(now, d);
        self.run(now);
    }

    /// A datagram for what iPXE waits for; the script carries on in [`Ipxe::handle`].
    fn receive(&mut self, now: Instant, d: &Datagram) {
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

    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire(now);
        self.run(now);
    }

    /// The timer of what iPXE waits for; the script carries on in [`Ipxe::handle_timeout`].
    fn expire(&mut self, now: Instant) {
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
                self.complete(rc);
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

    pub(super) fn start_dhcp(&mut self, now: Instant, autoboot: bool) {
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
    fn advance(&mut self, now: Instant) {
        // Most packets finish nothing: the wait is moved out only when it has.
        let finished = match &self.wait {
            Wait::Dhcp { session, .. } => session.outcome().is_some(),
            Wait::Fetch { get, .. } => get.outcome().is_some(),
            _ => false,
        };
        if !finished {
            return;
        }
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
                        self.out.push_back(d);
                    }
                    self.fetched(now, uri, then, result)
                }
            },
            other => self.wait = other,
        }
    }

    fn dhcp_done(&mut self, now: Instant, started: Instant, lease: Option<Lease>, autoboot: bool) {
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
        let dots = ".".repeat(3 + now.saturating_duration_since(started).as_secs() as usize);
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
            return self.complete(rc::ETIMEDOUT);
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
            let m = self.id.mac.octets();
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
            return self.complete(0);
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
        // Autoboot's failures give up here; there is no script to take a status.
        let _ = self.fetch(
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
    pub(super) fn give_up(&mut self, now: Instant, code: i32, reason: &str) {
        self.say(now, "No more network devices");
        self.end = Some(IpxeEnd::Returned {
            rc: code,
            reason: reason.into(),
        });
    }

    /// Starts a download of `uri` (tftp:// only; others are not supported here). A script's
    /// download that fails at once gives its status back (`Some`) for the command to return;
    /// `None` when it waits (or autoboot gave up).
    #[must_use]
    pub(super) fn fetch(&mut self, now: Instant, uri: String, then: AfterFetch) -> Option<i32> {
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
        let get = TftpGet::new(now, self.id.mac, self.server_mac, local, server, path);
        self.wait = Wait::Fetch { get, uri, then };
        None
    }

    /// A download failed: autoboot gives up, a script's command fails with `code`. The URI
    /// line already says why; `imgsingle_exec` prints "Could not boot:" only when executing
    /// fails, not when acquiring does.
    fn after_failure(&mut self, now: Instant, then: &AfterFetch, code: i32) -> Option<i32> {
        if then.autoboot {
            self.give_up(now, code, "the boot file could not be downloaded");
            return None;
        }
        Some(code)
    }

    fn fetched(
        &mut self,
        now: Instant,
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
                if let Some(code) = self.after_failure(now, &then, code) {
                    self.complete(code);
                }
                return;
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
        let status = if then.exec {
            self.exec(now, image, then.autoboot)
        } else {
            Some(0)
        };
        if let Some(code) = status {
            self.complete(code);
        }
    }

    /// image_exec: a script runs next (on top of the running one); an EFI image ends iPXE's
    /// part of the boot. `Some` is the status of an image that cannot run here, for the
    /// script's command to return; `None` when a script was pushed or iPXE's run ended.
    #[must_use]
    pub(super) fn exec(&mut self, now: Instant, image: Image, autoboot: bool) -> Option<i32> {
        if matches!(image.bytes.image(), Kind::IpxeScript) {
            // A model guard, not an iPXE limit: iPXE nests a script executed from a script on
            // its own stack (script_exec → ... → image_exec) with no depth check (src/image/
            // script.c `script_exec`, src/core/image.c `image_exec`), so one that executes
            // itself (`boot` with no argument) ends with iPXE's stack overrun, not a clean
            // error. The model keeps nested scripts as frames, and stops at a fixed depth and
            // says so rather than stacking frames without end in no virtual time.
            if self.frames.len() >= MAX_SCRIPT_NESTING {
                self.say(now, format!("{}: scripts nested too deeply", image.name));
                self.give_up(
                    now,
                    rc::ENOEXEC,
                    "iPXE scripts execute each other without end",
                );
                return None;
            }
            self.push_script(image);
            return None;
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
                self.give_up(now, rc::ENOEXEC, "iPXE cannot execute the boot file");
                return None;
            }
            return Some(rc::ENOEXEC);
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
        None
    }

    /// Notes what the console's input (or its absence) did, for the transcript: after how
    /// many downloads, so the chain can put it between the right steps.
    pub(super) fn log_input(&mut self, at: Instant, what: String) {
        self.inputs.push(InputEvent {
            at,
            after_fetches: self.fetches,
            what,
        });
    }

    pub(super) fn refuse(&mut self, command: &str, input: &Input, reason: String) -> Option<i32> {
        self.end = Some(IpxeEnd::InputRefused {
            command: command.into(),
            input: input.text(),
            reason,
        });
        None
    }

    pub(super) fn stop_waiting(&mut self, command: &str) -> Option<i32> {
        self.end = Some(IpxeEnd::WaitingForInput {
            command: command.into(),
        });
        None
    }
}
impl crate::net::lan::Station for Ipxe {
    fn poll_transmit(&mut self) -> Option<Datagram> {
        Ipxe::poll_transmit(self)
    }
    fn handle(&mut self, now: Instant, datagram: &Datagram) {
        Ipxe::handle(self, now, datagram)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Ipxe::handle_timeout(self, now)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Ipxe::poll_timeout(self)
    }
    fn finished(&self) -> bool {
        Ipxe::finished(self)
    }
}
