//! The unknown-face rule: a face is nobody we know when it lies too far from every
//! training face of the tag the head picked (or, in rules that set one, when the head is
//! unsure).

use serde::{Deserialize, Serialize};

use crate::head::{distance, dot, l2_normalise};

/// Which descriptors the rule's distance is measured between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DistanceSpace {
    /// Raw descriptors as the network returns them: dlib's convention, where one person's
    /// faces fit in a ball of radius 0.6. What model files without a `space` field mean.
    #[default]
    Raw,
    /// Unit-length descriptors: `sqrt(2 − 2 cos θ)`, the angle between the two alone. The
    /// descriptors' lengths vary (about 1.2–1.6) with the photo rather than the person, so
    /// leaving them out separates people better.
    Unit,
}

impl DistanceSpace {
    pub fn name(self) -> &'static str {
        match self {
            DistanceSpace::Raw => "raw",
            DistanceSpace::Unit => "unit",
        }
    }

    /// Distance between two raw descriptors in this space.
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            DistanceSpace::Raw => distance(a, b),
            DistanceSpace::Unit => Unit::new(a).distance(b),
        }
    }
}

/// One descriptor prepared for many unit-space distances.
pub(crate) struct Unit {
    x: Vec<f32>,
}

impl Unit {
    pub(crate) fn new(x: &[f32]) -> Unit {
        Unit { x: l2_normalise(x) }
    }

    /// Distance to a raw descriptor `b`, both taken to unit length.
    pub(crate) fn distance(&self, b: &[f32]) -> f32 {
        let n = dot(b, b).sqrt();
        if n == 0.0 {
            return std::f32::consts::SQRT_2;
        }
        (2.0 - 2.0 * dot(&self.x, b) / n).max(0.0).sqrt()
    }
}

/// `unknown = top probability < min_probability || distance > max_distance`, where
/// `distance` is measured in `space` to the nearest training descriptor of the top tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnknownRule {
    /// 0 in rules Kao calibrates now: the distance alone decides.
    pub min_probability: f32,
    pub max_distance: f32,
    #[serde(default)]
    pub space: DistanceSpace,
    /// The share of known faces the radius was calibrated to reject at most (the
    /// operating point, `[train] unknown_false_reject`); absent when not calibrated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_false_reject: Option<f64>,
    /// How the numbers were chosen: `leave-one-out+leave-one-identity-out` (with
    /// `+negative` when a Negative tag's faces took part), or `default` (dlib's radius,
    /// nothing to calibrate on).
    pub calibration: String,
}

impl Default for UnknownRule {
    fn default() -> Self {
        UnknownRule {
            min_probability: 0.0,
            max_distance: 0.6,
            space: DistanceSpace::Raw,
            target_false_reject: None,
            calibration: "default".into(),
        }
    }
}

impl UnknownRule {
    pub fn is_unknown(&self, top_probability: f32, distance: f32) -> bool {
        top_probability < self.min_probability || distance > self.max_distance
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_distance_ignores_length() {
        let a = [3.0, 0.0];
        let b = [0.0, 0.5];
        let d = DistanceSpace::Unit.distance(&a, &b);
        assert!((d - std::f32::consts::SQRT_2).abs() < 1e-6, "{d}");
        assert!(DistanceSpace::Unit.distance(&a, &[1.0, 0.0]).abs() < 1e-6);
        assert!((DistanceSpace::Raw.distance(&a, &[1.0, 0.0]) - 2.0).abs() < 1e-6);
    }

    #[test]
    fn rules_written_before_the_space_field_read_as_raw() {
        let old =
            r#"{"minProbability":0.8,"maxDistance":0.64,"calibration":"leave-one-identity-out"}"#;
        let rule: UnknownRule = serde_json::from_str(old).unwrap();
        assert_eq!(rule.space, DistanceSpace::Raw);
        assert_eq!(rule.target_false_reject, None);
        assert!(rule.is_unknown(0.7, 0.1));
        assert!(rule.is_unknown(0.9, 0.65));
        assert!(!rule.is_unknown(0.9, 0.6));
    }
}
