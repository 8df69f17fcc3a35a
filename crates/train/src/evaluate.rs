//! Scoring an iteration on a split: Custom Vision's metrics through the same
//! [`Classifier`] the Predictor uses, plus the unknown-face rule's operating point and,
//! with faces of people who are none of the tags, its open-set rates.

use kao_infer::{Classification, Classifier, DistanceSpace, UnknownRule};
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

/// The distance the rule compares with its radius: infinite where the face is unknown
/// whatever the radius (the head says Negative, or an old rule's probability floor).
fn rule_distance(rule: &UnknownRule, c: &Classification, negative: bool) -> f32 {
    if negative || c.probabilities[c.top] < rule.min_probability {
        f32::INFINITY
    } else {
        c.distance
    }
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
    let artifact = classifier.artifact();
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
    for ((x, &y), id) in described
        .samples
        .x
        .iter()
        .zip(&described.samples.y)
        .zip(&described.ids)
    {
        let c = classifier.classify(x);
        let d = rule_distance(rule, &c, artifact.tags[c.top].negative);
        let Some(col) = column[y] else {
            negatives.push(d);
            continue;
        };
        known.push(d);
        let p: Vec<f32> = tags.iter().map(|(i, _)| c.probabilities[*i]).collect();
        let top = metrics::argmax(&p);
        known_rejected += usize::from(c.unknown);
        if top != col || c.unknown {
            misclassified.push(Misclassified {
                chip: id.clone(),
                true_tag: tags[col].1 .1.clone(),
                predicted_tag: if c.unknown {
                    "unknown".into()
                } else {
                    tags[top].1 .1.clone()
                },
                probability: p[top],
                distance: d.is_finite().then_some(d),
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
        Some(u) => (
            u.source.clone(),
            u.descriptors
                .iter()
                .map(|x| {
                    let c = classifier.classify(x);
                    rule_distance(rule, &c, artifact.tags[c.top].negative)
                })
                .collect(),
        ),
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
