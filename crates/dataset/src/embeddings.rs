//! The embedding cache: descriptors keyed by (network, chip content, augmentation), so
//! retraining never runs the network on a chip it has seen. The crop stage fills it with
//! each plain chip's descriptor as it writes the chip; training reads and extends it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::layout::WorkDir;
use crate::manifest::Manifest;
use crate::shard::{ManifestFiles, ShardDir};

/// The cache's file in `cache/embeddings/<network>/`.
const FILE: &str = "descriptors.jsonl";

/// One line of `cache/embeddings/<network>/descriptors.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    key: String,
    descriptor: Vec<f32>,
}

/// Append-only; each [`EmbeddingCache::insert_many`] is one write and one fsync, so a crash
/// loses at most the batch in flight.
pub struct EmbeddingCache {
    manifest: Manifest<Entry>,
    map: HashMap<String, Vec<f32>>,
}

impl EmbeddingCache {
    /// Opens (or creates) the cache of network `network_id` in the work dir.
    pub fn open(work: &WorkDir, network_id: &str) -> Result<EmbeddingCache> {
        Self::open_at(&work.embedding_cache(network_id))
    }

    pub fn open_at(dir: &Path) -> Result<EmbeddingCache> {
        let path: PathBuf = dir.join(FILE);
        Self::open_files(&ManifestFiles::single(path))
    }

    /// The cache of network `network_id` as one shard sees it: the work dir's descriptors
    /// and the shard's own, read as one; new ones go to the shard's part.
    pub fn open_shard(
        work: &WorkDir,
        network_id: &str,
        shard: &ShardDir,
    ) -> Result<EmbeddingCache> {
        Self::open_files(&shard.files(&work.embedding_cache(network_id).join(FILE)))
    }

    fn open_files(files: &ManifestFiles) -> Result<EmbeddingCache> {
        let map = files
            .read_records::<Entry>()?
            .into_iter()
            .map(|e| (e.key, e.descriptor))
            .collect();
        Ok(EmbeddingCache {
            manifest: files.open()?,
            map,
        })
    }

    pub fn get(&self, key: &str) -> Option<&Vec<f32>> {
        self.map.get(key)
    }

    /// Every key in the cache.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn insert(&mut self, key: String, descriptor: Vec<f32>) -> Result<()> {
        self.insert_many(vec![(key, descriptor)])
    }

    /// Stores several descriptors with one append (one fsync for the lot).
    pub fn insert_many(&mut self, entries: Vec<(String, Vec<f32>)>) -> Result<()> {
        let entries: Vec<Entry> = entries
            .into_iter()
            .map(|(key, descriptor)| Entry { key, descriptor })
            .collect();
        self.manifest.append_all(&entries)?;
        self.map
            .extend(entries.into_iter().map(|e| (e.key, e.descriptor)));
        Ok(())
    }
}

/// Key of a plain chip: the SHA-256 of its PNG bytes (so a recropped chip is a new key).
pub fn chip_key(png: &[u8]) -> String {
    format!("chip:{}", hex::encode(Sha256::digest(png)))
}

/// Key of an augmented chip: the source photo, the chip placement and the draw.
pub fn augment_key(
    source_content_id: &str,
    transform: &[f32; 6],
    size: u32,
    draw_key: &str,
) -> String {
    let text = format!("{source_content_id}|{transform:?}|{size}|{draw_key}");
    format!("aug:{}", hex::encode(Sha256::digest(text.as_bytes())))
}
