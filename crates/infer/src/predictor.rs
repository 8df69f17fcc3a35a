use std::path::Path;
use std::sync::Arc;

use candle_core::Device;
use image::RgbImage;
use kao_dataset::BoxF;
use kao_facecrop::{Cropper, Face, FaceNets, Pick};

use crate::artifact::ModelArtifact;
use crate::classifier::{Classification, Classifier, TagProbability};
use crate::embed::Embedder;
use crate::error::{InferError, Result};

/// One face found in an image, with what the model thinks of it.
#[derive(Debug, Clone, PartialEq)]
pub struct FacePrediction {
    /// Detector box in source pixels.
    pub bbox: BoxF,
    pub score: f32,
    /// 68 landmarks in source pixels.
    pub landmarks: Vec<[f32; 2]>,
    /// Predictable tags, highest probability first.
    pub predictions: Vec<TagProbability>,
    /// Nobody the model knows, by the artifact's unknown-face rule.
    pub unknown: bool,
    /// The face Custom Vision would classify: the one at (or nearest) the image centre.
    pub picked: bool,
}

/// A loaded iteration: face networks plus head. `Send + Sync`; load once, share.
pub struct Predictor {
    classifier: Classifier,
    embedder: Embedder,
    cropper: Cropper,
}

impl Predictor {
    /// Loads an iteration folder (`W/iterations/<n>`) and the face networks, checking the
    /// artifact's version and checksums, and that the bundled recognition weights are the
    /// ones the head was trained on.
    pub fn load(iteration_dir: &Path) -> Result<Predictor> {
        let classifier = Classifier::load(iteration_dir)?;
        let embedder = Embedder::load_default()?;
        let expected = &classifier.artifact().embedding;
        if expected.sha256 != embedder.sha256() {
            return Err(InferError::Checksum {
                path: iteration_dir.join(crate::artifact::MODEL_FILE),
                expected: format!("{} {}", expected.id, expected.sha256),
                found: format!("{} {}", embedder.id(), embedder.sha256()),
            });
        }
        let nets = FaceNets::load(&Device::Cpu).map_err(|e| InferError::Models(e.to_string()))?;
        let cropper = Cropper::new(Arc::new(nets), classifier.artifact().crop.clone());
        Ok(Predictor {
            classifier,
            embedder,
            cropper,
        })
    }

    pub fn artifact(&self) -> &ModelArtifact {
        self.classifier.artifact()
    }

    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    /// Classifies already-cut 150×150 chips.
    pub fn predict_chips(&self, chips: &[RgbImage]) -> Result<Vec<Classification>> {
        Ok(self
            .embedder
            .embed(chips)?
            .iter()
            .map(|d| self.classifier.classify(d))
            .collect())
    }

    /// Every face of the image with its raw descriptor, in detector order, with the
    /// artifact's crop settings: the chips are cut exactly as the training chips were.
    pub fn describe(&self, image: &RgbImage) -> Result<Vec<(Face, Vec<f32>)>> {
        let faces = self
            .cropper
            .faces(image)
            .map_err(|e| InferError::Models(e.to_string()))?;
        let chips: Vec<RgbImage> = faces.iter().map(|f| self.cropper.chip(image, f)).collect();
        let descriptors = self.embedder.embed(&chips)?;
        Ok(faces.into_iter().zip(descriptors).collect())
    }

    /// Every face of the image, in detector order (see [`Predictor::describe`]), classified.
    pub fn predict(&self, image: &RgbImage) -> Result<Vec<FacePrediction>> {
        let described = self.describe(image)?;
        let boxes: Vec<BoxF> = described.iter().map(|(f, _)| f.bbox).collect();
        let picked = kao_facecrop::pick_boxes(&boxes, image.width(), image.height(), Pick::Center);
        Ok(described
            .into_iter()
            .map(|(f, d)| (f, self.classifier.classify(&d)))
            .enumerate()
            .map(|(i, (f, c))| FacePrediction {
                bbox: f.bbox,
                score: f.score,
                landmarks: f.landmarks,
                predictions: c.predictions,
                unknown: c.unknown,
                picked: picked.contains(&i),
            })
            .collect())
    }
}
