//! Detect → landmarks → alignment for one photo, with the networks loaded once.

use std::path::Path;
use std::sync::Arc;

use candle_core::Device;
use image::RgbImage;
use kao_dataset::{BoxF, RejectReason};
use kao_models::preprocess::{self, Pad, Rect};
use kao_models::ssd::{SsdMobilenetV1, SsdOptions};
use kao_models::{
    landmarks_in_image, Detection, FaceLandmark68Net, ModelFiles, TinyFaceDetector, TinyOptions,
};

use crate::align;
use crate::config::{Alignment, CropConfig, DetectorKind, Pick};
use crate::describe::ChipDescriber;
use crate::error::Result;
use crate::face::Face;
use crate::warp;

/// Detections scoring at least this, but under the configured threshold, make a photo a
/// `low_score` reject rather than `no_face`: something face-like was there.
const CANDIDATE_SCORE: f64 = 0.2;
/// dlib's padding around the mean face for its 150×150 recognition chips.
const DLIB_PADDING: f64 = 0.25;
const LANDMARK_INPUT: usize = 112;
/// The smallest input the tiny detector's retry goes down to.
const MIN_TINY_INPUT: usize = 128;

/// The detectors and the landmark network, loaded once and shared by every thread.
pub struct FaceNets {
    device: Device,
    tiny: TinyFaceDetector,
    ssd: SsdMobilenetV1,
    landmarks: FaceLandmark68Net,
}

impl FaceNets {
    /// Loads the two detectors and the landmark network from the face-api weight folder
    /// `dir` (checksums verified against its `SHA256SUMS`) onto `device`.
    pub fn from_dir(dir: &Path, device: &Device) -> Result<FaceNets> {
        Self::load_from(&ModelFiles::Dir(dir.to_path_buf()), device)
    }

    /// [`FaceNets::from_dir`] from any [`ModelFiles`]: a folder, or the bytes a browser page
    /// fetched.
    pub fn load_from(files: &ModelFiles, device: &Device) -> Result<FaceNets> {
        Ok(FaceNets {
            device: device.clone(),
            tiny: TinyFaceDetector::load_from(files, device)?,
            ssd: SsdMobilenetV1::load_from(files, device)?,
            landmarks: FaceLandmark68Net::load_from(files, device)?,
        })
    }

    /// The TF.js weight stems [`FaceNets::load_from`] reads.
    pub const WEIGHTS: [&'static str; 3] = [
        kao_models::tiny_detector::WEIGHTS,
        kao_models::ssd::WEIGHTS,
        kao_models::landmark68::WEIGHTS,
    ];

    /// [`FaceNets::from_dir`] on [`kao_models::default_model_dir`]: `$KAO_MODELS`, else the
    /// Kao source tree's `models/face-api`.
    pub fn load(device: &Device) -> Result<FaceNets> {
        FaceNets::from_dir(&kao_models::default_model_dir(), device)
    }
}

/// What became of one photo.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The faces kept after filtering, and which of them the pick rule chose.
    Faces {
        faces: Vec<Face>,
        picked: Vec<usize>,
    },
    /// Nothing usable: why, and what was found against which limit.
    Reject {
        reason: RejectReason,
        detail: String,
    },
}

/// Runs the crop settings over photos.
pub struct Cropper {
    nets: Arc<FaceNets>,
    config: CropConfig,
    describer: Option<Arc<dyn ChipDescriber>>,
}

impl Cropper {
    pub fn new(nets: Arc<FaceNets>, config: CropConfig) -> Cropper {
        Cropper {
            nets,
            config,
            describer: None,
        }
    }

    /// Also computes each new chip's descriptor in the crop stage (see [`ChipDescriber`]).
    pub fn with_describer(mut self, describer: Arc<dyn ChipDescriber>) -> Cropper {
        self.describer = Some(describer);
        self
    }

    pub fn config(&self) -> &CropConfig {
        &self.config
    }

    pub fn describer(&self) -> Option<&dyn ChipDescriber> {
        self.describer.as_deref()
    }

