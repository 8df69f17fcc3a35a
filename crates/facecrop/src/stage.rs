//! The crop stage over a folder-per-tag tree: chips to `faces/<tag>/`, one manifest record
//! per chip or reject, incremental and crash-safe.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use image::{ImageEncoder, RgbImage};
use kao_dataset::{
    list_tree, write_atomic, ChipRecord, FaceRecord, Manifest, ManifestFiles, RejectReason,
    RejectRecord, ShardDir, SourceRef, TreeFile, TreeList, Unreadable, WorkDir,
};
use kao_image::Limits;
use rayon::prelude::*;
use serde::Serialize;

use crate::cropper::{Cropper, Outcome};
use crate::error::{CropError, Result};

/// Per-tag counts of one crop run.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct TagSummary {
    pub photos: usize,
    pub chips: usize,
    /// Photos already cropped with the same settings, reused without recomputing.
    pub reused: usize,
    pub rejects: BTreeMap<String, usize>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct CropSummary {
    pub tags: BTreeMap<String, TagSummary>,
    /// Files outside any tag folder, ignored.
    pub untagged: Vec<String>,
    /// Every photo or entry that could not be read, by path in the tree, with the reason
    /// (also counted as `unreadable` rejects of its tag when it is in a tag folder).
    pub unreadable: BTreeMap<String, String>,
}

impl CropSummary {
    pub fn photos(&self) -> usize {
        self.tags.values().map(|t| t.photos).sum()
    }

    pub fn chips(&self) -> usize {
        self.tags.values().map(|t| t.chips).sum()
    }

    pub fn rejects(&self) -> usize {
        self.tags
            .values()
            .map(|t| t.rejects.values().sum::<usize>())
            .sum()
    }
}

/// What one photo produced, for the summary.
enum PhotoResult {
    Done {
        chips: usize,
        reject: Option<RejectReason>,
        reused: bool,
    },
}

/// Crops every photo of the tree at `source` into `work`'s `faces/`.
///
/// A photo whose (path, content id, settings) already has records in the manifest, with
/// its chip files present, is not recomputed, so a rerun after a crash finishes the rest.
/// `progress` is called once per photo, from any thread.
pub fn crop_tree(
    work: &WorkDir,
    source: &Path,
    cropper: &Cropper,
    limits: &Limits,
    progress: &(dyn Fn() + Sync),
) -> Result<CropSummary> {
    crop_tree_shard(work, source, cropper, limits, None, progress)
}

/// The photos of `source` that [`crop_tree_shard`] works on for `shard` (`None`: all).
pub fn shard_photos(source: &Path, shard: Option<&ShardDir>) -> Result<TreeList> {
    let list = list_tree(source)?;
    Ok(match shard {
        Some(s) => list.into_shard(s.shard()),
        None => list,
    })
}

/// [`crop_tree`] of one shard's photos ([`shard_photos`]): chips go to `faces/` as always,
/// their records to the shard's part of `faces/manifest.jsonl`, and photos already cropped
/// there or in the work dir's manifest are reused.
pub fn crop_tree_shard(
    work: &WorkDir,
    source: &Path,
    cropper: &Cropper,
    limits: &Limits,
    shard: Option<&ShardDir>,
    progress: &(dyn Fn() + Sync),
) -> Result<CropSummary> {
    let list = shard_photos(source, shard)?;
    let records = ManifestFiles::of(work.faces_manifest(), shard);
    let settings = cropper.config().settings_hash();
    let done = finished(work, &records, &settings)?;
    let manifest = records.open::<FaceRecord>()?;
    let mut summary = CropSummary {
        untagged: list
            .untagged
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        ..CropSummary::default()
    };
    // Entries the listing could not read (link loops, dangling links, FIFOs, devices):
    // rejects of their tag, or only reported when they are not in a tag folder.
    let mut results: Vec<(&str, &str, Result<PhotoResult>)> = Vec::new();
    for bad in &list.unreadable {
        if bad.tag.is_empty() {
            summary
                .unreadable
                .insert(bad.rel.clone(), bad.reason.clone());
        } else {
            results.push((
                &bad.tag,
                &bad.rel,
                reject_unreadable(&manifest, bad, &settings),
            ));
        }
        progress();
    }
    results.par_extend(list.files.par_iter().map(|file| {
        let r = crop_photo(work, file, cropper, limits, &settings, &done, &manifest);
        progress();
        (file.tag.as_str(), file.rel.as_str(), r)
    }));
    for (tag, rel, result) in results {
        let t = summary.tags.entry(tag.to_string()).or_default();
        t.photos += 1;
        let PhotoResult::Done {
            chips,
            reject,
            reused,
        } = result?;
        t.chips += chips;
        t.reused += usize::from(reused);
        if let Some(reason) = reject {
            *t.rejects.entry(reason.kind().to_string()).or_default() += 1;
            if let RejectReason::Unreadable(why) = reason {
                summary.unreadable.insert(rel.to_string(), why);
            }
        }
    }
    Ok(summary)
}

/// The reject record of an entry the listing could not read.
fn reject_unreadable(
    manifest: &Manifest<FaceRecord>,
    bad: &Unreadable,
    settings: &str,
) -> Result<PhotoResult> {
    let reason = RejectReason::Unreadable(bad.reason.clone());
    manifest.append(&FaceRecord::Reject(RejectRecord {
        source: SourceRef {
            tag: bad.tag.clone(),
            rel: bad.rel.clone(),
            path: bad.path.display().to_string(),
            content_id: String::new(),
            phash: None,
        },
        reason: reason.clone(),
        detail: None,
        settings: settings.to_string(),
    }))?;
    Ok(PhotoResult::Done {
        chips: 0,
        reject: Some(reason),
        reused: false,
    })
}

