//! Kea's memfile lease file: every lease change appended to the CSV file, the file replayed
//! into a [`LeaseTable`] at start-up, and "lease file cleanup" (LFC) that compacts it through the same
//! `.1`, `.2`, `.output` and `.completed` files kea-lfc uses (src/bin/lfc/lfc_controller.cc,
//! Memfile_LeaseMgr::lfcSetup and loadLeasesFromFiles), so Kea and kea-lfc can take over our
//! files and we can take over theirs.
//!
//! The engine decides and returns its changes; the shell hands them here before it answers
//! the client (no file I/O inside the engine, none under its lock).
//!
//! Durability: each batch of changes is one `write(2)` of whole lines on an O_APPEND
//! descriptor before the caller may answer the client, so a `kill -9` at any moment loses no acknowledged lease
//! (the kernel holds the data) and leaves at most one torn last line, which loading reports
//! and skips. [`Durability::Fsync`] adds `fdatasync(2)` per batch for power loss, at the cost
//! of one disk flush per acknowledgement (measured in the DHCP benchmark).

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::csv::{CsvError, Header, LeaseRow};
use super::{LeaseChange, LeaseTable};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// One write(2) per change: survives the process dying, not the machine.
    #[default]
    Write,
    /// write(2) then fdatasync(2): survives power loss.
    Fsync,
}

