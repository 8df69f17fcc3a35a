//! `evaluate`: an existing iteration on the validation or test split, optionally with a
//! folder of photos of people who are none of the tags.

use std::path::{Path, PathBuf};

use kao_dataset::{SplitPart, WorkDir};
use kao_infer::{Classifier, Embedder, Predictor};

use crate::data::Dataset;
use crate::describe::{describe_chips, Described, Skipped};
use crate::error::{Result, TrainError};
use crate::evaluate::{score, Evaluation, UnknownFaces};
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

/// Runs the Predictor over every image under `dir` (all faces); returns the counts and the
/// files that could not be read.
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
        faces: 0,
        rejected: 0,
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
            .and_then(|d| predictor.predict(&d.image).map_err(|e| e.to_string()));
        match result {
            Ok(faces) => {
                out.faces += faces.len();
                out.rejected += faces.iter().filter(|f| f.unknown).count();
            }
            Err(reason) => skipped.push(Skipped {
                path: f.clone(),
                reason,
            }),
        }
        progress(Event::Predicting { done: i + 1, total });
    }
    Ok((out, skipped))
}

/// Evaluates an iteration on one split of the work dir's current `splits.json`.
pub fn evaluate(
    work: &WorkDir,
    options: &EvalOptions,
    progress: &mut dyn FnMut(Event),
) -> Result<(Evaluation, Vec<Skipped>)> {
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
    let (described, mut skipped): (Described, _) =
        describe_chips(work, &items, &mut cache, &embedder, 16, progress)?;
    let unknown = match &options.unknown {
        Some(u) => {
            let predictor = Predictor::load(&dir)?;
            let (faces, s) = unknown_faces(&predictor, u, progress)?;
            skipped.extend(s);
            Some(faces)
        }
        None => None,
    };
    let threshold = options.threshold.unwrap_or(artifact.threshold) as f64;
    let e = score(
        &classifier,
        options.split.name(),
        &described,
        unknown.as_ref(),
        threshold,
    );
    Ok((e, skipped))
}
