//! `serve --user`: started as root, netbootd becomes an unprivileged user before it opens
//! anything, keeping only the two capabilities a DHCP and TFTP server needs (CAP_NET_RAW for
//! Kea's raw AF_PACKET sockets, CAP_NET_BIND_SERVICE for ports 67 and 69): what systemd's
//! `User=` with `AmbientCapabilities=`, `CapabilityBoundingSet=` and `NoNewPrivileges=` does
//! for netbootd.service, for a server started by hand or by another init. It runs before the first thread exists, so every thread the
//! runtime starts inherits exactly these credentials.
//!
//! [`confine`] goes further than tftpd-hpa does: in.tftpd (tftpd/tftpd.c, main(), in the
//! forked child per request) only calls initgroups (or setgroups(0, NULL)), chroot with
//! --secure, setregid and setreuid; it leaves the capability bounding set and no_new_privs
//! as it found them, so a program it could be tricked into exec'ing could still gain
//! privileges from file capabilities or set-uid bits. netbootd never execs anything, and
//! says so to the kernel: every capability it does not keep leaves the bounding set
//! (PR_CAPBSET_DROP), the ambient set is emptied, and PR_SET_NO_NEW_PRIVS is set.

use nix::libc;
use nix::unistd::{setgid, setgroups, setuid, Uid, User};

pub const CAP_NET_BIND_SERVICE: u32 = 10;
pub const CAP_NET_RAW: u32 = 13;

#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("--user {0}: no such user")]
    NoUser(String),
    #[error("--user {user}: only root can become another user")]
    NotRoot { user: String },
    #[error("confining the process: {call}: {source}")]
    Confine {
        call: &'static str,
        source: nix::Error,
    },
    #[error("--user {user}: {call}: {source}")]
    Call {
        user: String,
        call: &'static str,
        source: nix::Error,
    },
}

/// Becomes `name` (its uid, gid and only its primary group), keeping `keep` (capability
/// numbers) effective and permitted, nothing inheritable. Not root: fine when already `name`.
pub fn become_user(name: &str, keep: &[u32]) -> Result<(), PrivilegeError> {
    let call = |call: &'static str| {
        move |source| PrivilegeError::Call {
            user: name.to_string(),
            call,
            source,
        }
    };
    let user = User::from_name(name)
        .map_err(call("getpwnam"))?
        .ok_or_else(|| PrivilegeError::NoUser(name.to_string()))?;
    if !Uid::effective().is_root() {
        if Uid::effective() == user.uid {
            return Ok(());
        }
        return Err(PrivilegeError::NotRoot {
            user: name.to_string(),
        });
    }
    // Keep the permitted set across setuid (capabilities(7), "Effect of user ID changes"),
    // then make the kept ones effective again: setuid clears the effective set.
    nix::sys::prctl::set_keepcaps(true).map_err(call("prctl(PR_SET_KEEPCAPS)"))?;
    setgroups(&[user.gid]).map_err(call("setgroups"))?;
    setgid(user.gid).map_err(call("setgid"))?;
    setuid(user.uid).map_err(call("setuid"))?;
    capset(keep).map_err(call("capset"))?;
    nix::sys::prctl::set_keepcaps(false).map_err(call("prctl(PR_SET_KEEPCAPS)"))?;
    Ok(())
}

/// As root, before any thread exists (prctl acts on the calling thread, and threads inherit
/// from it): removes every capability but `keep` from the bounding set, empties the ambient
/// set and sets no_new_privs, so nothing netbootd could be made to exec ever gains a
/// capability or a set-uid identity (capabilities(7), "Capability bounding set";
/// prctl(2) PR_SET_NO_NEW_PRIVS). The running process keeps its own capabilities until
/// [`become_user`] or the TFTP_USERNAME switch gives them up; no-op when not root.
pub fn confine(keep: &[u32]) -> Result<(), PrivilegeError> {
    if !Uid::effective().is_root() {
        return Ok(());
    }
    let call = |call: &'static str| move |source| PrivilegeError::Confine { call, source };
    // PR_CAPBSET_DROP needs CAP_SETPCAP, which root has until it changes user: drop first.
    for cap in 0..=last_cap() {
        if keep.contains(&cap) {
            continue;
        }
        // SAFETY: prctl(2) with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if rc != 0 {
            let e = nix::Error::last();
            // A capability newer than the running kernel: nothing to drop.
            if e == nix::Error::EINVAL {
                break;
            }
            return Err(call("prctl(PR_CAPBSET_DROP)")(e));
        }
    }
    // SAFETY: prctl(2) with integer arguments only.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if rc != 0 {
        return Err(call("prctl(PR_CAP_AMBIENT_CLEAR_ALL)")(nix::Error::last()));
    }
    nix::sys::prctl::set_no_new_privs().map_err(call("prctl(PR_SET_NO_NEW_PRIVS)"))
}

/// The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap; 40,
/// CAP_CHECKPOINT_RESTORE, since Linux 5.9 when /proc cannot tell).
fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(40)
}

/// capset(2), version 3 (two 32-bit words per set), on the calling thread.
fn capset(keep: &[u32]) -> nix::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mask = keep.iter().fold(0u64, |m, c| m | 1 << c);
    let word = |w: u32| Data {
        effective: w,
        permitted: w,
        inheritable: 0,
    };
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [word(mask as u32), word((mask >> 32) as u32)];
    // SAFETY: capset(2) reads one header and two data structs laid out as the kernel's
    // __user_cap_header_struct and __user_cap_data_struct; both live across the call.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(nix::Error::last())
    }
}
