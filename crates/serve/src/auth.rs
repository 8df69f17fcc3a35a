//! Prediction keys: where they come from, and a comparison that leaks neither content nor length.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::ServeError;

/// File in the project root (`--root`) that holds the generated Training-Key (mode 0600).
pub const TRAINING_KEY_FILE: &str = "training-key";

/// Where the accepted key came from, so the binary can print a generated key exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// Given by the caller (`--key`, `KAO_PREDICTION_KEY`).
    Configured,
    /// Read from the work dir, where an earlier start generated it.
    Stored(PathBuf),
    /// Generated now and written to the work dir.
    Generated { key: String, path: PathBuf },
}

/// The accepted keys, kept only as SHA-256 digests so that every comparison takes the
/// same time whatever the candidate's length.
pub(crate) struct Keys {
    digests: Vec<[u8; 32]>,
}

impl Keys {
    pub fn new(keys: &[String]) -> Self {
        Keys {
            digests: keys.iter().map(|k| digest(k.as_bytes())).collect(),
        }
    }

    pub fn accepts(&self, candidate: &[u8]) -> bool {
        let d = digest(candidate);
        // Fold over every key without an early exit: the answer must not depend on which
        // key (or which byte) differed first.
        self.digests
            .iter()
            .fold(false, |ok, k| ok | constant_time_eq(k, &d))
    }
}

/// Whether two strings are equal, in a time that does not depend on where they differ.
pub(crate) fn same_text(a: &str, b: &str) -> bool {
    constant_time_eq(&digest(a.as_bytes()), &digest(b.as_bytes()))
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The configured keys, else the stored key, else a new one written with mode 0600.
pub(crate) fn resolve_keys(
    configured: &[String],
    work: &Path,
) -> Result<(Vec<String>, KeyOrigin), ServeError> {
    resolve_key_file(
        configured,
        &kao_dataset::WorkDir::new(work).prediction_key(),
    )
}

/// [`resolve_keys`] for the key file at `path`.
pub(crate) fn resolve_key_file(
    configured: &[String],
    path: &Path,
) -> Result<(Vec<String>, KeyOrigin), ServeError> {
    let configured: Vec<String> = configured
        .iter()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect();
    if !configured.is_empty() {
        return Ok((configured, KeyOrigin::Configured));
    }
    let path = path.to_path_buf();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = text.trim().to_string();
            if key.is_empty() {
                return Err(ServeError::Key {
                    path,
                    message: "the key file is empty; delete it to generate a new key".into(),
                });
            }
            Ok((vec![key], KeyOrigin::Stored(path)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = generate();
            write_private(&path, &key)?;
            Ok((vec![key.clone()], KeyOrigin::Generated { key, path }))
        }
        Err(source) => Err(ServeError::Io { path, source }),
    }
}

/// 32 hex digits of OS randomness, the length of a Custom Vision key.
fn generate() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn write_private(path: &Path, key: &str) -> Result<(), ServeError> {
    let io = |source| ServeError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(io)?;
    // A leftover temp file keeps its old mode; make sure it is private before the key lands.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    file.write_all(format!("{key}\n").as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_configured_keys() {
        let keys = Keys::new(&["alpha".into(), "beta".into()]);
        assert!(keys.accepts(b"alpha"));
        assert!(keys.accepts(b"beta"));
        assert!(!keys.accepts(b"alph"));
        assert!(!keys.accepts(b"alphaa"));
        assert!(!keys.accepts(b""));
    }

    #[test]
    fn generated_key_is_stored_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, origin) = resolve_keys(&[], dir.path()).unwrap();
        let KeyOrigin::Generated { key, path } = origin else {
            panic!("expected a generated key, got {origin:?}");
        };
        assert_eq!(keys, vec![key.clone()]);
        assert_eq!(key.len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, origin) = resolve_keys(&[], dir.path()).unwrap();
        assert_eq!(again, vec![key]);
        assert_eq!(origin, KeyOrigin::Stored(path));
    }

    #[test]
    fn configured_keys_win_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, origin) = resolve_keys(&[" k1 ".into()], dir.path()).unwrap();
        assert_eq!(keys, vec!["k1".to_string()]);
        assert_eq!(origin, KeyOrigin::Configured);
        assert!(!kao_dataset::WorkDir::new(dir.path())
            .prediction_key()
            .exists());
    }
}
