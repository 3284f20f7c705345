//! Where Kea's `output_options` send lines: the console, a file rotated as log4cplus's
//! RollingFileAppender rotates it (past `maxsize` bytes the file becomes `.1`, `.1` becomes
//! `.2`, up to `maxver`), or syslog (`syslog` or `syslog:NAME`: RFC 3164 datagrams to
//! /dev/log under the daemon facility, as Kea's SysLogAppender sends them).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;

use super::pattern::{Pattern, DEFAULT, SYSLOG};
use crate::kea::model::LogOutput;

pub enum Sink {
    Stdout,
    Stderr,
    File(RollingFile),
    Syslog { socket: UnixDatagram, ident: String },
}

pub struct Destination {
    pub sink: Sink,
    pub pattern: Pattern,
    pub flush: bool,
}

pub struct RollingFile {
    path: PathBuf,
    file: File,
    size: u64,
    maxsize: u64,
    maxver: u32,
}

impl RollingFile {
    fn open(path: PathBuf, maxsize: u64, maxver: u32) -> io::Result<RollingFile> {
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(RollingFile {
            path,
            file,
            size,
            maxsize,
            maxver,
        })
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        for n in (1..self.maxver).rev() {
            let from = self.numbered(n);
            if from.exists() {
                std::fs::rename(&from, self.numbered(n + 1))?;
            }
        }
        if self.maxver > 0 {
            std::fs::rename(&self.path, self.numbered(1))?;
        } else {
            std::fs::remove_file(&self.path)?;
        }
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }

    fn write_line(&mut self, line: &str) -> io::Result<()> {
        if self.maxsize > 0 && self.size + line.len() as u64 > self.maxsize && self.size > 0 {
            self.rotate()?;
        }
        self.file.write_all(line.as_bytes())?;
        self.size += line.len() as u64;
        Ok(())
    }
}

impl Destination {
    pub fn open(option: &LogOutput) -> io::Result<Destination> {
        let (sink, default) = match option.output.as_str() {
            "stdout" => (Sink::Stdout, DEFAULT),
            "stderr" => (Sink::Stderr, DEFAULT),
            syslog if syslog == "syslog" || syslog.starts_with("syslog:") => {
                let socket = UnixDatagram::unbound()?;
                socket.connect("/dev/log")?;
                let ident = syslog
                    .strip_prefix("syslog:")
                    .filter(|n| !n.is_empty())
                    .unwrap_or("kea-dhcp4")
                    .to_string();
                (Sink::Syslog { socket, ident }, SYSLOG)
            }
            path => (
                Sink::File(RollingFile::open(
                    PathBuf::from(path),
                    option.maxsize,
                    option.maxver,
                )?),
                DEFAULT,
            ),
        };
        Ok(Destination {
            sink,
            pattern: Pattern::parse(option.pattern.as_deref().unwrap_or(default)),
            flush: option.flush,
        })
    }

    /// Writes one rendered line; `severity` picks the syslog priority.
    pub fn write(&mut self, line: &str, severity: &str) -> io::Result<()> {
        match &mut self.sink {
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(line.as_bytes())?;
                if self.flush {
                    out.flush()?;
                }
            }
            Sink::Stderr => io::stderr().lock().write_all(line.as_bytes())?,
            Sink::File(f) => {
                f.write_line(line)?;
                if self.flush {
                    f.file.flush()?;
                }
            }
            Sink::Syslog { socket, ident } => {
                // Facility daemon (3), the severity's priority.
                let priority = match severity {
                    "FATAL" => 2,
                    "ERROR" => 3,
                    "WARN" => 4,
                    "INFO" => 6,
                    _ => 7,
                };
                let text = format!(
                    "<{}>{}[{}]: {}",
                    3 * 8 + priority,
                    ident,
                    std::process::id(),
                    line.trim_end()
                );
                socket.send(text.as_bytes())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_rotates_past_maxsize_keeping_maxver_versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kea.log");
        let mut d = Destination::open(&LogOutput {
            output: path.display().to_string(),
            flush: true,
            maxsize: 100,
            maxver: 2,
            pattern: Some("%m\n".into()),
        })
        .expect("open");
        for i in 0..10 {
            d.write(&format!("{i:0>39}\n"), "INFO").expect("write");
        }
        let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
        assert_eq!(read(&path).lines().count(), 2);
        assert!(read(&path).ends_with(&format!("{:0>39}\n", 9)));
        assert_eq!(read(&dir.path().join("kea.log.1")).lines().count(), 2);
        assert_eq!(read(&dir.path().join("kea.log.2")).lines().count(), 2);
        assert!(!dir.path().join("kea.log.3").exists());
    }
}
