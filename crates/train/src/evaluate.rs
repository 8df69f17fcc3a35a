//! Scoring an iteration on a split: Custom Vision's metrics through the same
//! [`Classifier`] the Predictor uses, plus the unknown-face rule's operating point and,
//! with faces of people who are none of the tags, its open-set rates.

use kao_infer::{Classification, Classifier, DistanceSpace, ModelArtifact, UnknownRule};
use serde::{Deserialize, Serialize};

use crate::describe::Described;
use crate::metrics::{self, rejection_curve, Metrics};

/// A known face the model got wrong, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Misclassified {
    /// Chip path relative to `faces/`.
    pub chip: String,
    pub true_tag: String,
    /// `unknown` when the rule rejected the face, otherwise the (wrong) top tag.
    pub predicted_tag: String,
    /// The top tag's probability.
    pub probability: f32,
    /// The rule's distance to the top tag's training faces; absent when the head's top
    /// tag is Negative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance: Option<f32>,
}

/// The unknown-face rule and what it did to the split's known faces.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperatingPoint {
    pub max_distance: f32,
    pub min_probability: f32,
    pub space: DistanceSpace,
    /// The false-rejection rate the radius was calibrated to (`[train]
    /// unknown_false_reject`); absent for uncalibrated rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_false_reject: Option<f64>,
    /// Known faces of the split the rule rejected; each is in `misclassified` as `unknown`.
    pub known_rejected: usize,
    /// `known_rejected / faces`.
    pub false_rejected: f64,
}

/// Open-set rates on faces of people who are none of the tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnknownRates {
    /// Where the unknown faces came from (`negative` tag or a folder).
    pub source: String,
    /// Unknown faces scored.
    pub faces: usize,
    /// Share of them predicted unknown (higher is better).
    pub rejected: f64,
    /// Known faces scored (the split's).
    pub known_faces: usize,
    /// Share of known faces wrongly predicted unknown (lower is better; the operating
    /// point's `falseRejected`).
    pub false_rejected: f64,
    /// `[known rejected, unknown rejected]` for every radius, the operating point's among
    /// them (see [`rejection_curve`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<[f64; 2]>,
}

/// `metrics.json`'s content for one split: Custom Vision's field names at the top level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    pub split: String,
    pub iteration: u32,
    #[serde(flatten)]
    pub metrics: Metrics,
    #[serde(default)]
    pub operating_point: OperatingPoint,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<UnknownRates>,
    #[serde(default)]
    pub misclassified: Vec<Misclassified>,
}

/// Descriptors of faces of people who are none of the tags (every face found in a
/// folder of photos, cut as the iteration's training chips were).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnknownFaces {
    pub source: String,
    pub descriptors: Vec<Vec<f32>>,
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
    /// The rule's distance to the top tag's training faces; absent where the face is
    /// unknown whatever the radius (the head's top tag is Negative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance: Option<f32>,
}

/// Faces of strangers already through the classifier: each one's rule distance
/// (infinite where it is unknown whatever the radius).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnknownScores {
    pub source: String,
    pub distances: Vec<f32>,
}

/// The distance the rule compares with its radius: infinite where the face is unknown
/// whatever the radius (the head says Negative, or an old rule's probability floor).
fn rule_distance(rule: &UnknownRule, c: &Classification, negative: bool) -> f32 {
    if negative || c.probabilities[c.top] < rule.min_probability {
        f32::INFINITY
    } else {
        c.distance
    }
}

fn classified_distance(classifier: &Classifier, x: &[f32]) -> (Classification, f32) {
    let artifact = classifier.artifact();
    let c = classifier.classify(x);
    let d = rule_distance(&artifact.unknown, &c, artifact.tags[c.top].negative);
    (c, d)
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
            let (c, d) = classified_distance(classifier, x);
            FaceScore {
                chip: id.clone(),
                label: y,
                probabilities: c.probabilities,
                unknown: c.unknown,
                distance: d.is_finite().then_some(d),
            }
        })
        .collect()
}

/// Scores known faces (`described`, labels in the classifier's tag order; faces of the
/// Negative tag count as unknown faces) and, optionally, faces of strangers.
pub fn score(
    classifier: &Classifier,
    split: &str,
    described: &Described,
    strangers: Option<&UnknownFaces>,
    threshold: f64,
) -> Evaluation {
    let strangers = strangers.map(|u| UnknownScores {
        source: u.source.clone(),
        distances: u
            .descriptors
            .iter()
            .map(|x| classified_distance(classifier, x).1)
            .collect(),
    });
    score_faces(
        classifier.artifact(),
        split,
        &face_scores(classifier, described),
        strangers.as_ref(),
        threshold,
    )
}

/// [`score`] from faces already classified.
pub fn score_faces(
    artifact: &ModelArtifact,
    split: &str,
    faces: &[FaceScore],
    strangers: Option<&UnknownScores>,
    threshold: f64,
) -> Evaluation {
    let rule = &artifact.unknown;
    let tags: Vec<(usize, (String, String))> = artifact
        .predictable_tags()
        .map(|(i, t)| (i, (t.id.clone(), t.name.clone())))
        .collect();
    let column: Vec<Option<usize>> = (0..artifact.tags.len())
        .map(|i| tags.iter().position(|(j, _)| *j == i))
        .collect();
    let (mut probs, mut labels) = (Vec::new(), Vec::new());
    let mut misclassified = Vec::new();
    let (mut known, mut negatives) = (Vec::new(), Vec::new());
    let mut known_rejected = 0usize;
    for f in faces {
        let d = f.distance.unwrap_or(f32::INFINITY);
        let Some(col) = column.get(f.label).copied().flatten() else {
            negatives.push(d);
            continue;
        };
        known.push(d);
        let p: Vec<f32> = tags.iter().map(|(i, _)| f.probabilities[*i]).collect();
        let top = metrics::argmax(&p);
        known_rejected += usize::from(f.unknown);
        if top != col || f.unknown {
            misclassified.push(Misclassified {
                chip: f.chip.clone(),
                true_tag: tags[col].1 .1.clone(),
                predicted_tag: if f.unknown {
                    "unknown".into()
                } else {
                    tags[top].1 .1.clone()
                },
                probability: p[top],
                distance: f.distance,
            });
        }
        probs.push(p);
        labels.push(col);
    }
    let names: Vec<(String, String)> = tags.into_iter().map(|(_, t)| t).collect();
    let metrics = metrics::compute(&probs, &labels, &names, threshold);
    let faces = labels.len();
    let false_rejected = known_rejected as f64 / faces.max(1) as f64;
    let operating_point = OperatingPoint {
        max_distance: rule.max_distance,
        min_probability: rule.min_probability,
        space: rule.space,
        target_false_reject: rule.target_false_reject,
        known_rejected,
        false_rejected,
    };
    let (source, unknown) = match strangers {
        Some(u) => (u.source.clone(), u.distances.clone()),
        None => ("negative".to_string(), negatives),
    };
    let unknown = (!unknown.is_empty() || strangers.is_some()).then(|| UnknownRates {
        source,
        faces: unknown.len(),
        rejected: unknown
            .iter()
            .filter(|&&d| rule.max_distance < d || d.is_infinite())
            .count() as f64
            / unknown.len().max(1) as f64,
        known_faces: faces,
        false_rejected,
        curve: rejection_curve(&known, &unknown),
    });
    Evaluation {
        split: split.to_string(),
        iteration: artifact.iteration,
        metrics,
        operating_point,
        unknown,
        misclassified,
    }
}
