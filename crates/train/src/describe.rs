//! Chips (plain and augmented) to descriptors, through the cache.

use std::path::PathBuf;

use image::RgbImage;
use kao_augment::AugmentParams;
use kao_dataset::{ChipRecord, WorkDir};
use kao_infer::{Embedder, CHIP_SIZE};
use rayon::prelude::*;

use crate::error::Result;
use crate::samples::Samples;
use crate::Event;
use kao_dataset::{augment_key, chip_key, EmbeddingCache};

/// Descriptors of a list of chips, with the chip ids that made it (unreadable chips are
/// reported and left out).
#[derive(Debug, Clone, Default)]
pub struct Described {
    pub ids: Vec<String>,
    pub samples: Samples,
}

/// Something that could not be described, and why (the run goes on without it).
#[derive(Debug, Clone)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

enum Job<'a> {
    Plain {
        key: String,
        png: Vec<u8>,
        path: PathBuf,
    },
    Augmented {
        key: String,
        chip: &'a ChipRecord,
        draw: kao_augment::Draw,
    },
}

impl Job<'_> {
    fn key(&self) -> &str {
        match self {
            Job::Plain { key, .. } | Job::Augmented { key, .. } => key,
        }
    }

    fn image(&self) -> std::result::Result<RgbImage, Skipped> {
        match self {
            Job::Plain { png, path, .. } => image::load_from_memory(png)
                .map(|i| i.to_rgb8())
                .map_err(|e| Skipped {
                    path: path.clone(),
                    reason: e.to_string(),
                }),
            Job::Augmented { chip, draw, .. } => {
                let path = PathBuf::from(&chip.source.path);
                let photo =
                    kao_image::load(&path, &kao_image::Limits::default()).map_err(|e| Skipped {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                Ok(kao_augment::augment(
                    &photo.image,
                    chip.transform,
                    CHIP_SIZE,
                    draw,
                ))
            }
        }
    }
}

/// Runs the network over cache misses in batches; returns what could not be read.
fn run_jobs(
    jobs: Vec<Job>,
    cache: &mut EmbeddingCache,
    embedder: &Embedder,
    batch: usize,
    progress: &mut dyn FnMut(Event),
) -> Result<Vec<Skipped>> {
    let total = jobs.len();
    let mut skipped = Vec::new();
    let mut done = 0;
    for chunk in jobs.chunks(batch.max(1)) {
        let images: Vec<_> = chunk.par_iter().map(|j| j.image()).collect();
        let mut keys = Vec::new();
        let mut ok = Vec::new();
        for (j, r) in chunk.iter().zip(images) {
            match r {
                Ok(i) => {
                    keys.push(j.key().to_string());
                    ok.push(i);
                }
                Err(s) => {
                    tracing::warn!(path = %s.path.display(), reason = %s.reason, "skipping unreadable image");
                    skipped.push(s);
                }
            }
        }
        cache.insert_many(keys.into_iter().zip(embedder.embed(&ok)?).collect())?;
        done += chunk.len();
        progress(Event::Embedding { done, total });
    }
    Ok(skipped)
}

/// Descriptors of plain chips (`(record, tag index)`), computing the missing ones.
pub fn describe_chips(
    work: &WorkDir,
    items: &[(&ChipRecord, usize)],
    cache: &mut EmbeddingCache,
    embedder: &Embedder,
    batch: usize,
    progress: &mut dyn FnMut(Event),
) -> Result<(Described, Vec<Skipped>)> {
    let faces = work.faces();
    let mut keys = Vec::with_capacity(items.len());
    let mut jobs = Vec::new();
    let mut skipped = Vec::new();
    for (chip, _) in items {
        let path = faces.join(&chip.chip);
        match std::fs::read(&path) {
            Ok(png) => {
                let key = chip_key(&png);
                if cache.get(&key).is_none() {
                    jobs.push(Job::Plain {
                        key: key.clone(),
                        png,
                        path,
                    });
                }
                keys.push(Some(key));
            }
            Err(e) => {
                skipped.push(Skipped {
                    path,
                    reason: e.to_string(),
                });
                keys.push(None);
            }
        }
    }
    skipped.extend(run_jobs(jobs, cache, embedder, batch, progress)?);
    let mut out = Described::default();
    for ((chip, label), key) in items.iter().zip(keys) {
        if let Some(d) = key.and_then(|k| cache.get(&k)) {
            out.ids.push(chip.chip.clone());
            out.samples.push(d.clone(), *label);
        }
    }
    Ok((out, skipped))
}

/// Descriptors of `k` augmented copies of each chip, drawn with `seed`.
#[allow(clippy::too_many_arguments)]
pub fn describe_augmented(
    items: &[(&ChipRecord, usize)],
    params: &AugmentParams,
    seed: u64,
    k: u32,
    cache: &mut EmbeddingCache,
    embedder: &Embedder,
    batch: usize,
    progress: &mut dyn FnMut(Event),
) -> Result<(Samples, Vec<Skipped>)> {
    let mut keys = Vec::new();
    let mut jobs = Vec::new();
    for (chip, label) in items {
        for i in 0..k {
            let draw = kao_augment::sample(params, seed, &chip.chip, i);
            let key = augment_key(
                &chip.source.content_id,
                &chip.transform,
                CHIP_SIZE,
                &draw.key(),
            );
            if cache.get(&key).is_none() {
                jobs.push(Job::Augmented {
                    key: key.clone(),
                    chip,
                    draw,
                });
            }
            keys.push((key, *label));
        }
    }
    let skipped = run_jobs(jobs, cache, embedder, batch, progress)?;
    let mut out = Samples::default();
    for (key, label) in keys {
        if let Some(d) = cache.get(&key) {
            out.push(d.clone(), label);
        }
    }
    Ok((out, skipped))
}
