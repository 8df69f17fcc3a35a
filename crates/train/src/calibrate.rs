//! Calibrating the unknown-face rule on faces the rule's references do not hold.
//!
//! The rule: a face is unknown when it lies farther than a radius from every training
//! face of the tag the head picked (unit-length descriptors). Two populations set the
//! radius, neither of them from the test split:
//!
//! - **known faces**: the validation faces, and every training face measured with itself
//!   (and its near-duplicates, which the split keeps together) left out of the references —
//!   "a new photo of someone we know";
//! - **unknown faces**: every training and validation face scored as if its tag did not
//!   exist (*leave one identity out*: the head's probabilities renormalised over the other
//!   tags, the distance to the best other tag's training faces), plus the validation faces
//!   of the Negative tag when there is one — "someone we do not know".
//!
//! The radius keeps `1 − target` of the known faces (the operating point,
//! `[train] unknown_false_reject`) and, where the two populations leave a gap, moves a
//! third of the way towards the nearest `target` share of unknown faces ([`GAP_SHARE`]):
//! the boundary sits in the gap rather than on the known faces' edge, and never rejects
//! more known faces than the target.

use std::collections::HashMap;

use kao_infer::{Classifier, DistanceSpace, UnknownRule};
use serde::{Deserialize, Serialize};

use crate::describe::Described;
use crate::metrics::rejection_curve;

/// The space new rules measure in.
pub const SPACE: DistanceSpace = DistanceSpace::Unit;

/// How far into the gap between the known faces' edge and the unknown faces' edge the
/// radius goes. Strangers come closer to a tag's references than leave-one-identity-out
/// faces do, so the radius stays nearer the known side than the middle: on 20 resplits
/// each of lfw5 and lfw_dev20 against lfw_strangers, a third meets both the known faces'
/// and the strangers' targets most often (`cargo xtask bench unknown`, docs/training.md).
pub const GAP_SHARE: f64 = 1.0 / 3.0;

/// Rule distances of the two calibration populations; `INFINITY` where the head itself
/// says Negative (unknown whatever the radius).
#[derive(Debug, Clone, Default)]
pub struct CalibrationSet {
    pub known: Vec<f32>,
    pub unknown: Vec<f32>,
    /// Whether Negative faces are among `unknown`.
    pub negative: bool,
}

/// The calibration populations' sizes and rates at the chosen radius, for metrics.json
/// and the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Calibration {
    pub known_faces: usize,
    pub unknown_faces: usize,
    /// Share of the known calibration faces the rule rejects (at most the target).
    pub known_rejected: f64,
    /// Share of the unknown calibration faces the rule rejects.
    pub unknown_rejected: f64,
    /// `[known rejected, unknown rejected]` as the radius shrinks (see
    /// [`rejection_curve`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<[f64; 2]>,
}

/// A face's rule distance: `INFINITY` when the head's top tag is Negative.
fn rule_distance(
    classifier: &Classifier,
    x: &[f32],
    top: usize,
    skip: impl Fn(usize) -> bool,
) -> f32 {
    if classifier.artifact().tags[top].negative {
        f32::INFINITY
    } else {
        classifier.gallery().nearest_in(SPACE, x, top, skip)
    }
}

/// Builds both populations. `train` must be the faces the classifier's gallery holds,
/// row for row; `groups` are the split's groups of chips that stay together (a training
/// face's group mates are left out with it).
pub fn scores(
    classifier: &Classifier,
    train: &Described,
    val: &Described,
    groups: &[Vec<String>],
) -> CalibrationSet {
    let tags = &classifier.artifact().tags;
    let negative = |t: usize| tags[t].negative;
    let mut set = CalibrationSet::default();

    // Known: validation faces as the rule will see new photos.
    for (x, &y) in val.samples.x.iter().zip(&val.samples.y) {
        if negative(y) {
            let top = classifier.classify(x).top;
            set.unknown
                .push(rule_distance(classifier, x, top, |_| false));
            set.negative = true;
        } else {
            let top = classifier.classify(x).top;
            set.known.push(rule_distance(classifier, x, top, |_| false));
        }
    }
    // Known: training faces with themselves and their group left out of the references.
    let group_of: HashMap<&str, usize> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, ids)| ids.iter().map(move |id| (id.as_str(), g)))
        .collect();
    let row_group: Vec<Option<usize>> = train
        .ids
        .iter()
        .map(|id| group_of.get(id.as_str()).copied())
        .collect();
    for (i, (x, &y)) in train.samples.x.iter().zip(&train.samples.y).enumerate() {
        if negative(y) {
            continue;
        }
        let top = classifier.classify(x).top;
        let skip = |j: usize| j == i || (row_group[i].is_some() && row_group[j] == row_group[i]);
        let d = rule_distance(classifier, x, top, skip);
        // A tag with a single training face has no other reference to measure against.
        if d.is_finite() || negative(top) {
            set.known.push(d);
        }
    }
    // Unknown: leave one identity out, on training and validation faces.
    for s in [train, val] {
        for (x, &t) in s.samples.x.iter().zip(&s.samples.y) {
            if negative(t) {
                continue;
            }
            let p = classifier.classify(x).probabilities;
            let other = p
                .iter()
                .enumerate()
                .filter(|&(c, _)| c != t)
                .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
                .map(|(c, _)| c)
                .expect("two or more tags");
            set.unknown
                .push(rule_distance(classifier, x, other, |_| false));
        }
    }
    set
}

