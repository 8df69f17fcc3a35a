//! One tag's part of `raw/`: what earlier runs settled, deduplication, and committing an
//! item (file first, then its manifest line).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kao_dataset::{Manifest, WorkDir};
use kao_image::{Format, PerceptualHash};

use crate::error::{CrawlError, Result};
use crate::options::MinSize;
use crate::record::{Outcome, RawRecord, Reject};
use crate::summary::TagSummary;

/// A decoded, fingerprinted image ready to be committed.
#[derive(Debug)]
pub(crate) struct Analysed {
    pub bytes: Vec<u8>,
    pub content_id: String,
    pub phash: PerceptualHash,
    pub format: Format,
    pub width: u32,
    pub height: u32,
}

/// Sniffs, decodes and checks the picture. CPU-bound: run it off the async threads.
pub(crate) fn analyse(
    bytes: Vec<u8>,
    limits: &kao_image::Limits,
    min_size: MinSize,
) -> std::result::Result<Analysed, Reject> {
    let decoded =
        kao_image::decode(&bytes, limits).map_err(|e| Reject::new(e.kind(), e.reason()))?;
    let (width, height) = decoded.image.dimensions();
    if !min_size.accepts(width, height) {
        return Err(Reject::new(
            "too_small",
            format!("{width}x{height} is smaller than {min_size}"),
        ));
    }
    Ok(Analysed {
        content_id: kao_image::content_id(&bytes),
        phash: kao_image::perceptual_hash(&decoded.image),
        format: decoded.format,
        width,
        height,
        bytes,
    })
}

struct Kept {
    content_id: String,
    phash: PerceptualHash,
    source: String,
    file: String,
}

pub(crate) struct Store {
    tag: String,
    raw: PathBuf,
    dir: PathBuf,
    manifest: Arc<Manifest<RawRecord>>,
    kept: Vec<Kept>,
    by_content: HashMap<String, usize>,
    done: HashMap<String, Outcome>,
    pages: HashSet<(String, String)>,
    pub summary: TagSummary,
}

impl Store {
    /// Takes over what earlier runs recorded for `tag` (`records`: the whole manifest, in
    /// order) and removes temp files an interrupted run left behind.
    pub fn open(
        work: &WorkDir,
        tag: &str,
        manifest: Arc<Manifest<RawRecord>>,
        records: &[RawRecord],
    ) -> Result<Store> {
        let raw = work.raw();
        let dir = work.raw_tag(tag);
        std::fs::create_dir_all(&dir).map_err(CrawlError::io(&dir))?;
        remove_temp_files(&dir)?;
        let mut store = Store {
            tag: tag.to_string(),
            raw,
            dir,
            manifest,
            kept: Vec::new(),
            by_content: HashMap::new(),
            done: HashMap::new(),
            pages: HashSet::new(),
            summary: TagSummary {
                tag: tag.to_string(),
                ..TagSummary::default()
            },
        };
        for r in records.iter().filter(|r| r.tag == tag) {
            if r.page {
                if let Some(reason) = &r.reason {
                    store.pages.insert((r.source.clone(), reason.clone()));
                }
                continue;
            }
            match r.outcome {
                Outcome::Kept => {
                    let (Some(file), Some(content_id), Some(phash)) =
                        (&r.file, &r.content_id, r.phash)
                    else {
                        continue;
                    };
                    if !store.raw.join(file).is_file() {
                        // Deleted since: fetch it again.
                        store.done.remove(&r.source);
                        continue;
                    }
                    store.done.insert(r.source.clone(), Outcome::Kept);
                    if !store.by_content.contains_key(content_id) {
                        store.remember(content_id, phash, &r.source, file);
                    }
                }
                _ if r.is_final() => {
                    store.done.insert(r.source.clone(), r.outcome);
                }
                _ => {
                    store.done.remove(&r.source);
                }
            }
        }
        store.summary.total_kept = store.kept.len();
        Ok(store)
    }

