//! File access for the TFTP engine, behind a small trait so that the engine decides and the
//! caller chooses how bytes reach the disk: [`Disk`] streams every transfer from its file
//! (netbootd serving a network), [`Cached`] reads each file once and shares it between
//! transfers (bootsim's in-process server, where ten thousand simulated machines fetch the
//! same ipxe.efi). Uploads go through a hidden temporary file that only a complete upload,
//! synced, turns into its real name.
//!
//! [`Disk`] opens every file with openat2(2) beneath a descriptor of the root taken at start
//! (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), so a symlink swapped in between the name checks
//! ([`super::path`], which give the error messages) and the open cannot lead outside the root,
//! and only regular files are served.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

use crate::wire::payload::Blocks;

/// A file's bytes from its start.
pub type Reader = Box<dyn Read + Send>;

/// How the engine reaches files it has admitted (the names are already resolved inside the
/// root or the upload directory).
pub trait Files: Send {
    /// Opens `path` for reading: its bytes and its size.
    fn open(&mut self, path: &Path) -> io::Result<(Reader, u64)>;

    /// Starts an upload that will become `target`, which must not exist by then.
    fn create(&mut self, target: &Path) -> io::Result<Box<dyn Upload>>;

    /// `path` (opened already) framed as DATA packets of `blksize`, when these files share
    /// one copy between transfers ([`Cached`]); `None` reads each transfer from its source.
    fn blocks(&mut self, _path: &Path, _blksize: usize) -> Option<Arc<Blocks>> {
        None
    }
}

/// An upload being received.
pub trait Upload: Write + Send {
    /// Makes the complete upload durable and visible under its name, never replacing a file
    /// (ErrorKind::AlreadyExists then). Dropping an upload without committing leaves nothing.
    fn commit(self: Box<Self>) -> io::Result<()>;
}

/// Streams from the disk: a buffered reader per transfer, never a whole file in memory, each
/// opened beneath the root's descriptor.
#[derive(Debug)]
pub struct Disk {
    root: Beneath,
    upload: Option<Beneath>,
}

/// A directory's descriptor and path, to open names beneath it only.
#[derive(Debug)]
struct Beneath {
    dir: OwnedFd,
    path: PathBuf,
}

impl Beneath {
    fn new(path: &Path) -> io::Result<Beneath> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        // SAFETY: `open` returned a new descriptor that nothing else owns.
        let dir = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Beneath {
            dir,
            path: path.to_path_buf(),
        })
    }

    /// Opens the directory again by its path when the one held was removed (a root deleted
    /// and recreated, e.g. by a deployment that swaps it): the new one is served, not the
    /// empty husk of the old. A directory still linked is kept, so a rename of a parent or
    /// a symlink swapped onto the path never moves the root.
    fn refresh(&mut self) {
        let removed = nix::sys::stat::fstat(self.dir.as_raw_fd()).is_ok_and(|st| st.st_nlink == 0);
        if removed {
            if let Ok(again) = Beneath::new(&self.path) {
                *self = again;
            }
        }
    }

    /// `path` (absolute, checked by the caller to lie under this directory) relative to it.
    fn relative<'a>(&self, path: &'a Path) -> io::Result<&'a Path> {
        path.strip_prefix(&self.path).map_err(|_| {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                "outside the served directory",
            )
        })
    }

    /// openat2 beneath the directory: no `..`, absolute or magic link can leave it, whatever
    /// was swapped in since the name was checked (EXDEV then).
    fn open(&self, relative: &Path, flags: OFlag, mode: Mode) -> io::Result<OwnedFd> {
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .mode(mode)
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let name = if relative.as_os_str().is_empty() {
            Path::new(".")
        } else {
            relative
        };
        let fd = openat2(self.dir.as_raw_fd(), name, how)?;
        // SAFETY: openat2 returned a new descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

impl Disk {
    /// Files beneath `root`, uploads beneath `upload` (both canonical).
    pub fn new(root: &Path, upload: Option<&Path>) -> io::Result<Disk> {
        Ok(Disk {
            root: Beneath::new(root)?,
            upload: upload.map(Beneath::new).transpose()?,
        })
    }
}

impl Files for Disk {
    fn open(&mut self, path: &Path) -> io::Result<(Reader, u64)> {
        self.root.refresh();
        let relative = self.root.relative(path)?;
        let fd = self.root.open(relative, OFlag::O_RDONLY, Mode::empty())?;
        let file = File::from(fd);
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "not a regular file",
            ));
        }
        Ok((Box::new(Ramp::new(file)), meta.len()))
    }

    fn create(&mut self, target: &Path) -> io::Result<Box<dyn Upload>> {
        let upload = self.upload.as_ref().ok_or_else(|| {
            io::Error::new(io::ErrorKind::PermissionDenied, "uploads are not enabled")
        })?;
        let relative = upload.relative(target)?;
        let parent = relative.parent().unwrap_or(Path::new(""));
        let name = relative
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
        let dir = upload.open(parent, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty())?;
        DiskUpload::create(dir, Path::new(name)).map(|u| Box::new(u) as Box<dyn Upload>)
    }
}

