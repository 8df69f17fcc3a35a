use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::error::{DatasetError, Result};

/// Writes a file so that readers, and a crash at any moment, see either the old content
/// or the complete new content: temp file in the same folder, fsync, rename, fsync folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(DatasetError::io(dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The pid and a counter keep concurrent writers (threads or processes) apart; the
    // leading dot hides half-written files from folder listings.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp).map_err(DatasetError::io(&tmp))?;
        f.write_all(bytes).map_err(DatasetError::io(&tmp))?;
        f.sync_all().map_err(DatasetError::io(&tmp))?;
        fs::rename(&tmp, path).map_err(DatasetError::io(path))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// [`write_atomic`] of pretty-printed JSON with a trailing newline.
pub fn write_atomic_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| DatasetError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Makes a rename durable: the new directory entry is only on disk once the folder is synced.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(DatasetError::io(dir))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
