//! `iterations/<n>/model.json`: everything needed to reproduce and check a trained model.

use std::path::Path;

use kao_dataset::{write_atomic, write_atomic_json};
use kao_facecrop::CropConfig;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{InferError, Result};
use crate::unknown::UnknownRule;

/// Bumped whenever a field changes meaning, so that an older build refuses a newer file
/// rather than misreading it. Version 2: the unknown rule's `space` (unit-length
/// descriptors) and `targetFalseReject`; a version 1 file has neither and its rule is read
/// as written (raw distances).
pub const FORMAT_VERSION: u32 = 2;
/// The oldest version this build still reads.
pub const OLDEST_FORMAT_VERSION: u32 = 1;
pub const MODEL_FILE: &str = "model.json";
pub const HEAD_FILE: &str = "head.safetensors";

/// A tag the head knows, in the head's output order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagInfo {
    /// Stable UUID from `W/tags.json`.
    pub id: String,
    pub name: String,
    /// Custom Vision's Negative tag: faces of other people, trained on but never predicted.
    #[serde(default)]
    pub negative: bool,
}

/// The network that turns a 150×150 chip into a descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbeddingInfo {
    /// e.g. `face-api-1.7.15/face_recognition_model`.
    pub id: String,
    /// SHA-256 of the weight files; a Predictor refuses other weights.
    pub sha256: String,
    pub dimension: usize,
}

/// Which head `head.safetensors` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    /// Multinomial logistic regression.
    Logreg,
    /// One hidden layer (ReLU) then softmax.
    Mlp,
    /// Softmax over scaled cosine similarity to each tag's mean descriptor.
    Centroid,
    /// Softmax over scaled mean cosine similarity of each tag's k nearest training descriptors.
    Knn,
}

impl HeadKind {
    pub const ALL: [HeadKind; 4] = [
        HeadKind::Logreg,
        HeadKind::Mlp,
        HeadKind::Centroid,
        HeadKind::Knn,
    ];

    pub fn name(self) -> &'static str {
        match self {
            HeadKind::Logreg => "logreg",
            HeadKind::Mlp => "mlp",
            HeadKind::Centroid => "centroid",
            HeadKind::Knn => "knn",
        }
    }
}