    fn remember(&mut self, content_id: &str, phash: PerceptualHash, source: &str, file: &str) {
        self.by_content
            .insert(content_id.to_string(), self.kept.len());
        self.kept.push(Kept {
            content_id: content_id.to_string(),
            phash,
            source: source.to_string(),
            file: file.to_string(),
        });
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The outcome an earlier run (or this one) settled for `source`, if final.
    pub fn done(&self, source: &str) -> Option<Outcome> {
        self.done.get(source).copied()
    }

    /// The settled sources starting with `prefix` (an archive's members).
    pub fn done_with_prefix(&self, prefix: &str) -> HashMap<String, Outcome> {
        self.done
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// Counts a source that an earlier run settled.
    pub fn skip(&mut self) {
        self.summary.skipped += 1;
    }

    /// Decides, saves and records one item, in the order the source gave it.
    pub fn commit(
        &mut self,
        source: &str,
        referrer: Option<&str>,
        result: std::result::Result<Analysed, Reject>,
    ) -> Result<RawRecord> {
        let record = match result {
            Err(reject) => {
                let mut r = RawRecord::rejected(&self.tag, source, &reject);
                r.referrer = referrer.map(str::to_string);
                *self.summary.rejected.entry(reject.reason).or_default() += 1;
                r
            }
            Ok(a) => self.commit_image(source, referrer, a)?,
        };
        self.manifest.append(&record)?;
        if record.is_final() {
            self.done.insert(source.to_string(), record.outcome);
        }
        Ok(record)
    }

    fn commit_image(
        &mut self,
        source: &str,
        referrer: Option<&str>,
        a: Analysed,
    ) -> Result<RawRecord> {
        let mut record = RawRecord {
            tag: self.tag.clone(),
            source: source.to_string(),
            outcome: Outcome::Kept,
            reason: None,
            detail: None,
            referrer: referrer.map(str::to_string),
            page: false,
            file: None,
            duplicate_of: None,
            content_id: Some(a.content_id.clone()),
            phash: Some(a.phash),
            format: Some(a.format),
            width: Some(a.width),
            height: Some(a.height),
            bytes: Some(a.bytes.len() as u64),
        };
        let duplicate = match self.by_content.get(&a.content_id) {
            Some(&i) => Some((i, "the same bytes".to_string())),
            None => self
                .kept
                .iter()
                .enumerate()
                .map(|(i, k)| (i, k.phash.distance(a.phash)))
                .filter(|&(_, d)| d <= kao_image::NEAR_DUPLICATE_DISTANCE)
                .min_by_key(|&(_, d)| d)
                .map(|(i, d)| (i, format!("a perceptual hash {d} bits away"))),
        };
        if let Some((i, how)) = duplicate {
            let k = &self.kept[i];
            record.outcome = Outcome::Duplicate;
            record.reason = Some(format!("duplicate_of {}", k.source));
            record.detail = Some(format!("{how} as {} ({})", k.file, k.content_id));
            record.file = Some(k.file.clone());
            record.duplicate_of = Some(k.source.clone());
            self.summary.duplicates += 1;
            return Ok(record);
        }
        let name = format!(
            "{}.{}",
            WorkDir::short_id(&a.content_id),
            a.format.extension()
        );
        let path = self.dir.join(&name);
        // A file of that name is this very content (the name is its hash): saved by an
        // interrupted run just before it could record it.
        let present = std::fs::metadata(&path).is_ok_and(|m| m.len() == a.bytes.len() as u64);
        if !present {
            kao_dataset::write_atomic(&path, &a.bytes)?;
        }
        let file = format!("{}/{}", self.tag, name);
        self.remember(&a.content_id, a.phash, source, &file);
        record.file = Some(file);
        self.summary.kept += 1;
        self.summary.total_kept += 1;
        Ok(record)
    }

    /// Records an HTML page that could not be crawled, once per page and reason.
    pub fn page_rejected(
        &mut self,
        url: &str,
        referrer: Option<&str>,
        reject: &Reject,
    ) -> Result<()> {
        if self.pages.insert((url.to_string(), reject.reason.clone())) {
            let mut r = RawRecord::rejected(&self.tag, url, reject);
            r.page = true;
            r.referrer = referrer.map(str::to_string);
            self.manifest.append(&r)?;
        }
        Ok(())
    }

    /// Removes files in `raw/<tag>/` named like a kept image but recorded by no run (an
    /// interrupted run saved them and died before recording), and temp files.
    pub fn finish(&mut self) -> Result<TagSummary> {
        remove_temp_files(&self.dir)?;
        let kept: HashSet<&str> = self
            .kept
            .iter()
            .filter_map(|k| k.file.rsplit('/').next())
            .collect();
        let entries = std::fs::read_dir(&self.dir).map_err(CrawlError::io(&self.dir))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if looks_like_kept(name) && !kept.contains(name) {
                tracing::warn!(file = %entry.path().display(), "removing an image no manifest record names (left by an interrupted run)");
                let path = entry.path();
                std::fs::remove_file(&path).map_err(CrawlError::io(&path))?;
            }
        }
        Ok(self.summary.clone())
    }
}

fn looks_like_kept(name: &str) -> bool {
    let Some((stem, ext)) = name.split_once('.') else {
        return false;
    };
    stem.len() == 16
        && stem
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && matches!(ext, "jpg" | "png" | "gif" | "bmp" | "webp")
}

/// Removes `.<name>.tmp` files (the temp names of `write_atomic` and of downloads).
pub(crate) fn remove_temp_files(dir: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CrawlError::io(dir)(e)),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(".tmp") {
            let path = entry.path();
            tracing::debug!(file = %path.display(), "removing a temp file left by an interrupted run");
            std::fs::remove_file(&path).map_err(CrawlError::io(&path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_names() {
        assert!(looks_like_kept("0123456789abcdef.jpg"));
        assert!(!looks_like_kept("0123456789abcdef.txt"));
        assert!(!looks_like_kept("holiday.jpg"));
        assert!(!looks_like_kept("0123456789ABCDEF.jpg"));
    }
}