/// Key of a finished photo: its path in the tree and its content id.
type DoneKey = (String, String);

/// Photos already cropped with `settings`, and what they produced.
fn finished(
    work: &WorkDir,
    manifest: &ManifestFiles,
    settings: &str,
) -> Result<HashMap<DoneKey, (usize, Option<RejectReason>)>> {
    let records = manifest.read_records::<FaceRecord>()?;
    // Chip file names do not depend on the settings, so a run with other settings
    // overwrites the file: only a chip's latest record describes what is on disk.
    let mut latest: HashMap<&str, &str> = HashMap::new();
    for r in &records {
        if let FaceRecord::Chip(c) = r {
            latest.insert(&c.chip, &c.settings);
        }
    }
    let stale: HashSet<String> = latest
        .into_iter()
        .filter(|(_, s)| *s != settings)
        .map(|(chip, _)| chip.to_string())
        .collect();
    let mut done: HashMap<DoneKey, (usize, Option<RejectReason>)> = HashMap::new();
    let mut chips: HashMap<DoneKey, HashSet<String>> = HashMap::new();
    for r in records {
        match r {
            FaceRecord::Chip(c) if c.settings == settings => {
                let key = (c.source.rel.clone(), c.source.content_id.clone());
                if !stale.contains(&c.chip) && work.faces().join(&c.chip).is_file() {
                    chips.entry(key.clone()).or_default().insert(c.chip);
                    done.entry(key).or_insert((0, None));
                } else {
                    // A chip whose file is gone or was overwritten: redo the photo.
                    done.remove(&key);
                    chips.remove(&key);
                }
            }
            FaceRecord::Reject(r) if r.settings == settings => {
                done.insert(
                    (r.source.rel.clone(), r.source.content_id.clone()),
                    (0, Some(r.reason)),
                );
            }
            _ => {}
        }
    }
    for (key, set) in chips {
        if let Some(entry) = done.get_mut(&key) {
            entry.0 = set.len();
        }
    }
    Ok(done)
}

fn crop_photo(
    work: &WorkDir,
    file: &TreeFile,
    cropper: &Cropper,
    limits: &Limits,
    settings: &str,
    done: &HashMap<DoneKey, (usize, Option<RejectReason>)>,
    manifest: &Manifest<FaceRecord>,
) -> Result<PhotoResult> {
    let mut source = SourceRef {
        tag: file.tag.clone(),
        rel: file.rel.clone(),
        path: file.path.display().to_string(),
        content_id: String::new(),
        phash: None,
    };
    let reject = |source: SourceRef, reason: RejectReason, detail: Option<String>| {
        manifest.append(&FaceRecord::Reject(RejectRecord {
            source,
            reason: reason.clone(),
            detail,
            settings: settings.to_string(),
        }))?;
        Ok(PhotoResult::Done {
            chips: 0,
            reject: Some(reason),
            reused: false,
        })
    };
    let bytes = match kao_image::read_limited(&file.path, limits) {
        Ok(b) => b,
        Err(e) => return reject(source, RejectReason::Unreadable(e.reason()), None),
    };
    source.content_id = kao_image::content_id(&bytes);
    if let Some((chips, reason)) = done.get(&(file.rel.clone(), source.content_id.clone())) {
        return Ok(PhotoResult::Done {
            chips: *chips,
            reject: reason.clone(),
            reused: true,
        });
    }
    let image = match kao_image::decode_named(&bytes, &file.path, limits) {
        Ok(d) => d.image,
        Err(e) => return reject(source, RejectReason::Unreadable(e.reason()), None),
    };
    drop(bytes);
    source.phash = Some(kao_image::perceptual_hash(&image));
    match cropper.analyse(&image)? {
        Outcome::Reject { reason, detail } => reject(source, reason, Some(detail)),
        Outcome::Faces { faces, picked } => {
            let mut written = 0;
            for (n, &i) in picked.iter().enumerate() {
                let face = &faces[i];
                let chip = cropper.chip(&image, face);
                // With one face picked its number is 0; with `all`, the detector's order.
                let index = if picked.len() == 1 { 0 } else { n };
                let rel = format!(
                    "{}/{}_{}.png",
                    file.tag,
                    WorkDir::short_id(&source.content_id),
                    index
                );
                write_png(&work.faces().join(&rel), &chip)?;
                manifest.append(&FaceRecord::Chip(ChipRecord {
                    source: source.clone(),
                    chip: rel,
                    face_index: index as u32,
                    bbox: face.bbox,
                    score: face.score,
                    landmarks: face.landmarks.clone(),
                    transform: face.transform,
                    size: cropper.config().chip_size,
                    settings: settings.to_string(),
                }))?;
                written += 1;
            }
            Ok(PhotoResult::Done {
                chips: written,
                reject: None,
                reused: false,
            })
        }
    }
}

fn write_png(path: &Path, image: &RgbImage) -> Result<()> {
    let mut bytes = Vec::with_capacity(image.len() / 2);
    image::codecs::png::PngEncoder::new_with_quality(
        &mut bytes,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Adaptive,
    )
    .write_image(
        image.as_raw(),
        image.width(),
        image.height(),
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|e| CropError::WriteChip {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_atomic(path, &bytes)?;
    Ok(())
}
