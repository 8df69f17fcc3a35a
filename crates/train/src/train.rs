//! `train`: descriptors → head → unknown rule → metrics → a new iteration folder.

use std::path::PathBuf;
use std::time::Instant;

use kao_dataset::{write_atomic, write_atomic_json, SplitPart, WorkDir};
use kao_infer::head::{Gallery, Head};
use kao_infer::{
    Classifier, Embedder, EmbeddingInfo, HeadInfo, HeadKind, MetricsSummary, ModelArtifact,
    TagInfo, UnknownRule, DIMENSION, FORMAT_VERSION,
};
use serde::{Deserialize, Serialize};

use crate::calibrate::{calibrate, scores, Calibration};
use crate::config::TrainConfig;
use crate::data::{is_negative, Dataset};
use crate::describe::{describe_augmented, describe_chips, Described, Skipped};
use crate::error::{Result, TrainError};
use crate::evaluate::{score, Evaluation};
use crate::heads::{fit, FitLog};
use crate::report::write_report;
use crate::samples::Samples;
use crate::Event;
use kao_dataset::EmbeddingCache;

/// An iteration's metrics, in its folder.
pub const METRICS_FILE: &str = "metrics.json";
/// An iteration's HTML report, in its folder.
pub const REPORT_FILE: &str = "report.html";

/// Wall-clock seconds of each phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    pub describe_s: f64,
    pub fit_s: f64,
    pub calibrate_s: f64,
    pub evaluate_s: f64,
    /// Descriptors computed by the network in this run (the rest came from the cache).
    pub computed: usize,
}

/// The iteration's `metrics.json`: the test split's numbers at the top level (Custom
/// Vision's field names), the validation split's under `validation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IterationMetrics {
    #[serde(flatten)]
    pub test: Evaluation,
    pub validation: Evaluation,
    pub head: HeadKind,
    pub fit: FitLog,
    pub unknown_rule: UnknownRule,
    /// The unknown rule's calibration populations and rates at its radius.
    #[serde(default)]
    pub calibration: Calibration,
    pub timings: Timings,
    pub train_faces: usize,
    pub train_descriptors: usize,
}

/// What [`train`] did.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    pub iteration: u32,
    pub dir: PathBuf,
    pub metrics: IterationMetrics,
    pub report: PathBuf,
    /// Chips or photos that could not be read (the run went on without them).
    pub skipped: Vec<Skipped>,
}

/// Descriptors of every part of the split (plain chips) and of the training chips'
/// augmentations.
pub struct DescribedSplit {
    pub train: Described,
    pub augmented: Samples,
    pub val: Described,
    pub test: Described,
    pub computed: usize,
    pub skipped: Vec<Skipped>,
}

pub fn describe_split(
    work: &WorkDir,
    data: &Dataset,
    embedder: &Embedder,
    config: &TrainConfig,
    progress: &mut dyn FnMut(Event),
) -> Result<DescribedSplit> {
    let mut cache = EmbeddingCache::open(work, embedder.id())?;
    describe_split_in(&mut cache, work, data, embedder, config, progress)
}

/// [`describe_split`] through a cache the caller opened (one shard's:
/// [`EmbeddingCache::open_shard`]).
pub fn describe_split_in(
    cache: &mut EmbeddingCache,
    work: &WorkDir,
    data: &Dataset,
    embedder: &Embedder,
    config: &TrainConfig,
    progress: &mut dyn FnMut(Event),
) -> Result<DescribedSplit> {
    let cache = &mut *cache;
    let before = cache.len();
    let mut skipped = Vec::new();
    let mut part = |p: SplitPart, cache: &mut EmbeddingCache, skipped: &mut Vec<Skipped>| {
        let (d, s) = describe_chips(
            work,
            &data.items(p),
            cache,
            embedder,
            config.embed_batch,
            progress,
        )?;
        skipped.extend(s);
        Ok::<_, TrainError>(d)
    };
    let train = part(SplitPart::Train, cache, &mut skipped)?;
    let val = part(SplitPart::Val, cache, &mut skipped)?;
    let test = part(SplitPart::Test, cache, &mut skipped)?;
    let (augmented, s) = describe_augmented(
        &data.items(SplitPart::Train),
        &config.augment_preset.params(),
        config.seed,
        config.augmentations,
        cache,
        embedder,
        config.embed_batch,
        progress,
    )?;
    skipped.extend(s);
    Ok(DescribedSplit {
        train,
        augmented,
        val,
        test,
        computed: cache.len() - before,
        skipped,
    })
}