    /// Every face scoring at least the threshold, with landmarks and chip transform,
    /// in detector order (best first). Size filtering is left to [`Cropper::analyse`].
    pub fn faces(&self, image: &RgbImage) -> Result<Vec<Face>> {
        let threshold = f64::from(self.config.score_threshold);
        let mut detections = self.detect(self.config.detector, image, threshold)?;
        if detections.is_empty() {
            if let Some(fallback) = self.fallback() {
                detections = self.detect(fallback, image, threshold)?;
            }
        }
        self.landmark(image, &detections)
    }

    /// Whether any detection scores above the configured threshold.
    fn confident(&self, found: &[Detection]) -> bool {
        let threshold = f64::from(self.config.score_threshold);
        found.iter().any(|d| d.score > threshold)
    }

    fn fallback(&self) -> Option<DetectorKind> {
        self.config.fallback.filter(|&f| f != self.config.detector)
    }

    /// Faces, the filters and the pick rule: what the crop stage does with one photo.
    pub fn analyse(&self, image: &RgbImage) -> Result<Outcome> {
        let threshold = f64::from(self.config.score_threshold);
        let low = CANDIDATE_SCORE.min(threshold);
        let mut candidates = self.detect(self.config.detector, image, low)?;
        if !self.confident(&candidates) {
            if let Some(fallback) = self.fallback() {
                let second = self.detect(fallback, image, low)?;
                if self.confident(&second) || candidates.is_empty() {
                    candidates = second;
                }
            }
        }
        if candidates.is_empty() {
            return Ok(reject(
                RejectReason::NoFace,
                format!("no detection scored at least {low:.2}"),
            ));
        }
        let best = candidates.iter().map(|d| d.score).fold(f64::MIN, f64::max);
        let confident: Vec<Detection> = candidates
            .into_iter()
            .filter(|d| d.score > threshold)
            .collect();
        if confident.is_empty() {
            return Ok(reject(
                RejectReason::LowScore,
                format!("best score {best:.2}, the threshold is {threshold:.2}"),
            ));
        }
        let min = f64::from(self.config.min_face);
        let side = |d: &Detection| d.bbox.width.min(d.bbox.height);
        let largest = confident.iter().map(side).fold(0.0, f64::max);
        let big: Vec<Detection> = confident.into_iter().filter(|d| side(d) >= min).collect();
        if big.is_empty() {
            return Ok(reject(
                RejectReason::FaceTooSmall,
                format!(
                    "largest face {largest:.0} px, the minimum is {} px",
                    self.config.min_face
                ),
            ));
        }
        // Pick on the boxes first: landmarks are only worth computing for chosen faces.
        let boxes: Vec<BoxF> = big.iter().map(|d| to_box(&d.bbox)).collect();
        if self.config.pick == Pick::Center
            && crate::center_is_ambiguous(&boxes, image.width(), image.height())
        {
            return Ok(reject(
                RejectReason::Ambiguous,
                format!(
                    "{} faces; the two nearest the centre are within {:.0} % of the shorter side of each other",
                    boxes.len(),
                    crate::pick::AMBIGUOUS_MARGIN * 100.0
                ),
            ));
        }
        let chosen: Vec<Detection> =
            crate::pick_boxes(&boxes, image.width(), image.height(), self.config.pick)
                .into_iter()
                .map(|i| big[i])
                .collect();
        let faces = self.landmark(image, &chosen)?;
        if faces.is_empty() {
            return Ok(reject(
                RejectReason::NoFace,
                "no detected face had landmarks to align".to_string(),
            ));
        }
        let picked = (0..faces.len()).collect();
        Ok(Outcome::Faces { faces, picked })
    }

    /// Indices of `faces` to keep under the configured pick rule.
    pub fn pick(&self, faces: &[Face], width: u32, height: u32) -> Vec<usize> {
        crate::pick(faces, width, height, self.config.pick)
    }

    /// The chip of `face`: one bilinear resample of the original photo.
    pub fn chip(&self, image: &RgbImage, face: &Face) -> RgbImage {
        warp::warp_bilinear(image, &face.transform, self.config.chip_size)
    }