/// The smallest radius that rejects (`d > r`) at most `share` of `sorted` (ascending).
fn keep_radius(sorted: &[f32], share: f64) -> f32 {
    let n = sorted.len();
    let allowed = (share * n as f64 + 1e-9).floor() as usize;
    sorted[n - 1 - allowed.min(n - 1)]
}

fn sorted(v: &[f32]) -> Vec<f32> {
    let mut v = v.to_vec();
    v.sort_by(f32::total_cmp);
    v
}

/// Share of `v` a radius `r` rejects (infinite distances always are).
fn share_rejected(v: &[f32], r: f32) -> f64 {
    v.iter().filter(|&&d| d > r || d.is_infinite()).count() as f64 / v.len().max(1) as f64
}

/// The rule for a target false-rejection rate (`0 < target < 1`), and what it does on
/// the calibration populations. dlib's rule when either population is empty.
pub fn calibrate(set: &CalibrationSet, target: f64) -> (UnknownRule, Calibration) {
    calibrate_with(set, target, GAP_SHARE)
}

/// [`calibrate`] with the radius `gap_share` of the way into the gap (0: on the known
/// faces' edge; 1: on the unknown faces').
pub fn calibrate_with(
    set: &CalibrationSet,
    target: f64,
    gap_share: f64,
) -> (UnknownRule, Calibration) {
    if set.known.is_empty() || set.unknown.is_empty() {
        return (UnknownRule::default(), Calibration::default());
    }
    let known = sorted(&set.known);
    let unknown = sorted(&set.unknown);
    // More known faces than the target predicted Negative: no radius helps, so keep
    // every finite one.
    let keep = match keep_radius(&known, target) {
        r if r.is_finite() => r,
        _ => match known.iter().rev().find(|d| d.is_finite()) {
            Some(&r) => r,
            None => return (UnknownRule::default(), Calibration::default()),
        },
    };
    let unknown_edge = unknown[((target * unknown.len() as f64) as usize).min(unknown.len() - 1)];
    let radius = if unknown_edge.is_finite() && unknown_edge > keep {
        keep + ((unknown_edge - keep) as f64 * gap_share) as f32
    } else {
        keep
    };
    let rule = UnknownRule {
        min_probability: 0.0,
        max_distance: radius,
        space: SPACE,
        target_false_reject: Some(target),
        calibration: if set.negative {
            "leave-one-out+leave-one-identity-out+negative".into()
        } else {
            "leave-one-out+leave-one-identity-out".into()
        },
    };
    let calibration = Calibration {
        known_faces: known.len(),
        unknown_faces: unknown.len(),
        known_rejected: share_rejected(&known, radius),
        unknown_rejected: share_rejected(&unknown, radius),
        curve: rejection_curve(&known, &unknown),
    };
    (rule, calibration)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(known: impl Iterator<Item = f32>, unknown: impl Iterator<Item = f32>) -> CalibrationSet {
        CalibrationSet {
            known: known.collect(),
            unknown: unknown.collect(),
            negative: false,
        }
    }

    #[test]
    fn boundary_sits_in_the_gap() {
        // Known 0.200..0.398, unknown 0.700..0.896: 1 % of 100 known faces may go, so the
        // known edge is the second largest (0.396); the unknown edge is 0.700.
        let s = set(
            (0..100).map(|i| 0.2 + i as f32 * 0.002),
            (0..50).map(|i| 0.7 + i as f32 * 0.004),
        );
        let (rule, _) = calibrate_with(&s, 0.01, 0.5);
        assert!((rule.max_distance - 0.548).abs() < 1e-4, "{rule:?}");
        let (rule, c) = calibrate(&s, 0.01);
        assert_eq!(rule.space, DistanceSpace::Unit);
        assert_eq!(rule.target_false_reject, Some(0.01));
        assert!(
            (rule.max_distance - (0.396 + 0.304 / 3.0)).abs() < 1e-4,
            "{rule:?}"
        );
        assert_eq!(c.known_rejected, 0.0);
        assert_eq!(c.unknown_rejected, 1.0);
    }

    #[test]
    fn overlapping_populations_keep_the_target() {
        // No gap: the radius is the known edge, rejecting exactly the target share.
        let s = set(
            (0..200).map(|i| i as f32 / 200.0),
            (0..200).map(|i| 0.5 + i as f32 / 400.0),
        );
        let (rule, c) = calibrate(&s, 0.05);
        assert!(c.known_rejected <= 0.05, "{c:?}");
        assert!(c.known_rejected > 0.04, "{c:?}");
        assert!((rule.max_distance - 0.945).abs() < 1e-3, "{rule:?}");
    }

    #[test]
    fn negative_predictions_are_always_rejected() {
        // Two of ten known faces predicted Negative: no radius keeps 99 % of them, so the
        // radius keeps every other one; the two count as rejected.
        let s = set(
            [
                0.1,
                0.2,
                0.3,
                0.3,
                0.3,
                0.3,
                0.3,
                0.4,
                f32::INFINITY,
                f32::INFINITY,
            ]
            .into_iter(),
            [0.8, 0.9, f32::INFINITY].into_iter(),
        );
        let (rule, c) = calibrate_with(&s, 0.01, 0.5);
        assert!((rule.max_distance - 0.6).abs() < 1e-6, "{rule:?}");
        assert!((c.known_rejected - 0.2).abs() < 1e-9, "{c:?}");
        assert!((c.unknown_rejected - 1.0).abs() < 1e-9, "{c:?}");
        assert!(serde_json::to_string(&rule).unwrap().contains("0.6"));
    }
}
