use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Which face detector to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DetectorKind {
    /// TinyFaceDetector: fast, less accurate on small or turned faces.
    Tiny,
    /// SSD MobileNet v1: the accurate detector.
    #[default]
    Ssd,
}

impl DetectorKind {
    /// The other detector: the default fallback of this one.
    pub fn other(self) -> DetectorKind {
        match self {
            DetectorKind::Tiny => DetectorKind::Ssd,
            DetectorKind::Ssd => DetectorKind::Tiny,
        }
    }
}

/// Which face(s) of a photo become chips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Pick {
    /// The face whose box contains the image centre, or else is nearest to it (LFW's rule).
    #[default]
    Center,
    /// The largest box.
    Largest,
    /// Every face.
    All,
}

/// How the 150×150 chip is placed on the face.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Alignment {
    /// dlib's `get_face_chip_details` convention: a similarity transform mapping the
    /// landmarks onto dlib's mean face, with 0.25 padding; eyes level.
    #[default]
    Dlib,
    /// face-api's box: axis-aligned square from eye/mouth centres (no rotation), as the
    /// reference JavaScript pipeline does.
    FaceApi,
}

/// Everything that changes what a chip looks like; its hash decides whether a chip is
/// recomputed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CropConfig {
    pub detector: DetectorKind,
    /// Run this detector too when `detector` finds no face above the threshold: each of
    /// the two misses faces the other finds (small, blurred or low-contrast ones in LFW's
    /// 250×250 photos); a second opinion only costs time on those photos.
    #[serde(default)]
    pub fallback: Option<DetectorKind>,
    /// Detections scoring below this are dropped (`low_score` when none remains).
    pub score_threshold: f32,
    /// Faces whose box is smaller than this many source pixels a side are dropped.
    pub min_face: u32,
    pub pick: Pick,
    pub alignment: Alignment,
    /// Chip side in pixels; the recognition network wants 150.
    pub chip_size: u32,
    /// Photos larger than this (longest side) are downscaled for detection only; chips are
    /// always cut from the full-resolution original.
    pub max_detect_side: u32,
    /// Largest input side of the tiny detector (a multiple of 32). Smaller photos run at
    /// the smallest multiple of 32 covering their longest side instead: upscaling a
    /// 250×250 LFW photo to 416 made its faces larger than the detector's anchors suit
    /// (1,024 of 1,140 photos found at 416, 1,116 at 256) and cost 2.6× the work.
    #[serde(alias = "tiny_input_size")]
    pub tiny_max_input: u32,
    /// When the tiny detector finds no face above the threshold, run it once more at
    /// three quarters of the input side before any fallback detector. On lfw5 the faces
    /// tiny misses at 256 are mostly found at 192 (23 of 24), at a thirtieth of the cost
    /// of the SSD fallback.
    #[serde(default = "yes")]
    pub tiny_retry_smaller: bool,
}

fn yes() -> bool {
    true
}

impl CropConfig {
    /// The defaults for a pick rule: with `all`, SSD first (it finds the small faces of
    /// group photos that the tiny detector misses; 15 vs 11 of 17 multiface photos within
    /// one face of the true count), otherwise tiny first (docs/crop.md).
    pub fn for_pick(pick: Pick) -> CropConfig {
        let d = CropConfig::default();
        if pick == Pick::All {
            CropConfig {
                detector: DetectorKind::Ssd,
                fallback: Some(DetectorKind::Tiny),
                pick,
                ..d
            }
        } else {
            CropConfig { pick, ..d }
        }
    }
}

impl Default for CropConfig {
    fn default() -> Self {
        CropConfig {
            // Measured on lfw5 (docs/crop.md): tiny first with SSD where tiny finds
            // nothing gives as many chips as the reverse, better test accuracy, and runs
            // the expensive SSD on a tenth of the photos.
            detector: DetectorKind::Tiny,
            fallback: Some(DetectorKind::Ssd),
            score_threshold: 0.5,
            min_face: 20,
            pick: Pick::default(),
            alignment: Alignment::default(),
            chip_size: 150,
            max_detect_side: 1024,
            tiny_max_input: 416,
            tiny_retry_smaller: true,
        }
    }
}

impl CropConfig {
    /// A short stable hash of the settings (16 hex digits).
    pub fn settings_hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("config serialises");
        hex::encode(&Sha256::digest(&json)[..8])
    }
}
