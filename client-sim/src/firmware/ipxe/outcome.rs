//! What iPXE's run leaves behind: its status codes and their console text, the images it
//! holds, the console lines, what input did, and how the run ended.

use netbootd::time::Instant;

use crate::content::Content;

/// iPXE's rc values for the errors scripts meet (negative errno, as iPXE returns them).
pub mod rc {
    pub const ENOENT: i32 = -2;
    pub const ENOEXEC: i32 = -8;
    pub const ENODEV: i32 = -19;
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
    pub at: Instant,
    /// How many images iPXE had downloaded before this one (orders it among inputs).
    #[serde(skip)]
    pub seq: usize,
}

/// What a command waiting for input did with it (or without it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputEvent {
    pub at: Instant,
    /// How many images had been downloaded when it happened.
    pub after_fetches: usize,
    pub what: String,
}

/// How many commands a script may run at one virtual instant before the model calls it a
/// loop that never ends ([`IpxeEnd::Spins`]): a model guard, not an iPXE limit. iPXE runs a
/// script's commands back to back (src/image/script.c `process_script` → src/core/exec.c
/// `system`) with no timer or network step between them unless a command waits, so such a
/// loop never ends and no time passes; the model must end it to return at all. Real scripts
/// run a few hundred commands between waits at most.
pub const MAX_COMMANDS_AT_ONCE: usize = 1_000_000;

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
    /// The script loops through commands that all finish at once (`:a` `goto a`): iPXE
    /// would run them for ever with no time passing; the model stops after
    /// [`MAX_COMMANDS_AT_ONCE`] of them. `command` is the last one.
    Spins { command: String },
}

/// A console line at a virtual time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Console {
    pub at: Instant,
    pub text: String,
}