    fn detect(
        &self,
        kind: DetectorKind,
        image: &RgbImage,
        threshold: f64,
    ) -> Result<Vec<Detection>> {
        Ok(match kind {
            DetectorKind::Tiny => self.detect_tiny(image, threshold)?,
            DetectorKind::Ssd => self.nets.ssd.detect(
                image,
                &SsdOptions {
                    min_confidence: threshold,
                    ..SsdOptions::default()
                },
            )?,
        })
    }

    /// The tiny detector at the input fitted to the photo; when that finds nothing above
    /// the configured threshold, once more at three quarters of that side (see
    /// [`CropConfig::tiny_retry_smaller`]), keeping whichever pass found a face.
    fn detect_tiny(&self, image: &RgbImage, threshold: f64) -> Result<Vec<Detection>> {
        let fitted = kao_models::tiny_detector::fitting_input_size(
            image.width(),
            image.height(),
            self.config.tiny_max_input as usize,
        );
        let run = |input_size: usize| {
            self.nets.tiny.detect(
                image,
                &TinyOptions {
                    input_size,
                    score_threshold: threshold,
                },
            )
        };
        let first = run(fitted)?;
        let smaller = (fitted * 3 / 4) / 32 * 32;
        if !self.config.tiny_retry_smaller || self.confident(&first) || smaller < MIN_TINY_INPUT {
            return Ok(first);
        }
        let second = run(smaller)?;
        Ok(if self.confident(&second) {
            second
        } else {
            first
        })
    }

    /// Landmarks for every detection in one batch, and each face's chip transform.
    fn landmark(&self, image: &RgbImage, detections: &[Detection]) -> Result<Vec<Face>> {
        let crops: Vec<(Detection, Rect)> = detections
            .iter()
            .filter_map(|d| clip(&d.bbox, image.width(), image.height()).map(|r| (*d, r)))
            .collect();
        if crops.is_empty() {
            return Ok(Vec::new());
        }
        let inputs: Vec<(&RgbImage, Rect)> = crops.iter().map(|(_, r)| (image, *r)).collect();
        let batch = preprocess::batch(&inputs, LANDMARK_INPUT, Pad::Centred, &self.nets.device)?;
        let out = self.nets.landmarks.forward(&batch)?.to_vec2::<f32>()?;
        let mut faces = Vec::with_capacity(crops.len());
        for ((det, rect), row) in crops.iter().zip(out) {
            // face-api shifts by the unfloored detection corner, not the crop's.
            let points =
                landmarks_in_image(&row, rect.width, rect.height, (det.bbox.x, det.bbox.y))?;
            let landmarks: Vec<[f32; 2]> =
                points.iter().map(|p| [p[0] as f32, p[1] as f32]).collect();
            let transform = match self.config.alignment {
                Alignment::Dlib => {
                    align::dlib_chip(&landmarks, self.config.chip_size, DLIB_PADDING)
                }
                Alignment::FaceApi => align::faceapi_chip(&landmarks, self.config.chip_size),
            };
            let Some(transform) = transform else { continue };
            faces.push(Face {
                bbox: to_box(&det.bbox),
                score: det.score as f32,
                landmarks,
                transform,
            });
        }
        Ok(faces)
    }
}

fn reject(reason: RejectReason, detail: String) -> Outcome {
    Outcome::Reject { reason, detail }
}

fn to_box(b: &kao_models::BBox) -> BoxF {
    BoxF {
        x: b.x as f32,
        y: b.y as f32,
        width: b.width as f32,
        height: b.height as f32,
    }
}

/// face-api's `clipAtImageBorders` then floor: the integer region the landmark net sees.
fn clip(b: &kao_models::BBox, width: u32, height: u32) -> Option<Rect> {
    let (w, h) = (f64::from(width), f64::from(height));
    let x = b.x.max(0.0);
    let y = b.y.max(0.0);
    let cw = (b.x + b.width - x).min(w - x).floor();
    let ch = (b.y + b.height - y).min(h - y).floor();
    let (x, y) = (x.floor(), y.floor());
    if cw < 1.0 || ch < 1.0 || x >= w || y >= h {
        return None;
    }
    Some(Rect {
        x: x as u32,
        y: y as u32,
        width: (cw as u32).min(width - x as u32),
        height: (ch as u32).min(height - y as u32),
    })
}