/// The first read-ahead of a transfer, and the largest.
const RAMP_FIRST: usize = 4 * 1024;
const RAMP_MAX: usize = 256 * 1024;

/// Reads ahead in chunks that double from 4 KiB to 256 KiB. A transfer that stalls after its
/// first block holds 4 KiB: a slow-read flood (thousands of requests never acknowledged,
/// tests/flood_tftp.rs) took 256 KiB of memory each with a fixed 256 KiB buffer (750 MiB for
/// 3,000), while one that streams reaches the large reads within a few blocks.
struct Ramp {
    file: File,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    next: usize,
}

impl Ramp {
    fn new(file: File) -> Ramp {
        Ramp {
            file,
            buf: Vec::new(),
            pos: 0,
            len: 0,
            next: RAMP_FIRST,
        }
    }
}

impl Read for Ramp {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            if out.len() >= self.next {
                return self.file.read(out);
            }
            self.buf.resize(self.next, 0);
            self.len = self.file.read(&mut self.buf)?;
            self.pos = 0;
            self.next = (self.next * 2).min(RAMP_MAX);
        }
        let n = (self.len - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Reads each file once and shares its bytes between transfers. Files are taken to stay as
/// they were first read: right for a simulation, not for a server whose root changes.
#[derive(Debug, Default)]
pub struct Cached {
    files: HashMap<PathBuf, Arc<[u8]>>,
    /// Files framed as DATA packets, by path and block size (built on first use).
    blocks: HashMap<(PathBuf, usize), Arc<Blocks>>,
}

impl Files for Cached {
    fn open(&mut self, path: &Path) -> io::Result<(Reader, u64)> {
        let data = match self.files.get(path) {
            Some(data) => data.clone(),
            None => {
                let data: Arc<[u8]> = std::fs::read(path)?.into();
                self.files.insert(path.to_path_buf(), data.clone());
                data
            }
        };
        let size = data.len() as u64;
        Ok((Box::new(Shared { data, pos: 0 }), size))
    }

    fn create(&mut self, target: &Path) -> io::Result<Box<dyn Upload>> {
        let parent = target.parent().unwrap_or(Path::new("/"));
        let dir = Beneath::new(parent)?.dir;
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
        DiskUpload::create(dir, Path::new(name)).map(|u| Box::new(u) as Box<dyn Upload>)
    }

    fn blocks(&mut self, path: &Path, blksize: usize) -> Option<Arc<Blocks>> {
        let key = (path.to_path_buf(), blksize);
        if let Some(b) = self.blocks.get(&key) {
            return Some(b.clone());
        }
        let b = Blocks::new(self.files.get(path)?, blksize);
        self.blocks.insert(key, b.clone());
        Some(b)
    }
}

/// A transfer's read position in a shared file.
struct Shared {
    data: Arc<[u8]>,
    pos: usize,
}

impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// An upload into `.NAME.netbootd-RANDOM` in the target's directory (held by descriptor, so
/// it cannot be swapped), fsynced and hard-linked under the target's name on commit (linkat
/// fails when the name exists: no file is replaced), removed in every case, so a crash or an
/// abandoned transfer leaves no partial file under the real name.
struct DiskUpload {
    dir: OwnedFd,
    temp: PathBuf,
    name: PathBuf,
    file: BufWriter<File>,
}

impl DiskUpload {
    fn create(dir: OwnedFd, name: &Path) -> io::Result<DiskUpload> {
        let temp = PathBuf::from(format!(
            ".{}.netbootd-{}",
            name.to_string_lossy(),
            rand::random::<u32>()
        ));
        let fd = nix::fcntl::openat(
            Some(dir.as_raw_fd()),
            &temp,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )?;
        // SAFETY: openat returned a new descriptor that nothing else owns.
        let file = unsafe { File::from_raw_fd(fd) };
        Ok(DiskUpload {
            dir,
            temp,
            name: name.to_path_buf(),
            file: BufWriter::with_capacity(256 * 1024, file),
        })
    }
}

impl Write for DiskUpload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Upload for DiskUpload {
    fn commit(mut self: Box<Self>) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_all()?;
        nix::unistd::linkat(
            Some(self.dir.as_raw_fd()),
            &self.temp,
            Some(self.dir.as_raw_fd()),
            &self.name,
            nix::fcntl::AtFlags::empty(),
        )?;
        Ok(())
    }
}

