//! The client's disks as rEFInd sees them: volumes with files. Declared in a scenario
//! (files on each ESP), or read from a real GPT disk image with FAT partitions (crates
//! `gpt` and `fatfs`), so an operator can boot the image of a real machine's disk.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// A file system rEFInd can scan. Paths use `\` and are matched case-insensitively, as
/// on FAT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Volume {
    pub label: String,
    /// The EFI System Partition type.
    pub esp: bool,
    /// Files in directory order: `EFI\debian\grubx64.efi`.
    pub files: Vec<(String, Vec<u8>)>,
}

impl Volume {
    pub fn new(label: &str) -> Volume {
        Volume {
            label: label.into(),
            esp: true,
            files: Vec::new(),
        }
    }

    pub fn with_file(mut self, path: &str, bytes: Vec<u8>) -> Volume {
        self.files.push((normalize(path), bytes));
        self
    }

    pub fn get(&self, path: &str) -> Option<&[u8]> {
        let want = normalize(path);
        self.files
            .iter()
            .find(|(p, _)| p.eq_ignore_ascii_case(&want))
            .map(|(_, b)| b.as_slice())
    }

    /// Files directly in `dir` (no leading `\`; "" is the root), in directory order.
    pub fn files_in(&self, dir: &str) -> Vec<(&str, &[u8])> {
        let dir = normalize(dir);
        self.files
            .iter()
            .filter_map(|(p, b)| {
                let (parent, name) = p.rsplit_once('\\').unwrap_or(("", p));
                parent
                    .eq_ignore_ascii_case(&dir)
                    .then_some((name, b.as_slice()))
            })
            .collect()
    }

    /// Sub-directories of `dir`, in the order they first appear.
    pub fn dirs_in(&self, dir: &str) -> Vec<String> {
        let dir = normalize(dir);
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}\\")
        };
        let mut out: Vec<String> = Vec::new();
        for (p, _) in &self.files {
            if p.len() <= prefix.len() || !p[..prefix.len()].eq_ignore_ascii_case(&prefix) {
                continue;
            }
            if let Some((sub, _)) = p[prefix.len()..].split_once('\\') {
                if !out.iter().any(|d| d.eq_ignore_ascii_case(sub)) {
                    out.push(sub.to_string());
                }
            }
        }
        out
    }
}

/// `\`-separated, no leading separator.
pub fn normalize(path: &str) -> String {
    path.replace('/', "\\").trim_start_matches('\\').to_string()
}

/// A disk: where it is attached and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    pub name: String,
    /// Internal (SATA, NVMe) rather than USB/FireWire: what `scanfor internal` scans.
    pub internal: bool,
    pub volumes: Vec<Volume>,
}

#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("{path}: {message}")]
    Image { path: String, message: String },
}

/// A partition of an image file, as a stream (fatfs wants Read + Write + Seek; writes fail).
struct Slice<'a> {
    file: &'a std::fs::File,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for Slice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        if n == 0 {
            return Ok(0);
        }
        let mut f = self.file;
        f.seek(SeekFrom::Start(self.start + self.pos))?;
        let got = f.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl Write for Slice<'_> {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::PermissionDenied, "read-only"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for Slice<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => self.len as i128 + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if pos < 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "before the start",
            ));
        }
        self.pos = pos as u64;
        Ok(self.pos)
    }
}

fn walk<T: fatfs::ReadWriteSeek>(
    dir: fatfs::Dir<'_, T>,
    prefix: &str,
    out: &mut Vec<(String, Vec<u8>)>,
    depth: usize,
) -> io::Result<()> {
    if depth > 16 {
        return Ok(());
    }
    for entry in dir.iter() {
        let entry = entry?;
        let name = entry.file_name();
        if name == "." || name == ".." {
            continue;
        }
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}\\{name}")
        };
        if entry.is_dir() {
            walk(entry.to_dir(), &path, out, depth + 1)?;
        } else {
            let mut bytes = Vec::new();
            entry.to_file().read_to_end(&mut bytes)?;
            out.push((path, bytes));
        }
    }
    Ok(())
}

impl Disk {
    /// Reads a GPT disk image: every partition with a FAT file system becomes a volume
    /// (others are skipped, as rEFInd skips what the firmware has no driver for).
    pub fn from_image(path: &Path, internal: bool) -> Result<Disk, DiskError> {
        let shown = path.display().to_string();
        let err = |message: String| DiskError::Image {
            path: shown.clone(),
            message,
        };
        let gpt = gpt::GptConfig::new()
            .writable(false)
            .open(path)
            .map_err(|e| err(format!("no GPT partition table: {e}")))?;
        let block = *gpt.logical_block_size();
        let file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
        let mut volumes = Vec::new();
        for (number, part) in gpt.partitions() {
            let (Ok(start), Ok(len)) = (part.bytes_start(block), part.bytes_len(block)) else {
                continue;
            };
            let slice = Slice {
                file: &file,
                start,
                len,
                pos: 0,
            };
            let Ok(fs) = fatfs::FileSystem::new(slice, fatfs::FsOptions::new()) else {
                continue;
            };
            let mut files = Vec::new();
            walk(fs.root_dir(), "", &mut files, 0)
                .map_err(|e| err(format!("partition {number}: {e}")))?;
            let label = fs.volume_label().trim().to_string();
            volumes.push(Volume {
                label: if label.is_empty() || label == "NO NAME" {
                    part.name.clone()
                } else {
                    label
                },
                esp: part.part_type_guid.guid == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
                files,
            });
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| shown.clone());
        Ok(Disk {
            name,
            internal,
            volumes,
        })
    }
}
