//! Scoring an iteration on a split: Custom Vision's metrics through the same
//! [`Classifier`] the Predictor uses, plus unknown-face rates.

use kao_infer::{Classifier, ModelArtifact};
use serde::{Deserialize, Serialize};

use crate::describe::Described;
use crate::metrics::{self, Metrics};

/// A face the model got wrong, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Misclassified {
    /// Chip path relative to `faces/`.
    pub chip: String,
    pub true_tag: String,
    /// Top tag, or `unknown` when the rule rejected the face.
    pub predicted_tag: String,
    pub probability: f32,
}

/// Unknown-face rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnknownRates {
    /// Where the unknown faces came from (`negative` tag or a folder).
    pub source: String,
    /// Unknown faces scored.
    pub faces: usize,
    /// Share of them predicted unknown (higher is better).
    pub rejected: f64,
    /// Known faces scored.
    pub known_faces: usize,
    /// Share of known faces wrongly predicted unknown (lower is better).
    pub false_rejected: f64,
}

/// `metrics.json`'s content for one split: Custom Vision's field names at the top level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    pub split: String,
    pub iteration: u32,
    #[serde(flatten)]
    pub metrics: Metrics,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<UnknownRates>,
    #[serde(default)]
    pub misclassified: Vec<Misclassified>,
}

/// Faces of people who are none of the tags, already run through the Predictor.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownFaces {
    pub source: String,
    pub faces: usize,
    /// How many came back unknown.
    pub rejected: usize,
}

/// One face of a split as the classifier saw it: what [`score`] counts, kept so that the
/// metrics at another threshold need no network (the Training API's performance route).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaceScore {
    /// Chip path relative to `faces/`.
    pub chip: String,
    /// The true tag, as an index into the artifact's tags.
    pub label: usize,
    /// Probabilities in the artifact's tag order.
    pub probabilities: Vec<f32>,
    /// Rejected by the unknown-face rule.
    pub unknown: bool,
}

/// Runs every described face (labels in the classifier's tag order) through the classifier.
pub fn face_scores(classifier: &Classifier, described: &Described) -> Vec<FaceScore> {
    described
        .samples
        .x
        .iter()
        .zip(&described.samples.y)
        .zip(&described.ids)
        .map(|((x, &y), id)| {
            let c = classifier.classify(x);
            FaceScore {
                chip: id.clone(),
                label: y,
                probabilities: c.probabilities,
                unknown: c.unknown,
            }
        })
        .collect()
}

/// Scores known faces (`described`, labels in the classifier's tag order; faces of the
/// Negative tag count as unknown faces) and, optionally, extra unknown descriptors.
pub fn score(
    classifier: &Classifier,
    split: &str,
    described: &Described,
    extra_unknown: Option<&UnknownFaces>,
    threshold: f64,
) -> Evaluation {
    score_faces(
        classifier.artifact(),
        split,
        &face_scores(classifier, described),
        extra_unknown,
        threshold,
    )
}

/// [`score`] from faces already classified.
pub fn score_faces(
    artifact: &ModelArtifact,
    split: &str,
    faces: &[FaceScore],
    extra_unknown: Option<&UnknownFaces>,
    threshold: f64,
) -> Evaluation {
    let tags: Vec<(usize, (String, String))> = artifact
        .predictable_tags()
        .map(|(i, t)| (i, (t.id.clone(), t.name.clone())))
        .collect();
    let column: Vec<Option<usize>> = (0..artifact.tags.len())
        .map(|i| tags.iter().position(|(j, _)| *j == i))
        .collect();
    let (mut probs, mut labels) = (Vec::new(), Vec::new());
    let mut misclassified = Vec::new();
    let (mut known_rejected, mut negative_faces, mut negative_rejected) = (0usize, 0usize, 0usize);
    for f in faces {
        let Some(col) = column.get(f.label).copied().flatten() else {
            negative_faces += 1;
            negative_rejected += usize::from(f.unknown);
            continue;
        };
        let p: Vec<f32> = tags.iter().map(|(i, _)| f.probabilities[*i]).collect();
        let top = metrics::argmax(&p);
        known_rejected += usize::from(f.unknown);
        if top != col || f.unknown {
            misclassified.push(Misclassified {
                chip: f.chip.clone(),
                true_tag: tags[col].1 .1.clone(),
                predicted_tag: if f.unknown && top == col {
                    "unknown".into()
                } else {
                    tags[top].1 .1.clone()
                },
                probability: p[top],
            });
        }
        probs.push(p);
        labels.push(col);
    }
    let names: Vec<(String, String)> = tags.into_iter().map(|(_, t)| t).collect();
    let metrics = metrics::compute(&probs, &labels, &names, threshold);
    let known = labels.len();
    let false_rejected = known_rejected as f64 / known.max(1) as f64;
    let unknown = match extra_unknown {
        Some(u) => Some(UnknownRates {
            source: u.source.clone(),
            faces: u.faces,
            rejected: u.rejected as f64 / u.faces.max(1) as f64,
            known_faces: known,
            false_rejected,
        }),
        None if negative_faces > 0 => Some(UnknownRates {
            source: "negative".into(),
            faces: negative_faces,
            rejected: negative_rejected as f64 / negative_faces as f64,
            known_faces: known,
            false_rejected,
        }),
        None => None,
    };
    Evaluation {
        split: split.to_string(),
        iteration: artifact.iteration,
        metrics,
        unknown,
        misclassified,
    }
}
