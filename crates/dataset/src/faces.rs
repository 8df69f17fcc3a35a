//! Records of `faces/manifest.jsonl`, written by the crop stage and read by every later one.

use kao_image::PerceptualHash;
use serde::{Deserialize, Serialize};

/// One line of `faces/manifest.jsonl`: a chip that was written, or a photo (or face) that
/// was dropped, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaceRecord {
    Chip(ChipRecord),
    Reject(RejectRecord),
}

impl FaceRecord {
    /// The crop settings hash the record was made with.
    pub fn settings(&self) -> &str {
        match self {
            FaceRecord::Chip(c) => &c.settings,
            FaceRecord::Reject(r) => &r.settings,
        }
    }
}

/// The chips cut with `settings` as they are on disk now, in chip order. The manifest is
/// append-only and chip file names do not depend on the settings, so only each chip's
/// latest record describes its file; records of other settings, and chips whose file is
/// gone, are left out.
pub fn current_chips(
    records: Vec<FaceRecord>,
    settings: &str,
    faces_dir: &std::path::Path,
) -> Vec<ChipRecord> {
    let mut latest = std::collections::BTreeMap::new();
    for r in records {
        if let FaceRecord::Chip(c) = r {
            latest.insert(c.chip.clone(), c);
        }
    }
    latest
        .into_values()
        .filter(|c| c.settings == settings && faces_dir.join(&c.chip).is_file())
        .collect()
}

/// A box in source-image pixels: x to the right, y down, origin top-left.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoxF {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

/// The source photo a chip or reject came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    pub tag: String,
    /// The source's path relative to the tree it was read from (`<tag>/<file>`).
    pub rel: String,
    /// Where it was read from (absolute or relative to the current folder at crop time).
    pub path: String,
    /// SHA-256 of the source file's bytes.
    pub content_id: String,
    /// Perceptual hash of the source photo (for near-duplicate grouping in the split).
    pub phash: Option<PerceptualHash>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChipRecord {
    pub source: SourceRef,
    /// The chip file, relative to `faces/` (`<tag>/<sha256-16>_<i>.png`).
    pub chip: String,
    /// Index of this face among the photo's detections (0 when one face was picked).
    pub face_index: u32,
    /// Detector box and score, in source pixels.
    #[serde(rename = "box")]
    pub bbox: BoxF,
    pub score: f32,
    /// 68 landmarks in source pixels (iBUG order).
    pub landmarks: Vec<[f32; 2]>,
    /// Affine map from chip pixel coordinates to source pixel coordinates, row-major
    /// `[a, b, c, d, e, f]`: `x_src = a*x + b*y + c`, `y_src = d*x + e*y + f`. Lets later
    /// stages cut a wider or warped view from the original photo in one resample.
    pub transform: [f32; 6],
    /// Side of the chip in pixels (150).
    pub size: u32,
    /// Hash of the crop settings; a chip is recomputed only when this or the source changes.
    pub settings: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectRecord {
    pub source: SourceRef,
    /// `unreadable: …`, `no_face`, `face_too_small`, `low_score` or `ambiguous`.
    pub reason: String,
    pub settings: String,
}
