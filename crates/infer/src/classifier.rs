use std::path::Path;

use crate::artifact::{ModelArtifact, HEAD_FILE, MODEL_FILE};
use crate::error::{InferError, Result};
use crate::head::{from_safetensors, l2_normalise, Gallery, Head};

/// The probability of one tag for one face.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagProbability {
    pub tag_id: String,
    pub tag_name: String,
    pub probability: f32,
}

/// What the head says about one descriptor.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// One per head output (Negative included), in the artifact's tag order.
    pub probabilities: Vec<f32>,
    /// Predictable tags only, highest first.
    pub predictions: Vec<TagProbability>,
    /// Head output index with the highest probability (may be the Negative tag).
    pub top: usize,
    /// Distance to the nearest training descriptor of `top`, in the unknown rule's space.
    pub distance: f32,
    pub unknown: bool,
}

/// An iteration's head without the face networks: descriptor in, tag probabilities out.
/// [`crate::Predictor`] wraps it, and evaluation calls it on cached descriptors, so both
/// run the same arithmetic.
#[derive(Debug, Clone)]
pub struct Classifier {
    artifact: ModelArtifact,
    head: Head,
    gallery: Gallery,
}

impl Classifier {
    /// Loads `model.json` and `head.safetensors` from an iteration folder, checking the
    /// format version and the head's checksum.
    pub fn load(dir: &Path) -> Result<Classifier> {
        let (artifact, bytes) = ModelArtifact::load_checked(dir)?;
        Self::from_head(artifact, &bytes, &dir.join(HEAD_FILE))
    }

    /// [`Classifier::load`] from the bytes of `model.json` and `head.safetensors` (a
    /// browser page fetched them), with the same checks.
    pub fn from_bytes(model_json: &[u8], head: &[u8]) -> Result<Classifier> {
        let artifact = ModelArtifact::parse(model_json, Path::new(MODEL_FILE))?;
        let path = Path::new(HEAD_FILE);
        artifact.check_head(head, path)?;
        Self::from_head(artifact, head, path)
    }

    fn from_head(artifact: ModelArtifact, head: &[u8], path: &Path) -> Result<Classifier> {
        let (head, gallery) = from_safetensors(head, artifact.head.kind, path)?;
        Self::new(artifact, head, gallery).map_err(|m| InferError::invalid(path, m))
    }

    /// Assembles a classifier from parts (training evaluates a head before writing it).
    pub fn new(
        artifact: ModelArtifact,
        head: Head,
        gallery: Gallery,
    ) -> std::result::Result<Classifier, String> {
        if head.classes() != artifact.tags.len() {
            return Err(format!(
                "head has {} outputs, model.json lists {} tags",
                head.classes(),
                artifact.tags.len()
            ));
        }
        if head.kind() != artifact.head.kind {
            return Err(format!(
                "head is {}, model.json says {}",
                head.kind().name(),
                artifact.head.kind.name()
            ));
        }
        Ok(Classifier {
            artifact,
            head,
            gallery,
        })
    }

    pub fn artifact(&self) -> &ModelArtifact {
        &self.artifact
    }

    pub fn head(&self) -> &Head {
        &self.head
    }

    pub fn gallery(&self) -> &Gallery {
        &self.gallery
    }

    /// Classifies one raw descriptor (as the recognition network returns it).
    pub fn classify(&self, descriptor: &[f32]) -> Classification {
        let probabilities = self.head.probabilities(&l2_normalise(descriptor));
        let top = probabilities
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
            .map(|(i, _)| i)
            .unwrap_or(0);
        let rule = &self.artifact.unknown;
        let distance = self
            .gallery
            .nearest_in(rule.space, descriptor, top, |_| false);
        let tags = &self.artifact.tags;
        let unknown = tags[top].negative || rule.is_unknown(probabilities[top], distance);
        let mut predictions: Vec<TagProbability> = self
            .artifact
            .predictable_tags()
            .map(|(i, t)| TagProbability {
                tag_id: t.id.clone(),
                tag_name: t.name.clone(),
                probability: probabilities[i],
            })
            .collect();
        predictions.sort_by(|a, b| b.probability.total_cmp(&a.probability));
        Classification {
            probabilities,
            predictions,
            top,
            distance,
            unknown,
        }
    }
}
