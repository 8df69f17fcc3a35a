//! Content fingerprints of stage inputs: SHA-256 over settings (as JSON) and over files.

use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub struct Fingerprint(Sha256);

impl Fingerprint {
    pub fn new(stage: &str) -> Self {
        let mut f = Fingerprint(Sha256::new());
        f.text(stage);
        f
    }

    /// Length-prefixed, so that ("ab","c") and ("a","bc") differ.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
        self
    }

    pub fn text(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    pub fn json<T: Serialize + ?Sized>(&mut self, v: &T) -> &mut Self {
        let j = serde_json::to_vec(v).expect("settings serialise");
        self.bytes(&j)
    }

    /// A file's contents; a missing file hashes as absent, not as an error (the stage that
    /// reads it reports that properly).
    pub fn file(&mut self, path: &Path) -> &mut Self {
        let mut h = Sha256::new();
        match std::fs::File::open(path) {
            Ok(mut f) => {
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    match f.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => h.update(&buf[..n]),
                        Err(_) => {
                            h.update(b"<unreadable>");
                            break;
                        }
                    }
                }
            }
            Err(_) => h.update(b"<absent>"),
        }
        self.bytes(&h.finalize())
    }

    /// A folder's files by relative path, size and modification time: cheap, and any
    /// edit, addition or removal changes it.
    pub fn tree(&mut self, dir: &Path) -> &mut Self {
        let mut rows: Vec<String> = walkdir::WalkDir::new(dir)
            .follow_links(true)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                let rel = e.path().strip_prefix(dir).unwrap_or(e.path());
                let (len, mtime) = e
                    .metadata()
                    .map(|m| {
                        let t = m
                            .modified()
                            .ok()
                            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                            .map(|d| d.as_nanos())
                            .unwrap_or(0);
                        (m.len(), t)
                    })
                    .unwrap_or((0, 0));
                format!("{}\t{len}\t{mtime}", rel.display())
            })
            .collect();
        rows.sort();
        self.text(&dir.display().to_string());
        self.json(&rows)
    }

    pub fn finish(&self) -> String {
        hex::encode(&self.0.clone().finalize()[..16])
    }
}