#[derive(Debug, thiserror::Error)]
pub enum MemfileError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the lease file (a second netbootd on the same file would
    /// interleave rows and lose leases; Kea refuses a second server the same way).
    #[error("{path}: in use by another process ({holder}); only one server may own a lease file")]
    Locked { path: String, holder: String },
    #[error("{path}:{source}")]
    Header {
        path: String,
        #[source]
        source: CsvError,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MemfileError + '_ {
    move |source| MemfileError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What loading found: files read, rows applied, rows refused (file and line named).
#[derive(Debug, Default)]
pub struct LoadReport {
    pub files: Vec<PathBuf>,
    pub rows: usize,
    pub errors: Vec<String>,
}

/// The lease file's companions, named as Memfile_LeaseMgr::appendSuffix names them.
fn companion(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The lease file, open for appending.
pub struct Memfile {
    path: PathBuf,
    file: Option<File>,
    /// The file's length after its last whole row (where a torn write is cut back to),
    /// kept here so a write costs no fstat.
    length: u64,
    header: Header,
    durability: Durability,
    /// `<lease file>.lock`, flock'ed for as long as this process owns the file.
    _lock: nix::fcntl::Flock<File>,
}

/// Takes `<path>.lock` (flock, exclusive, without waiting) and writes this process's id in it.
fn lock(path: &Path) -> Result<nix::fcntl::Flock<File>, MemfileError> {
    let lock_path = companion(path, ".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(mut locked) => {
            let _ = locked.set_len(0);
            let _ = writeln!(&mut *locked, "{}", std::process::id());
            Ok(locked)
        }
        Err((_, _)) => {
            let holder = fs::read_to_string(&lock_path)
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .map_or_else(|| "unknown".to_string(), |pid| format!("pid {pid}"));
            Err(MemfileError::Locked {
                path: path.display().to_string(),
                holder,
            })
        }
    }
}

impl Memfile {
    /// Loads `path` and its LFC companions, then opens it for appending (creating it with
    /// Kea's header when missing).
    /// The leases as the files hold them, and the file to record their changes in.
    pub fn open(
        path: &Path,
        durability: Durability,
    ) -> Result<(Self, LeaseTable, LoadReport), MemfileError> {
        let mut store = Memfile {
            path: path.to_path_buf(),
            file: None,
            length: 0,
            header: Header::default(),
            durability,
            _lock: lock(path)?,
        };
        let mut table = LeaseTable::new();
        let mut report = LoadReport::default();
        let completed = companion(path, ".completed");
        if completed.exists() {
            load(&mut table, &completed, &mut report)?;
        } else {
            for suffix in [".1", ".2"] {
                let p = companion(path, suffix);
                if p.exists() {
                    load(&mut table, &p, &mut report)?;
                }
            }
        }
        if path.exists() {
            if let Some(header) = load(&mut table, path, &mut report)? {
                store.header = header;
            }
        }
        store.reopen()?;
        Ok((store, table, report))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the lease file for appending, as [`Memfile::open_append`] does, and records its
    /// length.
    fn reopen(&mut self) -> Result<(), MemfileError> {
        let file = self.open_append(&self.path)?;
        self.length = file.metadata().map_err(io(&self.path))?.len();
        self.file = Some(file);
        Ok(())
    }

    fn open_append(&self, path: &Path) -> Result<File, MemfileError> {
        let fresh = !path.exists() || fs::metadata(path).map_err(io(path))?.len() == 0;
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io(path))?;
        if fresh {
            file.write_all(format!("{}\n", self.header.line()).as_bytes())
                .map_err(io(path))?;
            if self.durability == Durability::Fsync {
                file.sync_data().map_err(io(path))?;
            }
            sync_dir(self.durability, path)?;
        } else {
            // A torn last line (kill -9 mid-write never happens with one write(2), but a
            // full disk can cut one) must not glue onto the next row.
            let text = fs::read(path).map_err(io(path))?;
            if text.last() != Some(&b'\n') {
                file.write_all(b"\n").map_err(io(path))?;
            }
        }
        Ok(file)
    }

    /// Records `changes`, in order, in one write(2) (and one fdatasync with
    /// [`Durability::Fsync`]); on disk, as far as the durability promises, when this returns.
    pub fn persist(&mut self, changes: &[LeaseChange]) -> Result<(), MemfileError> {
        if changes.is_empty() {
            return Ok(());
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let mut text = String::with_capacity(128 * changes.len());
        for change in changes {
            LeaseRow::write(&self.header, &change.row(), &mut text);
            text.push('\n');
        }
        if let Err(e) = file.write_all(text.as_bytes()) {
            // A full disk (ENOSPC) can take part of the rows: cut the file back to its last
            // whole row, or the next row written would be glued to the torn one and both be
            // lost on the next load (tests/lease_enospc.rs).
            let _ = file.set_len(self.length);
            return Err(io(&self.path)(e));
        }
        self.length += text.len() as u64;
        if self.durability == Durability::Fsync {
            file.sync_data().map_err(io(&self.path))?;
        }
        Ok(())
    }

    /// Lease file cleanup as kea-lfc does it: the current file becomes `.2`, a fresh one is
    /// started, `.1` and `.2` are merged into `.output`, renamed `.completed`, then `.1`.
    /// A crash at any step leaves files that [`Memfile::open`] (and Kea) load correctly.
    pub fn compact(&mut self) -> Result<(), MemfileError> {
        self.rotate()?.run()
    }

    /// The part of [`Memfile::compact`] that touches the live file: it becomes `.2` and a
    /// fresh one takes the writes. The merge that follows reads only `.1` and `.2`, so the
    /// caller runs the returned [`Cleanup`] without this file's lock, as Kea runs kea-lfc as
    /// a process of its own while the server appends (Memfile_LeaseMgr::lfcCallback).
    pub fn rotate(&mut self) -> Result<Cleanup, MemfileError> {
        let cleanup = Cleanup {
            path: self.path.clone(),
            header: self.header.clone(),
            durability: self.durability,
        };
        let (previous, copy, _, finish) = cleanup.files();
        if finish.exists() {
            // An earlier cleanup stopped after its merge: finish it first (kea-lfc does too).
            if copy.exists() {
                fs::remove_file(&copy).map_err(io(&copy))?;
            }
            fs::rename(&finish, &previous).map_err(io(&previous))?;
        }
        if !copy.exists() {
            self.file = None;
            fs::rename(&self.path, &copy).map_err(io(&self.path))?;
            self.reopen()?;
        }
        Ok(cleanup)
    }
}

/// The merge of a lease file cleanup ([`Memfile::rotate`]): `.1` and `.2` into `.output`,
/// then `.completed`, then `.1`. Only one may run at a time for a file.
pub struct Cleanup {
    path: PathBuf,
    header: Header,
    durability: Durability,
}

impl Cleanup {
    /// `.1`, `.2`, `.output` and `.completed` beside the lease file.
    fn files(&self) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
        let p = &self.path;
        let c = |s| companion(p, s);
        (c(".1"), c(".2"), c(".output"), c(".completed"))
    }

    pub fn run(self) -> Result<(), MemfileError> {
        let (previous, copy, output, finish) = self.files();
        let mut merged = LeaseTable::new();
        let mut report = LoadReport::default();
        for p in [&previous, &copy] {
            if p.exists() {
                load(&mut merged, p, &mut report)?;
            }
        }
        {
            let mut out = File::create(&output).map_err(io(&output))?;
            let mut text = format!("{}\n", self.header.line());
            for lease in merged.iter() {
                LeaseRow::write(&self.header, lease, &mut text);
                text.push('\n');
            }
            out.write_all(text.as_bytes()).map_err(io(&output))?;
            out.sync_all().map_err(io(&output))?;
        }
        fs::rename(&output, &finish).map_err(io(&finish))?;
        fs::remove_file(&copy).map_err(io(&copy))?;
        fs::rename(&finish, &previous).map_err(io(&previous))?;
        sync_dir(self.durability, &self.path)
    }
}

/// With [`Durability::Fsync`], makes the lease file's directory entries (a new file, the
/// cleanup's renames) durable: fdatasync of a file does not promise its name (fsync(2):
/// "an explicit fsync() on a file descriptor for the directory is also needed"). ext4's
/// journal happens to commit the name with the data; other filesystems need this.
fn sync_dir(durability: Durability, path: &Path) -> Result<(), MemfileError> {
    if durability != Durability::Fsync {
        return Ok(());
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

fn load(
    table: &mut LeaseTable,
    path: &Path,
    report: &mut LoadReport,
) -> Result<Option<Header>, MemfileError> {
    let file = File::open(path).map_err(io(path))?;
    let mut lines = BufReader::new(file).lines();
    let header = match lines.next() {
        None => return Ok(None),
        Some(line) => {
            Header::parse(&line.map_err(io(path))?).map_err(|source| MemfileError::Header {
                path: path.display().to_string(),
                source,
            })?
        }
    };
    report.files.push(path.to_path_buf());
    for (i, line) in lines.enumerate() {
        let line = line.map_err(io(path))?;
        if line.trim().is_empty() {
            continue;
        }
        match LeaseRow::decode(&header, i + 2, &line) {
            Ok(lease) if lease.valid_lifetime == 0 => {
                table.remove(lease.address);
                report.rows += 1;
            }
            Ok(lease) => {
                table.insert(lease);
                report.rows += 1;
            }
            Err(e) => report.errors.push(format!("{}:{e}", path.display())),
        }
    }
    Ok(Some(header))
}
