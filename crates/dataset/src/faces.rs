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

/// The chips as they are on disk now, in chip order: the one definition every stage after
/// the crop uses. The manifest is append-only and chip file names do not depend on the
/// settings, so only each chip's latest record describes its file; chips whose file is
/// gone are left out, and so are chips whose latest record was made with other settings
/// than `settings` (`None`: any settings).
pub fn current_chips(
    records: Vec<FaceRecord>,
    settings: Option<&str>,
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
        .filter(|c| settings.is_none_or(|s| c.settings == s) && faces_dir.join(&c.chip).is_file())
        .collect()
}

/// [`current_chips`] of `work`'s `faces/manifest.jsonl` (empty when there is none).
pub fn read_current_chips(
    work: &crate::WorkDir,
    settings: Option<&str>,
) -> crate::Result<Vec<ChipRecord>> {
    let records = crate::read_manifest::<FaceRecord>(&work.faces_manifest())?.records;
    Ok(current_chips(records, settings, &work.faces()))
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
    pub reason: RejectReason,
    /// What was found against which limit (`largest face 31 px, the minimum is 40 px`);
    /// absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub settings: String,
}

/// Why the crop stage made no chip of a photo. In the manifest it is the string it has
/// always been: `no_face`, `low_score`, `face_too_small`, `ambiguous`, or
/// `unreadable: <why>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// No detection at all, even at the low candidate score.
    NoFace,
    /// Something face-like, but nothing above the score threshold.
    LowScore,
    /// Faces above the threshold, all smaller than the minimum face size.
    FaceTooSmall,
    /// `--pick center` with two faces about as near the centre.
    Ambiguous,
    /// The file could not be read or decoded; the text says why.
    Unreadable(String),
}

impl RejectReason {
    /// The reason without its argument, for counts: `unreadable` for every unreadable file.
    pub fn kind(&self) -> &'static str {
        match self {
            RejectReason::NoFace => "no_face",
            RejectReason::LowScore => "low_score",
            RejectReason::FaceTooSmall => "face_too_small",
            RejectReason::Ambiguous => "ambiguous",
            RejectReason::Unreadable(_) => "unreadable",
        }
    }
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RejectReason::Unreadable(why) => write!(f, "unreadable: {why}"),
            other => f.write_str(other.kind()),
        }
    }
}

impl std::str::FromStr for RejectReason {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "no_face" => RejectReason::NoFace,
            "low_score" => RejectReason::LowScore,
            "face_too_small" => RejectReason::FaceTooSmall,
            "ambiguous" => RejectReason::Ambiguous,
            other => match other.strip_prefix("unreadable") {
                Some(rest) => RejectReason::Unreadable(
                    rest.strip_prefix(':')
                        .unwrap_or(rest)
                        .trim_start()
                        .to_string(),
                ),
                None => return Err(format!("unknown crop reject reason {other:?}")),
            },
        })
    }
}

impl Serialize for RejectReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RejectReason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
