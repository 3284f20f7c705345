//! Kea's memfile lease store: all leases in memory, every change appended to the CSV file, the
//! file replayed at start-up, and "lease file cleanup" (LFC) that compacts it through the same
//! `.1`, `.2`, `.output` and `.completed` files kea-lfc uses (src/bin/lfc/lfc_controller.cc,
//! Memfile_LeaseMgr::lfcSetup and loadLeasesFromFiles), so Kea and kea-lfc can take over our
//! files and we can take over theirs.
//!
//! Durability: each change is one `write(2)` of a whole line on an O_APPEND descriptor before
//! the caller may answer the client, so a `kill -9` at any moment loses no acknowledged lease
//! (the kernel holds the data) and leaves at most one torn last line, which loading reports
//! and skips. [`Durability::Fsync`] adds `fdatasync(2)` per change for power loss, at the cost
//! of one disk flush per acknowledgement (measured in the DHCP benchmark).

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::csv::{CsvError, Header, LeaseRow};
use super::Lease;

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

pub struct Memfile {
    path: Option<PathBuf>,
    file: Option<File>,
    header: Header,
    durability: Durability,
    leases: BTreeMap<Ipv4Addr, Lease>,
    /// (subnet id, client id) and (subnet id, hardware address) to address, so finding a
    /// client's lease costs the same with ten leases or a million (Kea's multi-index).
    by_client_id: HashMap<(u32, Vec<u8>), Ipv4Addr>,
    by_hwaddr: HashMap<(u32, Vec<u8>), Ipv4Addr>,
}

impl Memfile {
    /// `persist: false`: leases live only in memory.
    pub fn in_memory() -> Self {
        Memfile {
            path: None,
            file: None,
            header: Header::default(),
            durability: Durability::Write,
            leases: BTreeMap::new(),
            by_client_id: HashMap::new(),
            by_hwaddr: HashMap::new(),
        }
    }

    fn index(&mut self, lease: Lease) {
        self.unindex(lease.address);
        if let Some(id) = &lease.client_id {
            self.by_client_id
                .insert((lease.subnet_id, id.clone()), lease.address);
        }
        if !lease.hwaddr.is_empty() {
            self.by_hwaddr
                .insert((lease.subnet_id, lease.hwaddr.clone()), lease.address);
        }
        self.leases.insert(lease.address, lease);
    }

    fn unindex(&mut self, address: Ipv4Addr) -> Option<Lease> {
        let old = self.leases.remove(&address)?;
        if let Some(id) = &old.client_id {
            let key = (old.subnet_id, id.clone());
            if self.by_client_id.get(&key) == Some(&address) {
                self.by_client_id.remove(&key);
            }
        }
        let key = (old.subnet_id, old.hwaddr.clone());
        if self.by_hwaddr.get(&key) == Some(&address) {
            self.by_hwaddr.remove(&key);
        }
        Some(old)
    }

