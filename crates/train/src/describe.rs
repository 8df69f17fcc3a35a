//! Chips (plain and augmented) to descriptors, through the cache.

use std::path::PathBuf;
use std::sync::mpsc::sync_channel;

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
    /// A chip's augmentations missing from the cache, drawn from one decode of its source
    /// photo.
    Augmented {
        chip: &'a ChipRecord,
        draws: Vec<(String, kao_augment::Draw)>,
    },
}

impl Job<'_> {
    /// Descriptors the job yields.
    fn len(&self) -> usize {
        match self {
            Job::Plain { .. } => 1,
            Job::Augmented { draws, .. } => draws.len(),
        }
    }

    /// The job's images, each with its cache key.
    fn images(&self) -> std::result::Result<Vec<(String, RgbImage)>, Skipped> {
        match self {
            Job::Plain { key, png, path } => image::load_from_memory(png)
                .map(|i| vec![(key.clone(), i.to_rgb8())])
                .map_err(|e| Skipped {
                    path: path.clone(),
                    reason: e.to_string(),
                }),
            Job::Augmented { chip, draws } => {
                let path = PathBuf::from(&chip.source.path);
                let photo =
                    kao_image::load(&path, &kao_image::Limits::default()).map_err(|e| Skipped {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                Ok(draws
                    .iter()
                    .map(|(key, draw)| {
                        let image =
                            kao_augment::augment(&photo.image, chip.transform, CHIP_SIZE, draw);
                        (key.clone(), image)
                    })
                    .collect())
            }
        }
    }
}

/// Runs the network over cache misses, about `batch` descriptors at a time; returns what
/// could not be read. A writer thread stores each batch (one fsync) while the next one is
/// computed.
fn run_jobs(
    jobs: Vec<Job>,
    cache: &mut EmbeddingCache,
    embedder: &Embedder,
    batch: usize,
    progress: &mut dyn FnMut(Event),
) -> Result<Vec<Skipped>> {
    let total: usize = jobs.iter().map(Job::len).sum();
    let mut chunks: Vec<&[Job]> = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, job) in jobs.iter().enumerate() {
        size += job.len();
        if size >= batch.max(1) || i + 1 == jobs.len() {
            chunks.push(&jobs[start..=i]);
            (start, size) = (i + 1, 0);
        }
    }
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Vec<(String, Vec<f32>)>>(2);
        let writer = scope.spawn(move || -> Result<()> {
            for entries in rx {
                cache.insert_many(entries)?;
            }
            Ok(())
        });
        let mut skipped = Vec::new();
        let mut done = 0;
        for chunk in chunks {
            let loaded: Vec<_> = chunk.par_iter().map(Job::images).collect();
            let (mut keys, mut images) = (Vec::new(), Vec::new());
            for r in loaded {
                match r {
                    Ok(pairs) => {
                        for (key, image) in pairs {
                            keys.push(key);
                            images.push(image);
                        }
                    }
                    Err(s) => {
                        tracing::warn!(path = %s.path.display(), reason = %s.reason, "skipping unreadable image");
                        skipped.push(s);
                    }
                }
            }
            let descriptors = embedder.embed(&images)?;
            if tx
                .send(keys.into_iter().zip(descriptors).collect())
                .is_err()
            {
                // The writer stopped on an error, returned below.
                break;
            }
            done += chunk.iter().map(Job::len).sum::<usize>();
            progress(Event::Embedding { done, total });
        }
        drop(tx);
        writer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        Ok(skipped)
    })
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
        let mut draws = Vec::new();
        for i in 0..k {
            let draw = kao_augment::sample(params, seed, &chip.chip, i);
            let key = augment_key(
                &chip.source.content_id,
                &chip.transform,
                CHIP_SIZE,
                &draw.key(),
            );
            if cache.get(&key).is_none() {
                draws.push((key.clone(), draw));
            }
            keys.push((key, *label));
        }
        if !draws.is_empty() {
            jobs.push(Job::Augmented { chip, draws });
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
