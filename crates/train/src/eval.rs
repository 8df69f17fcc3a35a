//! `evaluate`: an existing iteration on the validation or test split, optionally with a
//! folder of photos of people who are none of the tags.

use std::path::{Path, PathBuf};

use kao_dataset::{write_atomic, SplitPart, WorkDir};
use kao_infer::{Classifier, Embedder, Predictor};

use crate::data::Dataset;
use crate::describe::{describe_chips, Described, Skipped};
use crate::error::{Result, TrainError};
use crate::evaluate::{face_scores, score, Evaluation, FaceScore, UnknownFaces};
use crate::report::write_report;
use crate::train::{IterationMetrics, METRICS_FILE, REPORT_FILE};
use crate::Event;
use kao_dataset::EmbeddingCache;

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// `None`: the latest iteration.
    pub iteration: Option<u32>,
    pub split: SplitPart,
    /// `None`: the iteration's own threshold.
    pub threshold: Option<f32>,
    /// Photos of people who are none of the tags; every face found counts.
    pub unknown: Option<PathBuf>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            iteration: None,
            split: SplitPart::Test,
            threshold: None,
            unknown: None,
        }
    }
}

/// The latest iteration with a `model.json`.
pub fn latest_iteration(work: &WorkDir) -> Option<u32> {
    work.list_iterations()
        .into_iter()
        .rev()
        .find(|&n| work.iteration(n).join(kao_infer::MODEL_FILE).exists())
}

/// Every face of every image under `dir`, described through the Predictor (the
/// iteration's crop settings and network); returns them and the files that could not be
/// read.
pub fn unknown_faces(
    predictor: &Predictor,
    dir: &Path,
    progress: &mut dyn FnMut(Event),
) -> Result<(UnknownFaces, Vec<Skipped>)> {
    // Tag folders or not, every image counts: unknown faces have no tag.
    let list = kao_dataset::list_tree(dir)?;
    let mut files: Vec<PathBuf> = list
        .files
        .into_iter()
        .map(|f| f.path)
        .chain(list.untagged)
        .collect();
    files.sort();
    let mut out = UnknownFaces {
        source: dir.display().to_string(),
        descriptors: Vec::new(),
    };
    let mut skipped: Vec<Skipped> = list
        .unreadable
        .into_iter()
        .map(|u| Skipped {
            reason: format!("{}: {}", u.path.display(), u.reason),
            path: u.path,
        })
        .collect();
    let total = files.len();
    for (i, f) in files.iter().enumerate() {
        let result = kao_image::load(f, &kao_image::Limits::default())
            .map_err(|e| e.to_string())
            .and_then(|d| predictor.describe(&d.image).map_err(|e| e.to_string()));
        match result {
            Ok(faces) => out.descriptors.extend(faces.into_iter().map(|(_, d)| d)),
            Err(reason) => skipped.push(Skipped {
                path: f.clone(),
                reason,
            }),
        }
        progress(Event::Predicting { done: i + 1, total });
    }
    Ok((out, skipped))
}

/// An iteration's classifier and the descriptors of one split's chips (labels in the
/// iteration's tag order), from the embedding cache where it has them.
fn describe_part(
    work: &WorkDir,
    options: &EvalOptions,
    progress: &mut dyn FnMut(Event),
) -> Result<(u32, Classifier, Described, Vec<Skipped>)> {
    let (n, dir) = iteration_dir(work, options)?;
    let classifier = Classifier::load(&dir)?;
    let data = Dataset::load(work)?;
    let artifact = classifier.artifact();
    // Map the split's tags onto the artifact's order; a tag the model never saw cannot be scored.
    let index: Vec<usize> = data
        .tags
        .iter()
        .map(|t| {
            artifact
                .tags
                .iter()
                .position(|a| a.name == *t)
                .ok_or_else(|| {
                    TrainError::data(
                        dir.join(kao_infer::MODEL_FILE),
                        format!("tag {t:?} is in the split but not in iteration {n}: retrain"),
                    )
                })
        })
        .collect::<Result<_>>()?;
    let items: Vec<_> = data
        .items(options.split)
        .into_iter()
        .map(|(c, t)| (c, index[t]))
        .collect();
    let embedder = Embedder::load_default()?;
    if embedder.sha256() != artifact.embedding.sha256 {
        return Err(kao_infer::InferError::Checksum {
            path: dir.join(kao_infer::MODEL_FILE),
            expected: artifact.embedding.sha256.clone(),
            found: embedder.sha256().to_string(),
        }
        .into());
    }
    let mut cache = EmbeddingCache::open(work, embedder.id())?;
    let (described, skipped) = describe_chips(work, &items, &mut cache, &embedder, 16, progress)?;
    Ok((n, classifier, described, skipped))
}

