//! Writing an export folder whole or not at all, and its zip.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{ExportError, Result};
use crate::EXPORT_FILE;

/// A folder being built beside its final place; removed unless committed.
pub(crate) struct Staging {
    dir: PathBuf,
    out: PathBuf,
    committed: bool,
}

impl Staging {
    /// Starts an export to `out`, refusing to replace a folder that is not empty and not an
    /// earlier export.
    pub fn begin(out: &Path) -> Result<Staging> {
        if out.exists() && !out.join(EXPORT_FILE).is_file() {
            let empty = std::fs::read_dir(out)
                .map_err(ExportError::io(out))?
                .next()
                .is_none();
            if !empty {
                return Err(ExportError::NotAnExport(out.to_path_buf()));
            }
        }
        let dir = sibling(out, "partial")?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(ExportError::io(&dir))?;
        }
        std::fs::create_dir_all(&dir).map_err(ExportError::io(&dir))?;
        Ok(Staging {
            dir,
            out: out.to_path_buf(),
            committed: false,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Moves the finished folder into place (the earlier export, if any, goes only once
    /// the new one is complete) and lists its files.
    pub fn commit(mut self) -> Result<Vec<(String, u64)>> {
        let files = list(&self.dir)?;
        let old = sibling(&self.out, "old")?;
        let replacing = self.out.exists();
        if replacing {
            if old.exists() {
                std::fs::remove_dir_all(&old).map_err(ExportError::io(&old))?;
            }
            std::fs::rename(&self.out, &old).map_err(ExportError::io(&self.out))?;
        }
        if let Err(e) = std::fs::rename(&self.dir, &self.out) {
            if replacing {
                let _ = std::fs::rename(&old, &self.out);
            }
            return Err(ExportError::io(&self.out)(e));
        }
        self.committed = true;
        if replacing {
            std::fs::remove_dir_all(&old).map_err(ExportError::io(&old))?;
        }
        Ok(files)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `<parent>/.<name>.<what>-<pid>`: hidden, on the same file system as `out` so that the
/// rename is atomic.
fn sibling(out: &Path, what: &str) -> Result<PathBuf> {
    let name = out
        .file_name()
        .ok_or_else(|| ExportError::Io {
            path: out.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a folder name"),
        })?
        .to_string_lossy();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(ExportError::io(&parent))?;
    Ok(parent.join(format!(".{name}.{what}-{}", std::process::id())))
}

/// Every file under `dir`, relative with `/` separators, sorted, with its size.
pub(crate) fn list(dir: &Path) -> Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(ExportError::io(&d))? {
            let entry = entry.map_err(ExportError::io(&d))?;
            let path = entry.path();
            let meta = entry.metadata().map_err(ExportError::io(&path))?;
            if meta.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .expect("under dir")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((rel, meta.len()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes `zip_path` (atomically) with every file of `dir`, keeping unix permissions (the
/// container's `kao` stays executable).
pub(crate) fn zip_folder(dir: &Path, files: &[(String, u64)], zip_path: &Path) -> Result<()> {
    let zip_err = |e: zip::result::ZipError| ExportError::Zip {
        path: zip_path.to_path_buf(),
        message: e.to_string(),
    };
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (rel, _) in files {
        let path = dir.join(rel);
        let bytes = std::fs::read(&path).map_err(ExportError::io(&path))?;
        let mode = unix_mode(&path)?;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(mode);
        writer.start_file(rel.as_str(), options).map_err(zip_err)?;
        writer
            .write_all(&bytes)
            .map_err(ExportError::io(zip_path))?;
    }
    let bytes = writer.finish().map_err(zip_err)?.into_inner();
    kao_dataset::write_atomic(zip_path, &bytes)?;
    Ok(())
}

#[cfg(unix)]
fn unix_mode(path: &Path) -> Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(ExportError::io(path))?;
    Ok(meta.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn unix_mode(_: &Path) -> Result<u32> {
    Ok(0o644)
}

/// Copies `from` to `to` (creating its folder) and returns its size.
pub(crate) fn copy(from: &Path, to: &Path) -> Result<u64> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(ExportError::io(parent))?;
    }
    std::fs::copy(from, to).map_err(ExportError::io(from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_replaces_an_earlier_one_and_nothing_else() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("web");
        let write = |marker: &str| {
            let staging = Staging::begin(&out)?;
            std::fs::write(staging.dir().join(EXPORT_FILE), marker).unwrap();
            staging.commit()
        };
        write("first").unwrap();
        write("second").unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join(EXPORT_FILE)).unwrap(),
            "second"
        );
        // Only the folder itself is left: no staging or old copies beside it.
        let names: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(names.len(), 1);

        let other = root.path().join("photos");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("me.jpg"), b"not an export").unwrap();
        let err = Staging::begin(&other).err().unwrap();
        assert!(matches!(err, ExportError::NotAnExport(_)), "{err}");
        assert!(other.join("me.jpg").is_file());
    }

    #[test]
    fn an_unfinished_export_leaves_nothing_behind() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("web");
        {
            let staging = Staging::begin(&out).unwrap();
            std::fs::write(staging.dir().join("half"), b"x").unwrap();
        }
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }
}
