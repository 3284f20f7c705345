//! File access for the TFTP engine, behind a small trait so that the engine decides and the
//! caller chooses how bytes reach the disk: [`Disk`] streams every transfer from its file
//! (netbootd serving a network), [`Cached`] reads each file once and shares it between
//! transfers (bootsim's in-process server, where ten thousand simulated machines fetch the
//! same ipxe.efi). Uploads go to the disk in both, through a hidden temporary file that only
//! a complete upload, synced, turns into its real name.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file's bytes from its start.
pub type Reader = Box<dyn Read + Send>;

/// How the engine reaches files it has admitted (the names are already resolved inside the
/// root or the upload directory).
pub trait Files: Send {
    /// Opens `path` for reading: its bytes and its size.
    fn open(&mut self, path: &Path) -> io::Result<(Reader, u64)>;

    /// Starts an upload that will become `target`, which must not exist by then.
    fn create(&mut self, target: &Path) -> io::Result<Box<dyn Upload>>;
}

/// An upload being received.
pub trait Upload: Write + Send {
    /// Makes the complete upload durable and visible under its name, never replacing a file
    /// (ErrorKind::AlreadyExists then). Dropping an upload without committing leaves nothing.
    fn commit(self: Box<Self>) -> io::Result<()>;
}

/// Streams from the disk: a buffered reader per transfer, never a whole file in memory.
#[derive(Debug, Default, Clone, Copy)]
pub struct Disk;

impl Files for Disk {
    fn open(&mut self, path: &Path) -> io::Result<(Reader, u64)> {
        let file = File::open(path)?;
        let size = file.metadata()?.len();
        Ok((Box::new(BufReader::with_capacity(256 * 1024, file)), size))
    }

    fn create(&mut self, target: &Path) -> io::Result<Box<dyn Upload>> {
        DiskUpload::create(target).map(|u| Box::new(u) as Box<dyn Upload>)
    }
}

/// Reads each file once and shares its bytes between transfers. Files are taken to stay as
/// they were first read: right for a simulation, not for a server whose root changes.
#[derive(Debug, Default)]
pub struct Cached {
    files: HashMap<PathBuf, Arc<[u8]>>,
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
        Disk.create(target)
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

/// An upload into `.NAME.netbootd-RANDOM` beside the target, fsynced and hard-linked under
/// the target's name on commit (a link fails when the name exists: no file is replaced),
/// removed in every case, so a crash or an abandoned transfer leaves no partial file under
/// the real name.
struct DiskUpload {
    temp: PathBuf,
    target: PathBuf,
    file: BufWriter<File>,
}

impl DiskUpload {
    fn create(target: &Path) -> io::Result<DiskUpload> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = target.with_file_name(format!(".{name}.netbootd-{}", rand::random::<u32>()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        Ok(DiskUpload {
            temp,
            target: target.to_path_buf(),
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
        std::fs::hard_link(&self.temp, &self.target)
    }
}

impl Drop for DiskUpload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.temp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_appears_only_when_committed_and_never_replaces_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("log.txt");
        let mut upload = Disk.create(&target).expect("create");
        upload.write_all(b"hello").expect("write");
        assert!(!target.exists());
        upload.commit().expect("commit");
        assert_eq!(std::fs::read(&target).expect("read"), b"hello");

        let abandoned = Disk.create(&dir.path().join("other")).expect("create");
        drop(abandoned);
        let again = Disk.create(&target).expect("create");
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
