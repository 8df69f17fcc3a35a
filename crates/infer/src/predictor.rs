use std::path::Path;
use std::sync::Arc;

use candle_core::Device;
use image::RgbImage;
use kao_dataset::BoxF;
use kao_facecrop::{CropConfig, Cropper, Face, FaceNets, Pick};
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
    /// The artifact's crop settings: the detector order the training photos were cut with.
    cropper: Cropper,
    /// The same settings with the detector order that finds the most faces.
    all_faces: Cropper,
}

impl Predictor {
    /// Loads an iteration folder (`W/iterations/<n>`) and the face networks from the
    /// face-api weight folder `model_dir`, checking the artifact's version and checksums,
    /// and that the recognition weights are the ones the head was trained on.
    pub fn from_dir(iteration_dir: &Path, model_dir: &Path) -> Result<Predictor> {
        Self::with_networks(
            Classifier::load(iteration_dir)?,
            &ModelFiles::Dir(model_dir.to_path_buf()),
            &iteration_dir.join(crate::artifact::MODEL_FILE),
        )
    }

    /// Loads the face networks for `classifier` from `files` (a folder, or the bytes a
    /// browser page fetched), checking that the recognition weights are the ones the head
    /// was trained on; `model_json` names the iteration in that error.
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
        let nets = Arc::new(FaceNets::load_from(files, &Device::Cpu)?);
        let trained = classifier.artifact().crop.clone();
        let most = CropConfig::for_pick(Pick::All);
        let all_faces = CropConfig {
            detector: most.detector,
            fallback: most.fallback,
            ..trained.clone()
        };
        Ok(Predictor {
            cropper: Cropper::new(Arc::clone(&nets), trained),
            all_faces: Cropper::new(nets, all_faces),
            classifier,
            embedder,
        })
    }

    /// The TF.js weight stems [`Predictor::with_networks`] reads: what a browser page must
    /// download (both detectors: [`Predictor::predict_all_faces`] runs SSD first).
    pub fn weights_for(_artifact: &ModelArtifact) -> Vec<&'static str> {
        let mut stems = FaceNets::WEIGHTS.to_vec();
        stems.push(kao_models::recognition::WEIGHTS);
        stems
    }

    /// [`Predictor::from_dir`] with the face networks of [`kao_models::default_model_dir`]:
    /// `$KAO_MODELS`, else the Kao source tree's `models/face-api`.
    pub fn load(iteration_dir: &Path) -> Result<Predictor> {
        Predictor::from_dir(iteration_dir, &kao_models::default_model_dir())
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

    /// Every face of the image with its raw descriptor, found as [`Predictor::predict`]
    /// finds them (the artifact's crop settings) and cut exactly as the training chips were.
    pub fn describe(&self, image: &RgbImage) -> Result<Vec<(Face, Vec<f32>)>> {
        self.describe_with(&self.cropper, image)
    }

    /// The faces of the image found with the artifact's crop settings, in detector order:
    /// the detector order the training photos were cut with (tiny first by default, SSD
    /// where tiny finds none), and chips cut exactly as the training chips were. This is
    /// what the prediction service answers; it finds the main face of a portrait fast, but
    /// can miss small faces of a group photo.
    pub fn predict(&self, image: &RgbImage) -> Result<Vec<FacePrediction>> {
        self.predict_with(&self.cropper, image)
    }

    /// Every face of the image: the artifact's crop settings, but with the detector order
    /// that finds the most faces (SSD first, tiny where SSD finds none, as `kao crop --pick
    /// all`). Slower than [`Predictor::predict`] on most photos, SSD being the larger
    /// network (docs/crop.md gives the cost).
    pub fn predict_all_faces(&self, image: &RgbImage) -> Result<Vec<FacePrediction>> {
        self.predict_with(&self.all_faces, image)
    }

    fn describe_with(&self, cropper: &Cropper, image: &RgbImage) -> Result<Vec<(Face, Vec<f32>)>> {
        let faces = cropper.faces(image)?;
        let chips: Vec<RgbImage> = faces.iter().map(|f| cropper.chip(image, f)).collect();
        let descriptors = self.embedder.embed(&chips)?;
        Ok(faces.into_iter().zip(descriptors).collect())
    }

    fn predict_with(&self, cropper: &Cropper, image: &RgbImage) -> Result<Vec<FacePrediction>> {
        let described = self.describe_with(cropper, image)?;
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