/// Reserves the next iteration number by creating its folder (a concurrent run gets the
/// one after).
fn new_iteration(work: &WorkDir) -> Result<(u32, PathBuf)> {
    std::fs::create_dir_all(work.iterations())
        .map_err(|e| TrainError::data(work.iterations(), e.to_string()))?;
    let mut n = work.list_iterations().last().copied().unwrap_or(0) + 1;
    loop {
        let dir = work.iteration(n);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((n, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(TrainError::data(dir, e.to_string())),
        }
    }
}

fn summary(e: &Evaluation) -> MetricsSummary {
    MetricsSummary {
        split: e.split.clone(),
        top1: e.metrics.top1,
        precision: e.metrics.precision,
        recall: e.metrics.recall,
        average_precision: e.metrics.average_precision,
    }
}

/// A head fitted and calibrated in memory, not yet written.
pub struct Fitted {
    pub classifier: Classifier,
    pub fit: FitLog,
    pub calibration: Calibration,
    pub fit_s: f64,
    pub calibrate_s: f64,
}

/// Fits the configured head on described data and calibrates its unknown rule (the
/// validation split and leave-one-identity-out; never the test split).
pub fn fit_head(
    data: &Dataset,
    described: &DescribedSplit,
    embedding: EmbeddingInfo,
    tag_ids: &std::collections::BTreeMap<String, String>,
    config: &TrainConfig,
    iteration: u32,
) -> Result<Fitted> {
    let classes = data.tags.len();
    let mut train = described.train.samples.clone();
    train.extend(&described.augmented);
    let start = Instant::now();
    let (head, fit_log) = fit(config.head, &train, &described.val.samples, classes, config)?;
    let fit_s = start.elapsed().as_secs_f64();
    let gallery = Gallery {
        descriptors: described.train.samples.raw(),
        labels: described
            .train
            .samples
            .y
            .iter()
            .map(|&y| y as u32)
            .collect(),
    };
    let tags: Vec<TagInfo> = data
        .tags
        .iter()
        .map(|t| TagInfo {
            id: tag_ids[t].clone(),
            name: t.clone(),
            negative: is_negative(t),
        })
        .collect();
    let artifact = ModelArtifact {
        format_version: FORMAT_VERSION,
        iteration,
        created_at: kao_infer::now_rfc3339(),
        tags,
        embedding,
        crop: config.crop.clone(),
        head: HeadInfo {
            kind: config.head,
            sha256: String::new(),
            k: matches!(head, Head::Knn { .. }).then_some(config.knn_k),
        },
        threshold: config.threshold,
        unknown: UnknownRule::default(),
        training: serde_json::to_value(config).expect("config serialises"),
        seed: config.seed,
        metrics: Vec::new(),
    };
    let mut classifier = Classifier::new(artifact.clone(), head.clone(), gallery.clone())
        .map_err(|m| TrainError::data("head", m))?;
    let start = Instant::now();
    let set = scores(
        &classifier,
        &described.train,
        &described.val,
        &data.splits.groups,
    );
    let (rule, calibration) = calibrate(&set, config.unknown_false_reject);
    let mut artifact = artifact;
    artifact.unknown = rule;
    classifier =
        Classifier::new(artifact, head, gallery).map_err(|m| TrainError::data("head", m))?;
    Ok(Fitted {
        classifier,
        fit: fit_log,
        calibration,
        fit_s,
        calibrate_s: start.elapsed().as_secs_f64(),
    })
}

/// Trains a head on `work`'s split and writes `iterations/<n>/` (model.json,
/// head.safetensors, metrics.json, report.html).
pub fn train(
    work: &WorkDir,
    config: &TrainConfig,
    progress: &mut dyn FnMut(Event),
) -> Result<TrainOutcome> {
    let data = Dataset::load(work)?;
    let hash = config.crop.settings_hash();
    if data.chips.values().any(|c| c.settings != hash) {
        // Prediction will cut faces with `config.crop`; chips cut otherwise would make the
        // reported numbers differ from what users get.
        tracing::warn!(
            "some chips were cut with other crop settings than the [train] crop section ({hash})"
        );
    }
    let embedder = Embedder::load_default()?;
    let start = Instant::now();
    let described = describe_split(work, &data, &embedder, config, progress)?;
    let describe_s = start.elapsed().as_secs_f64();
    let tag_ids = kao_infer::tag_ids(work, &data.tags)?;
    progress(Event::Fitting { head: config.head });
    let embedding = EmbeddingInfo {
        id: embedder.id().to_string(),
        sha256: embedder.sha256().to_string(),
        dimension: DIMENSION,
    };
    let (iteration, dir) = new_iteration(work)?;
    let fitted = fit_head(&data, &described, embedding, &tag_ids, config, iteration)?;
    progress(Event::Evaluating);
    let start = Instant::now();
    let threshold = config.threshold as f64;
    let val = score(&fitted.classifier, "val", &described.val, None, threshold);
    let test = score(&fitted.classifier, "test", &described.test, None, threshold);
    let evaluate_s = start.elapsed().as_secs_f64();
    let mut artifact = fitted.classifier.artifact().clone();
    artifact.metrics = vec![summary(&val), summary(&test)];
    let head_bytes =
        kao_infer::head::to_safetensors(fitted.classifier.head(), fitted.classifier.gallery());
    let metrics = IterationMetrics {
        test,
        validation: val,
        head: config.head,
        fit: fitted.fit,
        unknown_rule: artifact.unknown.clone(),
        calibration: fitted.calibration,
        timings: Timings {
            describe_s,
            fit_s: fitted.fit_s,
            calibrate_s: fitted.calibrate_s,
            evaluate_s,
            computed: described.computed,
        },
        train_faces: described.train.samples.len(),
        train_descriptors: described.train.samples.len() + described.augmented.len(),
    };
    write_atomic_json(&dir.join(METRICS_FILE), &metrics)?;
    let report = dir.join(REPORT_FILE);
    write_atomic(
        &report,
        write_report(
            work,
            &artifact,
            &[&metrics.validation, &metrics.test],
            Some(&metrics.calibration),
        )
        .as_bytes(),
    )?;
    // model.json last: an iteration is complete once it exists.
    artifact.write(&dir, &head_bytes)?;
    Ok(TrainOutcome {
        iteration,
        dir,
        metrics,
        report,
        skipped: described.skipped,
    })
}
