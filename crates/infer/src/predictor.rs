use std::path::Path;
use std::sync::Arc;

use candle_core::Device;
use image::RgbImage;
use kao_dataset::BoxF;
use kao_facecrop::{Cropper, FaceNets, Pick};
use kao_models::ModelFiles;

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
        Self::with_networks(
            classifier,
            &ModelFiles::default_dir(),
            &iteration_dir.join(crate::artifact::MODEL_FILE),
        )
    }

    /// Loads the face networks `classifier`'s iteration needs (its detectors, landmarks,
    /// recognition) from `files`, checking that the recognition weights are the ones the
    /// head was trained on; `model_json` names the iteration in that error.
    pub fn with_networks(
        classifier: Classifier,
        files: &ModelFiles,
        model_json: &Path,
    ) -> Result<Predictor> {
        let embedder = Embedder::load_from(files)?;
        let expected = &classifier.artifact().embedding;
        if expected.sha256 != embedder.sha256() {
            return Err(InferError::Checksum {
                path: model_json.to_path_buf(),
                expected: format!("{} {}", expected.id, expected.sha256),
                found: format!("{} {}", embedder.id(), embedder.sha256()),
            });
        }
        let crop = classifier.artifact().crop.clone();
        let nets = FaceNets::load_for(&crop, files, &Device::Cpu)?;
        let cropper = Cropper::new(Arc::new(nets), crop);
        Ok(Predictor {
            classifier,
            embedder,
            cropper,
        })
    }

    /// The TF.js weight stems [`Predictor::with_networks`] reads for an iteration: what a
    /// browser page must download.
    pub fn weights_for(artifact: &ModelArtifact) -> Vec<&'static str> {
        let mut stems = FaceNets::weights_for(&artifact.crop);
        stems.push(kao_models::recognition::WEIGHTS);
        stems
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

    /// Every face of the image, in detector order, with the artifact's crop settings:
    /// the chips are cut exactly as the training chips were.
    pub fn predict(&self, image: &RgbImage) -> Result<Vec<FacePrediction>> {
        let faces = self.cropper.faces(image)?;
        let picked = kao_facecrop::pick(&faces, image.width(), image.height(), Pick::Center);
        let chips: Vec<RgbImage> = faces.iter().map(|f| self.cropper.chip(image, f)).collect();
        let classes = self.predict_chips(&chips)?;
        Ok(faces
            .into_iter()
            .zip(classes)
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
