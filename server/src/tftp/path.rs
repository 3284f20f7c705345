//! From a requested name to a file inside the TFTP root, refusing what tftpd-hpa refuses
//! with --secure (tftpd.c `rewrite_access`/`validate_access`): `..` components, control
//! characters and NUL, names that resolve (through symlinks) outside the root. Absolute names
//! are taken relative to the root, as a chrooted tftpd-hpa sees them; without --secure, an
//! absolute name that already starts with the root's path is accepted as well (tftpd-hpa's
//! non-secure mode names files by absolute path).

use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("name contains a control character or NUL")]
    ControlCharacter,
    #[error("name contains a '..' component")]
    ParentComponent,
    #[error("name is empty")]
    Empty,
    #[error("name resolves outside the root")]
    OutsideRoot,
    #[error("not a regular file")]
    NotAFile,
    #[error("no such file")]
    NotFound,
    #[error("file already exists")]
    Exists,
}

/// Resolves `name` inside `root` (which must be canonical).
pub fn resolve(root: &Path, name: &[u8], secure: bool) -> Result<PathBuf, Refusal> {
    if name.is_empty() {
        return Err(Refusal::Empty);
    }
    if name.iter().any(|b| *b < 0x20 || *b == 0x7f) {
        return Err(Refusal::ControlCharacter);
    }
    let text = String::from_utf8_lossy(name).replace('\\', "/");
    let mut relative = Path::new(&text);
    if !secure {
        if let Ok(inside) = relative.strip_prefix(root) {
            relative = inside;
        }
    }
    let mut path = root.to_path_buf();
    for c in relative.components() {
        match c {
            Component::Normal(part) => path.push(part),
            Component::ParentDir => return Err(Refusal::ParentComponent),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    if let Some(is_file) = plain_inside(root, &path) {
        return if is_file {
            Ok(path)
        } else {
            Err(Refusal::NotAFile)
        };
    }
    let real = path.canonicalize().map_err(|_| Refusal::NotFound)?;
    if !real.starts_with(root) {
        return Err(Refusal::OutsideRoot);
    }
    if !real.is_file() {
        return Err(Refusal::NotAFile);
    }
    Ok(real)
}

/// Whether `path` (`root`, canonical, then plain components) is a regular file, when no
/// component below `root` is a symlink: then `path` is already canonical, and one `lstat`
/// per component below the root answers what `canonicalize` (a `readlink` per component of
/// the whole path: a boot storm's requests spent 5% of their time there) and `is_file`
/// would. `None`: a symlink or a missing component, left to `canonicalize`.
fn plain_inside(root: &Path, path: &Path) -> Option<bool> {
    let below = path.strip_prefix(root).ok()?;
    let mut at = root.to_path_buf();
    let mut last = None;
    for part in below.components() {
        at.push(part);
        let meta = at.symlink_metadata().ok()?;
        if meta.file_type().is_symlink() {
            return None;
        }
        last = Some(meta.is_file());
    }
    last
}

/// Where an upload of `name` goes inside `dir` (canonical): the same refusals as reads, the
/// directory it names must already exist inside `dir`, and the file itself must not exist:
/// an upload never replaces a file (tftpd-hpa without -c refuses new names; we refuse old
/// ones, so nothing served can be overwritten).
pub fn resolve_new(dir: &Path, name: &[u8]) -> Result<PathBuf, Refusal> {
    if name.is_empty() {
        return Err(Refusal::Empty);
    }
    if name.iter().any(|b| *b < 0x20 || *b == 0x7f) {
        return Err(Refusal::ControlCharacter);
    }
    let text = String::from_utf8_lossy(name).replace('\\', "/");
    let mut parts = Vec::new();
    for c in Path::new(&text).components() {
        match c {
            Component::Normal(part) => parts.push(part.to_owned()),
            Component::ParentDir => return Err(Refusal::ParentComponent),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    let file = parts.pop().ok_or(Refusal::Empty)?;
    let mut parent = dir.to_path_buf();
    parent.extend(parts);
    let parent = parent.canonicalize().map_err(|_| Refusal::NotFound)?;
    if !parent.starts_with(dir) || !parent.is_dir() {
        return Err(Refusal::OutsideRoot);
    }
    let target = parent.join(file);
    if target.symlink_metadata().is_ok() {
        return Err(Refusal::Exists);
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("ipxe.efi"), b"MZ").unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/refind.conf"), b"timeout 5").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("passwd")).unwrap();
        std::os::unix::fs::symlink("sub/refind.conf", root.join("inside")).unwrap();
        std::os::unix::fs::symlink("sub", root.join("linked")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("system")).unwrap();

        assert_eq!(resolve(&root, b"ipxe.efi", true), Ok(root.join("ipxe.efi")));
        assert_eq!(
            resolve(&root, b"/ipxe.efi", true),
            Ok(root.join("ipxe.efi"))
        );
        assert_eq!(
            resolve(&root, b"sub/refind.conf", true),
            Ok(root.join("sub/refind.conf"))
        );
        assert_eq!(
            resolve(&root, b"inside", true),
            Ok(root.join("sub/refind.conf"))
        );
        // A directory symlink is followed, and judged by where it leads.
        assert_eq!(
            resolve(&root, b"linked/refind.conf", true),
            Ok(root.join("sub/refind.conf"))
        );
        assert_eq!(
            resolve(&root, b"system/hostname", true),
            Err(Refusal::OutsideRoot)
        );
        assert_eq!(resolve(&root, b"ipxe.efi/x", true), Err(Refusal::NotFound));
        assert_eq!(
            resolve(&root, b"../../etc/passwd", true),
            Err(Refusal::ParentComponent)
        );
        assert_eq!(
            resolve(&root, b"sub/../ipxe.efi", true),
            Err(Refusal::ParentComponent)
        );
        assert_eq!(resolve(&root, b"/etc/passwd", true), Err(Refusal::NotFound));
        assert_eq!(resolve(&root, b"passwd", true), Err(Refusal::OutsideRoot));
        assert_eq!(
            resolve(&root, b"ipxe\x01.efi", true),
            Err(Refusal::ControlCharacter)
        );
        assert_eq!(resolve(&root, b"sub", true), Err(Refusal::NotAFile));
        assert_eq!(resolve(&root, b"", true), Err(Refusal::Empty));
        let absolute = format!("{}/ipxe.efi", root.display());
        assert_eq!(
            resolve(&root, absolute.as_bytes(), false),
            Ok(root.join("ipxe.efi"))
        );
    }

    #[test]
    fn uploads_land_only_as_new_files_inside_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let up = dir.path().canonicalize().unwrap();
        std::fs::create_dir(up.join("logs")).unwrap();
        std::fs::write(up.join("old"), b"x").unwrap();
        std::os::unix::fs::symlink("/tmp", up.join("out")).unwrap();
        assert_eq!(resolve_new(&up, b"new.log"), Ok(up.join("new.log")));
        assert_eq!(resolve_new(&up, b"/logs/a"), Ok(up.join("logs/a")));
        assert_eq!(resolve_new(&up, b"old"), Err(Refusal::Exists));
        assert_eq!(resolve_new(&up, b"../x"), Err(Refusal::ParentComponent));
        assert_eq!(resolve_new(&up, b"out/x"), Err(Refusal::OutsideRoot));
        assert_eq!(resolve_new(&up, b"none/x"), Err(Refusal::NotFound));
        assert_eq!(resolve_new(&up, b"a\x00b"), Err(Refusal::ControlCharacter));
    }
}
