//! Calibrating the unknown-face rule on faces the head was not trained on.
//!
//! Known faces: the validation split. Unknown faces: the validation faces of the Negative
//! tag when there is one, and always "leave one identity out": each training and
//! validation face of tag t is scored as if t were not a tag (its probability renormalised
//! over the other tags, its distance to the nearest training face of the best other tag).
//! That needs no retraining and no negative examples, and it is the hardest case: the
//! other tags of a project are often similar-looking people.

use kao_infer::{Classifier, UnknownRule};

use crate::samples::Samples;

/// `(top probability, distance)` of one face; `None` when the head already calls it
/// Negative (unknown whatever the thresholds).
type Score = Option<(f32, f32)>;

/// The calibration sets, kept for the report.
#[derive(Debug, Clone, Default)]
pub struct CalibrationSet {
    pub known: Vec<Score>,
    pub unknown: Vec<Score>,
}

pub fn scores(
    classifier: &Classifier,
    known: &Samples,
    leave_out: &[&Samples],
    negatives: &Samples,
) -> CalibrationSet {
    let tags = &classifier.artifact().tags;
    let score = |x: &[f32]| {
        let c = classifier.classify(x);
        (!tags[c.top].negative).then_some((c.probabilities[c.top], c.distance))
    };
    let mut set = CalibrationSet {
        known: known.x.iter().map(|x| score(x)).collect(),
        unknown: negatives.x.iter().map(|x| score(x)).collect(),
    };
    let gallery = classifier.gallery();
    for s in leave_out {
        for (x, &t) in s.x.iter().zip(&s.y) {
            if tags[t].negative {
                continue;
            }
            let p = classifier.classify(x).probabilities;
            let rest = (1.0 - p[t]).max(1e-12);
            let (other, po) = p
                .iter()
                .enumerate()
                .filter(|&(c, _)| c != t)
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(c, &v)| (c, v / rest))
                .expect("two or more tags");
            set.unknown
                .push((!tags[other].negative).then(|| (po, gallery.nearest(x, other))));
        }
    }
    set
}

/// Share of `scores` the rule `(p, d)` rejects.
fn rejected(scores: &[Score], p: f32, d: f32) -> f64 {
    let n = scores
        .iter()
        .filter(|s| match s {
            None => true,
            Some((pp, dd)) => *pp < p || *dd > d,
        })
        .count();
    n as f64 / scores.len().max(1) as f64
}

/// Picks `(min_probability, max_distance)` maximising `rejected unknown − cost · rejected
/// known`; among equally good radii, the middle of the range, so the boundary sits in the
/// gap between the two populations rather than on its edge.
pub fn calibrate(set: &CalibrationSet, cost: f64, method: &str) -> UnknownRule {
    if set.known.is_empty() || set.unknown.is_empty() {
        return UnknownRule::default();
    }
    let radii: Vec<f32> = (0..=240).map(|i| 0.2 + i as f32 * 0.0025).collect();
    let probs = [0.0f32, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
    let objective =
        |p: f32, d: f32| rejected(&set.unknown, p, d) - cost * rejected(&set.known, p, d);
    let mut best = (f64::NEG_INFINITY, 0.0f32, 0.6f32);
    for &p in &probs {
        let values: Vec<f64> = radii.iter().map(|&d| objective(p, d)).collect();
        let top = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // Prefer the smaller probability floor on ties: the distance alone generalises
        // better to people the head never saw.
        if top > best.0 + 1e-9 {
            let good: Vec<f32> = radii
                .iter()
                .zip(&values)
                .filter(|(_, &v)| v >= top - 1e-9)
                .map(|(&d, _)| d)
                .collect();
            let mid = (good[0] + good[good.len() - 1]) / 2.0;
            best = (top, p, mid);
        }
    }
    UnknownRule {
        min_probability: best.1,
        max_distance: best.2,
        calibration: method.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_sits_in_the_gap() {
        let set = CalibrationSet {
            known: (0..50)
                .map(|i| Some((0.99, 0.30 + i as f32 * 0.002)))
                .collect(),
            unknown: (0..50)
                .map(|i| Some((0.9, 0.70 + i as f32 * 0.004)))
                .collect(),
        };
        let rule = calibrate(&set, 4.0, "test");
        assert_eq!(rule.min_probability, 0.0);
        // Known reach 0.398, unknown start at 0.70: the middle of (0.398, 0.70).
        assert!((rule.max_distance - 0.55).abs() < 0.01, "{rule:?}");
    }
}