/// Every face of one split of an iteration, classified (see [`FaceScore`]).
pub fn split_face_scores(
    work: &WorkDir,
    options: &EvalOptions,
    progress: &mut dyn FnMut(Event),
) -> Result<(Vec<FaceScore>, Vec<Skipped>)> {
    let (_, classifier, described, skipped) = describe_part(work, options, progress)?;
    Ok((face_scores(&classifier, &described), skipped))
}

/// Evaluates an iteration on one split of the work dir's current `splits.json`. With an
/// unknown folder on the test split, the iteration's report.html is written again with
/// the open-set rates and curve.
pub fn evaluate(
    work: &WorkDir,
    options: &EvalOptions,
    progress: &mut dyn FnMut(Event),
) -> Result<(Evaluation, Vec<Skipped>)> {
    let (n, dir) = iteration_dir(work, options)?;
    // Strangers first: a broken iteration fails before minutes of detection.
    let (strangers, skipped) = match &options.unknown {
        Some(u) => {
            let predictor = Predictor::load(&dir)?;
            let (faces, s) = unknown_faces(&predictor, u, progress)?;
            (Some(faces), s)
        }
        None => (None, Vec::new()),
    };
    let options = EvalOptions {
        iteration: Some(n),
        ..options.clone()
    };
    let (e, mut more) = evaluate_with(work, &options, strangers.as_ref(), progress)?;
    more.extend(skipped);
    Ok((e, more))
}

fn iteration_dir(work: &WorkDir, options: &EvalOptions) -> Result<(u32, PathBuf)> {
    let n = options
        .iteration
        .or_else(|| latest_iteration(work))
        .ok_or_else(|| {
            TrainError::data(work.iterations(), "no trained iteration: run `kao train`")
        })?;
    let dir = work.iteration(n);
    if !dir.is_dir() {
        return Err(TrainError::NoIteration(n));
    }
    Ok((n, dir))
}

/// [`evaluate`] with the unknown faces already described by [`unknown_faces`] (with the
/// iteration's crop settings and network), so that one folder of strangers can serve
/// several iterations; `options.unknown` is not read.
pub fn evaluate_with(
    work: &WorkDir,
    options: &EvalOptions,
    strangers: Option<&UnknownFaces>,
    progress: &mut dyn FnMut(Event),
) -> Result<(Evaluation, Vec<Skipped>)> {
    let (n, classifier, described, skipped) = describe_part(work, options, progress)?;
    let artifact = classifier.artifact();
    let threshold = options.threshold.unwrap_or(artifact.threshold) as f64;
    let e = score(
        &classifier,
        options.split.name(),
        &described,
        strangers,
        threshold,
    );
    if strangers.is_some() && options.split == SplitPart::Test {
        rewrite_report(work, &work.iteration(n), artifact, &e)?;
    }
    Ok((e, skipped))
}

/// report.html again, with `test` in place of the test evaluation written at training
/// time (the validation one and the calibration stay as trained).
fn rewrite_report(
    work: &WorkDir,
    dir: &Path,
    artifact: &kao_infer::ModelArtifact,
    test: &Evaluation,
) -> Result<()> {
    let path = dir.join(METRICS_FILE);
    let bytes = std::fs::read(&path).map_err(|e| TrainError::data(&path, e.to_string()))?;
    let metrics: IterationMetrics = serde_json::from_slice(&bytes)
        .map_err(|e| TrainError::data(&path, format!("cannot read: {e}")))?;
    let html = write_report(
        work,
        artifact,
        &[&metrics.validation, test],
        Some(&metrics.calibration),
    );
    write_atomic(&dir.join(REPORT_FILE), html.as_bytes())?;
    Ok(())
}
