use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{DatasetError, Result};

/// An append-only JSON Lines file: one record per line, each append fsync'd before it
/// returns, so a record that was reported written survives a crash.
///
/// Opening repairs a torn last line (a crash mid-append) by cutting the file back to the
/// last complete line, so a torn fragment never ends up in the middle of the file.
/// Appends from several threads are serialised by an internal lock.
pub struct Manifest<T> {
    path: PathBuf,
    file: Mutex<File>,
    _record: PhantomData<fn(T)>,
}

impl<T: Serialize> Manifest<T> {
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(DatasetError::io(dir))?;
            }
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(DatasetError::io(path))?;
        let complete = complete_len(&mut file).map_err(DatasetError::io(path))?;
        let len = file.metadata().map_err(DatasetError::io(path))?.len();
        if complete < len {
            tracing::warn!(path = %path.display(), bytes = len - complete, "dropping a torn last line left by an interrupted write");
            file.set_len(complete).map_err(DatasetError::io(path))?;
            file.sync_all().map_err(DatasetError::io(path))?;
        }
        Ok(Manifest {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            _record: PhantomData,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as one line and fsyncs.
    pub fn append(&self, record: &T) -> Result<()> {
        self.append_all(std::slice::from_ref(record))
    }

    /// Appends records as consecutive lines with one write and one fsync: a group commit,
    /// for writers that finish many records at once (an fsync costs milliseconds, a line
    /// microseconds). A crash mid-write can leave the batch's last line torn, which the
    /// next [`Manifest::open`] cuts off; none of the batch was reported written.
    pub fn append_all(&self, records: &[T]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut lines = Vec::new();
        for record in records {
            serde_json::to_writer(&mut lines, record).map_err(|e| DatasetError::Json {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
            lines.push(b'\n');
        }
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        // One write call: O_APPEND makes it land whole at the end.
        file.write_all(&lines)
            .map_err(DatasetError::io(&self.path))?;
        file.sync_data().map_err(DatasetError::io(&self.path))
    }
}

/// Length of the file up to and including its last newline.
fn complete_len(file: &mut File) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    let mut pos = len;
    let mut buf = [0u8; 4096];
    while pos > 0 {
        let step = (pos as usize).min(buf.len());
        pos -= step as u64;
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut buf[..step])?;
        if let Some(i) = buf[..step].iter().rposition(|&b| b == b'\n') {
            return Ok(pos + i as u64 + 1);
        }
    }
    Ok(0)
}

/// The records of a manifest, and what was skipped.
#[derive(Debug)]
pub struct ManifestRead<T> {
    pub records: Vec<T>,
    /// Human-readable notes, e.g. a torn last line that was ignored.
    pub warnings: Vec<String>,
}

impl<T> Default for ManifestRead<T> {
    fn default() -> Self {
        ManifestRead {
            records: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// Reads every record. A missing file reads as empty. A last line without its newline
/// that does not parse is a torn write: ignored with a warning. Any other bad line is an
/// error naming the file and line.
pub fn read_manifest<T: DeserializeOwned>(path: &Path) -> Result<ManifestRead<T>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ManifestRead::default()),
        Err(e) => return Err(DatasetError::io(path)(e)),
    };
    let mut out = ManifestRead::default();
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(DatasetError::io(path))?;
        if n == 0 {
            break;
        }
        number += 1;
        let terminated = line.last() == Some(&b'\n');
        let text = trim_line(&line);
        if text.is_empty() {
            continue;
        }
        match serde_json::from_slice::<T>(text) {
            Ok(r) => out.records.push(r),
            Err(_) if !terminated => {
                let msg = format!(
                    "{}: line {number}: ignoring a torn last line (interrupted write)",
                    path.display()
                );
                tracing::warn!("{msg}");
                out.warnings.push(msg);
            }
            Err(e) => {
                return Err(DatasetError::CorruptManifest {
                    path: path.to_path_buf(),
                    line: number,
                    message: e.to_string(),
                })
            }
        }
    }
    Ok(out)
}

fn trim_line(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && (line[end - 1] == b'\n' || line[end - 1] == b'\r') {
        end -= 1;
    }
    &line[..end]
}