impl std::str::FromStr for HeadKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        HeadKind::ALL
            .into_iter()
            .find(|h| h.name() == s)
            .ok_or_else(|| format!("unknown head {s:?} (logreg, mlp, centroid or knn)"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeadInfo {
    pub kind: HeadKind,
    /// SHA-256 of `head.safetensors`.
    pub sha256: String,
    /// Neighbours per tag, for `knn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
}

/// The headline numbers of the iteration, copied from its `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSummary {
    pub split: String,
    pub top1: f64,
    pub precision: f64,
    pub recall: f64,
    pub average_precision: f64,
}

/// The content of `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelArtifact {
    pub format_version: u32,
    pub iteration: u32,
    pub created_at: String,
    pub tags: Vec<TagInfo>,
    pub embedding: EmbeddingInfo,
    /// Detector, pick and alignment settings the chips were cut with; prediction uses the same.
    pub crop: CropConfig,
    pub head: HeadInfo,
    /// Probability at or above which a tag counts as predicted (Custom Vision's threshold).
    pub threshold: f32,
    pub unknown: UnknownRule,
    /// The training configuration, as given (kao-train's `TrainConfig`).
    pub training: serde_json::Value,
    pub seed: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricsSummary>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl ModelArtifact {
    /// Reads `dir/model.json` and checks its version (not the head's checksum).
    pub fn read(dir: &Path) -> Result<ModelArtifact> {
        let path = dir.join(MODEL_FILE);
        let bytes = std::fs::read(&path).map_err(InferError::io(&path))?;
        Self::parse(&bytes, &path)
    }

    /// Parses the bytes of a `model.json` and checks its version; `path` is only for
    /// messages.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<ModelArtifact> {
        let path = path.to_path_buf();
        // Check the version before the full parse, so an old or newer file gets the
        // version message rather than a confusing missing-field one.
        let probe: serde_json::Value =
            serde_json::from_slice(bytes).map_err(InferError::json(&path))?;
        let found = probe
            .get("formatVersion")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| InferError::invalid(&path, "no formatVersion: not a kao model.json"))?
            as u32;
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&found) {
            return Err(InferError::Version {
                path,
                found,
                oldest: OLDEST_FORMAT_VERSION,
                expected: FORMAT_VERSION,
            });
        }
        serde_json::from_value(probe).map_err(InferError::json(&path))
    }

    /// Reads `model.json` and `head.safetensors`, checking version and checksum; returns
    /// the artifact and the head file's bytes.
    pub fn load_checked(dir: &Path) -> Result<(ModelArtifact, Vec<u8>)> {
        let artifact = Self::read(dir)?;
        let path = dir.join(HEAD_FILE);
        let bytes = std::fs::read(&path).map_err(InferError::io(&path))?;
        artifact.check_head(&bytes, &path)?;
        Ok((artifact, bytes))
    }

    /// Checks `head.safetensors`' bytes against the checksum this artifact records.
    pub fn check_head(&self, head_bytes: &[u8], path: &Path) -> Result<()> {
        let found = sha256_hex(head_bytes);
        if found != self.head.sha256 {
            return Err(InferError::Checksum {
                path: path.to_path_buf(),
                expected: self.head.sha256.clone(),
                found,
            });
        }
        Ok(())
    }

    /// Writes `head.safetensors` then `model.json`, each atomically; `model.json` goes last
    /// so that an iteration folder with a model.json always has its head. Sets `head.sha256`.
    pub fn write(&mut self, dir: &Path, head_bytes: &[u8]) -> Result<()> {
        self.head.sha256 = sha256_hex(head_bytes);
        write_atomic(&dir.join(HEAD_FILE), head_bytes)?;
        write_atomic_json(&dir.join(MODEL_FILE), self)?;
        Ok(())
    }

    /// The tags that can be predicted (all but Negative), in head order.
    pub fn predictable_tags(&self) -> impl Iterator<Item = (usize, &TagInfo)> {
        self.tags.iter().enumerate().filter(|(_, t)| !t.negative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::{to_safetensors, Gallery, Head, Matrix};
    use crate::unknown::DistanceSpace;
    use crate::Classifier;

    /// A two-tag centroid head whose gallery holds one face per tag.
    fn iteration(dir: &Path) -> ModelArtifact {
        let head = Head::Centroid {
            centroids: Matrix::new(2, 2, vec![1.0, 0.0, 0.0, 1.0]),
            scale: 10.0,
        };
        let gallery = Gallery {
            descriptors: Matrix::new(2, 2, vec![2.0, 0.0, 0.0, 2.0]),
            labels: vec![0, 1],
        };
        let tag = |name: &str| TagInfo {
            id: format!("id-{name}"),
            name: name.into(),
            negative: false,
        };
        let mut artifact = ModelArtifact {
            format_version: FORMAT_VERSION,
            iteration: 1,
            created_at: "2026-01-01T00:00:00Z".into(),
            tags: vec![tag("alice"), tag("bob")],
            embedding: EmbeddingInfo {
                id: "test".into(),
                sha256: String::new(),
                dimension: 2,
            },
            crop: CropConfig::default(),
            head: HeadInfo {
                kind: HeadKind::Centroid,
                sha256: String::new(),
                k: None,
            },
            threshold: 0.5,
            unknown: UnknownRule {
                min_probability: 0.0,
                max_distance: 0.5,
                space: DistanceSpace::Unit,
                target_false_reject: Some(0.01),
                calibration: "test".into(),
            },
            training: serde_json::Value::Null,
            seed: 1,
            metrics: Vec::new(),
        };
        artifact
            .write(dir, &to_safetensors(&head, &gallery))
            .unwrap();
        artifact
    }

    #[test]
    fn version_1_files_load_with_their_raw_rule() {
        let dir = tempfile::tempdir().unwrap();
        iteration(dir.path());
        // As version 1 wrote it: no space, no target, a raw radius.
        let path = dir.path().join(MODEL_FILE);
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        json["formatVersion"] = 1.into();
        let rule = json["unknown"].as_object_mut().unwrap();
        rule.remove("space");
        rule.remove("targetFalseReject");
        rule.insert("maxDistance".into(), 0.6.into());
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();

        let c = Classifier::load(dir.path()).unwrap();
        assert_eq!(c.artifact().unknown.space, DistanceSpace::Raw);
        // (1.5, 0) is 0.5 from alice's face (2, 0) in raw space: known.
        let near = c.classify(&[1.5, 0.0]);
        assert_eq!(near.top, 0);
        assert!(
            (near.distance - 0.5).abs() < 1e-6 && !near.unknown,
            "{near:?}"
        );
        // (1, 0) is 1.0 away raw (unknown), though 0 apart as unit vectors.
        assert!(c.classify(&[1.0, 0.0]).unknown);
    }

    #[test]
    fn current_files_measure_angles_and_newer_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        iteration(dir.path());
        let c = Classifier::load(dir.path()).unwrap();
        let same_angle = c.classify(&[1.0, 0.0]);
        assert!(same_angle.distance.abs() < 1e-6 && !same_angle.unknown);
        // 45° off alice's face: sqrt(2 - 2 cos 45°) = 0.765 > 0.5.
        assert!(c.classify(&[1.0, 1.0001]).unknown);

        let path = dir.path().join(MODEL_FILE);
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        json["formatVersion"] = (FORMAT_VERSION + 1).into();
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        let e = ModelArtifact::read(dir.path()).unwrap_err();
        assert!(matches!(e, InferError::Version { .. }), "{e}");
        assert!(e.to_string().contains("model.json"), "{e}");
        assert!(e.to_string().contains("versions 1 to 2"), "{e}");
    }
}
