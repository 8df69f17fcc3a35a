//! The unknown-face rule: a face is nobody we know when the head is unsure, or when it
//! lies too far from every training face of the tag the head picked.

use serde::{Deserialize, Serialize};

/// `unknown = top probability < min_probability || distance > max_distance`, where
/// `distance` is the Euclidean distance (raw descriptors) to the nearest training
/// descriptor of the top tag. dlib's network was trained so that one person's descriptors
/// fit in a ball of radius 0.6; the calibrated radius is usually tighter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnknownRule {
    pub min_probability: f32,
    pub max_distance: f32,
    /// How the numbers were chosen: `validation+negative`, `leave-one-identity-out`, or
    /// `default` (dlib's radius, too little data to calibrate).
    pub calibration: String,
}

impl Default for UnknownRule {
    fn default() -> Self {
        UnknownRule {
            min_probability: 0.0,
            max_distance: 0.6,
            calibration: "default".into(),
        }
    }
}

impl UnknownRule {
    pub fn is_unknown(&self, top_probability: f32, distance: f32) -> bool {
        top_probability < self.min_probability || distance > self.max_distance
    }
}
