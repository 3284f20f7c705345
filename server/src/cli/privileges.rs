//! `serve --user`: started as root, netbootd becomes an unprivileged user before it opens
//! anything, keeping only the two capabilities a DHCP and TFTP server needs (CAP_NET_RAW for
//! Kea's raw AF_PACKET sockets, CAP_NET_BIND_SERVICE for ports 67 and 69): what systemd's
//! `User=` with `AmbientCapabilities=` does for netbootd.service, for a server started by
//! hand or by another init. It runs before the first thread exists, so every thread the
//! runtime starts inherits exactly these credentials.

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