    /// Loads `path` and its LFC companions, then opens it for appending (creating it with
    /// Kea's header when missing).
    pub fn open(path: &Path, durability: Durability) -> Result<(Self, LoadReport), MemfileError> {
        let mut store = Memfile {
            path: Some(path.to_path_buf()),
            file: None,
            header: Header::default(),
            durability,
            leases: BTreeMap::new(),
            by_client_id: HashMap::new(),
            by_hwaddr: HashMap::new(),
        };
        let mut report = LoadReport::default();
        let completed = companion(path, ".completed");
        if completed.exists() {
            store.load(&completed, &mut report)?;
        } else {
            for suffix in [".1", ".2"] {
                let p = companion(path, suffix);
                if p.exists() {
                    store.load(&p, &mut report)?;
                }
            }
        }
        if path.exists() {
            if let Some(header) = store.load(path, &mut report)? {
                store.header = header;
            }
        }
        store.file = Some(store.open_append(path)?);
        Ok((store, report))
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

    /// Replays one file: later rows replace earlier ones, valid_lifetime 0 deletes
    /// (LeaseFileLoader::load). Returns the file's header.
    fn load(
        &mut self,
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
                    self.unindex(lease.address);
                    report.rows += 1;
                }
                Ok(lease) => {
                    self.index(lease);
                    report.rows += 1;
                }
                Err(e) => report.errors.push(format!("{}:{e}", path.display())),
            }
        }
        Ok(Some(header))
    }

    fn append(&mut self, lease: &Lease) -> Result<(), MemfileError> {
        let (Some(file), Some(path)) = (self.file.as_mut(), self.path.as_ref()) else {
            return Ok(());
        };
        let line = format!("{}\n", LeaseRow::encode(&self.header, lease));
        file.write_all(line.as_bytes()).map_err(io(path))?;
        if self.durability == Durability::Fsync {
            file.sync_data().map_err(io(path))?;
        }
        Ok(())
    }

    /// Adds or replaces the lease for its address; on disk before this returns.
    pub fn upsert(&mut self, lease: Lease) -> Result<(), MemfileError> {
        self.append(&lease)?;
        self.index(lease);
        Ok(())
    }

    /// Removes a lease; Kea records that as the lease with valid_lifetime 0.
    pub fn delete(&mut self, address: Ipv4Addr) -> Result<Option<Lease>, MemfileError> {
        let Some(mut gone) = self.leases.get(&address).cloned() else {
            return Ok(None);
        };
        gone.valid_lifetime = 0;
        self.append(&gone)?;
        Ok(self.unindex(address))
    }

    pub fn get(&self, address: Ipv4Addr) -> Option<&Lease> {
        self.leases.get(&address)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Lease> {
        self.leases.values()
    }

    pub fn len(&self) -> usize {
        self.leases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }

    /// The lease a client holds in a subnet, by client id first when `by_client_id`
    /// (match-client-id), else by hardware address.
    pub fn find_client(
        &self,
        subnet_id: u32,
        hwaddr: &[u8],
        client_id: Option<&[u8]>,
    ) -> Option<&Lease> {
        let by_id = client_id
            .and_then(|c| self.by_client_id.get(&(subnet_id, c.to_vec())))
            .and_then(|a| self.leases.get(a));
        by_id.or_else(|| {
            (!hwaddr.is_empty())
                .then(|| self.by_hwaddr.get(&(subnet_id, hwaddr.to_vec())))
                .flatten()
                .and_then(|a| self.leases.get(a))
                .filter(|l| client_id.is_none() || l.client_id.is_none())
        })
    }

    /// Lease file cleanup as kea-lfc does it: the current file becomes `.2`, a fresh one is
    /// started, `.1` and `.2` are merged into `.output`, renamed `.completed`, then `.1`.
    /// A crash at any step leaves files that [`Memfile::open`] (and Kea) load correctly.
    pub fn compact(&mut self) -> Result<(), MemfileError> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let previous = companion(&path, ".1");
        let copy = companion(&path, ".2");
        let output = companion(&path, ".output");
        let finish = companion(&path, ".completed");
        if finish.exists() {
            // An earlier cleanup stopped after its merge: finish it first (kea-lfc does too).
            if copy.exists() {
                fs::remove_file(&copy).map_err(io(&copy))?;
            }
            fs::rename(&finish, &previous).map_err(io(&previous))?;
        }
        if !copy.exists() {
            self.file = None;
            fs::rename(&path, &copy).map_err(io(&path))?;
            self.file = Some(self.open_append(&path)?);
        }
        let mut merged = Memfile::in_memory();
        let mut report = LoadReport::default();
        for p in [&previous, &copy] {
            if p.exists() {
                merged.load(p, &mut report)?;
            }
        }
        {
            let mut out = File::create(&output).map_err(io(&output))?;
            let mut text = format!("{}\n", self.header.line());
            for lease in merged.iter() {
                text.push_str(&LeaseRow::encode(&self.header, lease));
                text.push('\n');
            }
            out.write_all(text.as_bytes()).map_err(io(&output))?;
            out.sync_all().map_err(io(&output))?;
        }
        fs::rename(&output, &finish).map_err(io(&finish))?;
        fs::remove_file(&copy).map_err(io(&copy))?;
        fs::rename(&finish, &previous).map_err(io(&previous))?;
        Ok(())
    }
}
