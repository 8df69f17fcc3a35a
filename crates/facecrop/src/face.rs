use kao_dataset::BoxF;
use serde::{Deserialize, Serialize};

/// A detected face with its landmarks and the chip placement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Face {
    /// Detector box in source-image pixels.
    pub bbox: BoxF,
    pub score: f32,
    /// 68 landmarks in source-image pixels (iBUG order).
    pub landmarks: Vec<[f32; 2]>,
    /// Affine map from chip pixel coordinates to source pixel coordinates,
    /// `[a, b, c, d, e, f]`: `x_src = a*x + b*y + c`, `y_src = d*x + e*y + f`.
    pub transform: [f32; 6],
}