impl Drop for DiskUpload {
    fn drop(&mut self) {
        let _ = nix::unistd::unlinkat(
            Some(self.dir.as_raw_fd()),
            &self.temp,
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_appears_only_when_committed_and_never_replaces_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = dir.path().canonicalize().expect("canonical");
        let mut disk = Disk::new(&base, Some(&base)).expect("disk");
        let target = base.join("log.txt");
        let mut upload = disk.create(&target).expect("create");
        upload.write_all(b"hello").expect("write");
        assert!(!target.exists());
        upload.commit().expect("commit");
        assert_eq!(std::fs::read(&target).expect("read"), b"hello");

        let abandoned = disk.create(&base.join("other")).expect("create");
        drop(abandoned);
        let again = disk.create(&target).expect("create");
        let err = again.commit().expect_err("the name exists");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["log.txt"], "no temporary file left behind");
    }

    #[test]
    fn cached_files_are_read_once_and_shared() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ipxe.efi");
        std::fs::write(&path, b"MZ first").expect("write");
        let mut cache = Cached::default();
        let (mut a, size) = cache.open(&path).expect("open");
        std::fs::write(&path, b"changed").expect("write");
        let (mut b, _) = cache.open(&path).expect("open");
        let (mut x, mut y) = (Vec::new(), Vec::new());
        a.read_to_end(&mut x).expect("read");
        b.read_to_end(&mut y).expect("read");
        assert_eq!(
            (size, &x[..], &y[..]),
            (8, &b"MZ first"[..], &b"MZ first"[..])
        );
    }
}

#[cfg(test)]
mod ramp_tests {
    use super::*;

    #[test]
    fn ramp_reads_every_byte_in_order_whatever_the_read_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..1_000_003u32).map(|i| (i * 7 + i / 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        for sizes in [&[512usize][..], &[1468, 65464, 3], &[300_000, 1]] {
            let mut r = Ramp::new(File::open(&path).unwrap());
            let mut got = Vec::new();
            let mut i = 0;
            loop {
                let mut chunk = vec![0u8; sizes[i % sizes.len()]];
                i += 1;
                let n = r.read(&mut chunk).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&chunk[..n]);
            }
            assert_eq!(got, data, "{sizes:?}");
        }
        // A transfer that stops after its first block holds the first read-ahead only.
        let mut r = Ramp::new(File::open(&path).unwrap());
        r.read_exact(&mut [0u8; 512]).unwrap();
        assert_eq!(r.buf.len(), RAMP_FIRST);
    }
}
