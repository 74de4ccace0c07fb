//! Audit-log outputs: a file rotated by size (`audit.jsonl` → `audit.jsonl.1` → … up to a
//! number of files), and stdout written whole lines at a time so audit and access lines
//! never interleave mid-line. Owns file names and rotation; must not look at line contents.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file that is renamed to `<path>.1` (older ones shifting up, the oldest deleted) before a
/// write would take it past `max_bytes`.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    file: File,
    size: u64,
}

impl RotatingFile {
    /// Opens (appending to) `path`; keeps `keep` rotated files besides it.
    pub fn open(path: &Path, max_bytes: u64, keep: usize) -> io::Result<Self> {
        let file = open(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: path.to_owned(),
            max_bytes,
            keep,
            file,
            size,
        })
    }

    fn rotated(&self, n: usize) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.keep == 0 {
            self.file = OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&self.path)?;
        } else {
            for n in (1..self.keep).rev() {
                let from = self.rotated(n);
                if from.exists() {
                    std::fs::rename(&from, self.rotated(n + 1))?;
                }
            }
            std::fs::rename(&self.path, self.rotated(1))?;
            self.file = open(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.size > 0 && self.size + buf.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let written = self.file.write(buf)?;
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Stdout, written only on flush and under its lock: the sink writes whole lines then
/// flushes, so two sinks sharing stdout interleave by line, never inside one.
#[derive(Debug, Default)]
pub struct StdoutLines {
    buffer: Vec<u8>,
}

/// Bytes gathered before they are written even though more lines are queued.
const STDOUT_BATCH: usize = 64 * 1024;

impl Write for StdoutLines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Each call is one whole line (the sink writes lines with `write_all`, and this
        // never writes short), so writing out before adding keeps lines whole.
        if self.buffer.len() >= STDOUT_BATCH {
            self.flush()?;
        }
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let result = io::stdout().lock().write_all(&self.buffer);
        self.buffer.clear();
        result.and_then(|()| io::stdout().flush())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_rotate_by_size_and_the_oldest_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut file = RotatingFile::open(&path, 10, 2).unwrap();
        for line in ["first-1\n", "second\n", "third-\n", "fourth\n"] {
            file.write_all(line.as_bytes()).unwrap();
        }
        file.flush().unwrap();
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(&path), "fourth\n");
        assert_eq!(read(&dir.path().join("audit.jsonl.1")), "third-\n");
        assert_eq!(read(&dir.path().join("audit.jsonl.2")), "second\n");
        assert!(!dir.path().join("audit.jsonl.3").exists());
    }

    #[test]
    fn reopening_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        RotatingFile::open(&path, 100, 1)
            .unwrap()
            .write_all(b"a\n")
            .unwrap();
        RotatingFile::open(&path, 100, 1)
            .unwrap()
            .write_all(b"b\n")
            .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n");
    }
}
