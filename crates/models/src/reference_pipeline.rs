//! face-api's `detectAllFaces(…).withFaceLandmarks().withFaceDescriptors()`, rule for rule:
//! SSD boxes → integer landmark crops → 68 points → dlib-style alignment box → integer
//! descriptor crops → 128-d descriptors. Kept exact (floors, quirks and all) so the port
//! can be checked against the reference end to end; see the golden README's "Pipeline
//! details".

use candle_core::Device;
use image::RgbImage;

use crate::detection::{BBox, Detection};
use crate::error::Result;
use crate::landmark68::{landmarks_in_image, FaceLandmark68Net};
use crate::preprocess::{self, Pad, Rect};
use crate::recognition::FaceRecognitionNet;
use crate::ssd::{SsdMobilenetV1, SsdOptions};

/// face-api's `Box.clipAtImageBorders` (which floors all four numbers): the integer region
/// of a `width`×`height` image a box covers. `None` when nothing of it is inside.
pub fn clip_at_image_borders(b: &BBox, width: u32, height: u32) -> Option<Rect> {
    let x = b.x.max(0.0);
    let y = b.y.max(0.0);
    let w = (b.right() - x).min(f64::from(width) - x).floor();
    let h = (b.bottom() - y).min(f64::from(height) - y).floor();
    let (x, y) = (x.floor(), y.floor());
    if w < 1.0 || h < 1.0 || x >= f64::from(width) || y >= f64::from(height) {
        return None;
    }
    Some(Rect {
        x: x as u32,
        y: y as u32,
        width: w as u32,
        height: h as u32,
    })
}

/// Mean of points, summed in order then divided, as face-api's `getCenterPoint`.
fn centre(points: &[[f64; 2]]) -> [f64; 2] {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p[0], y + p[1]));
    [sx / n, sy / n]
}

/// face-api's `landmarks.align(null, { useDlibAlignment: true })` for 68 points in image
/// pixels; `crop` is the landmark crop (face-api bounds the size by the crop's size plus
/// the corner, a quirk kept here).
pub fn dlib_align_box(landmarks: &[[f64; 2]], crop: Rect) -> BBox {
    let left_eye = centre(&landmarks[36..42]);
    let right_eye = centre(&landmarks[42..48]);
    let mouth = centre(&landmarks[48..68]);
    let dist = |p: [f64; 2]| ((mouth[0] - p[0]).powi(2) + (mouth[1] - p[1]).powi(2)).sqrt();
    let eye_to_mouth = (dist(left_eye) + dist(right_eye)) / 2.0;
    let size = (eye_to_mouth / 0.45).floor();
    let c = centre(&[left_eye, right_eye, mouth]);
    let x = (c[0] - 0.5 * size).max(0.0).floor();
    let y = (c[1] - 0.43 * size).max(0.0).floor();
    BBox {
        x,
        y,
        width: size.min(f64::from(crop.width) + x),
        height: size.min(f64::from(crop.height) + y),
    }
}

/// 68 landmarks (image pixels) for each detection, with the integer crop each came from
/// (face-api's `withFaceLandmarks()`); `None` for a detection wholly outside the image.
pub fn face_landmarks(
    net: &FaceLandmark68Net,
    image: &RgbImage,
    detections: &[Detection],
    device: &Device,
) -> Result<Vec<Option<CropLandmarks>>> {
    let crops: Vec<(usize, Rect)> = detections
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            Some((
                i,
                clip_at_image_borders(&d.bbox, image.width(), image.height())?,
            ))
        })
        .collect();
    let mut found = vec![None; detections.len()];
    if crops.is_empty() {
        return Ok(found);
    }
    let batch: Vec<(&RgbImage, Rect)> = crops.iter().map(|&(_, r)| (image, r)).collect();
    let input = preprocess::batch(&batch, crate::landmark68::INPUT_SIZE, Pad::Centred, device)?;
    let out = net.forward(&input)?.to_vec2::<f32>()?;
    for (&(i, rect), row) in crops.iter().zip(&out) {
        let b = &detections[i].bbox;
        found[i] = Some((
            rect,
            landmarks_in_image(row, rect.width, rect.height, (b.x, b.y))?,
        ));
    }
    Ok(found)
}

/// A landmark crop and the 68 `[x, y]` points (image pixels) found in it.
pub type CropLandmarks = (Rect, Vec<[f64; 2]>);

/// One face as the reference pipeline sees it.
#[derive(Debug, Clone)]
pub struct PipelineFace {
    pub detection: Detection,
    pub landmark_crop: Rect,
    /// 68 `[x, y]` points in image pixels.
    pub landmarks: Vec<[f64; 2]>,
    pub align_box: BBox,
    pub descriptor_crop: Rect,
    /// 128 floats, not normalised.
    pub descriptor: Vec<f32>,
}

/// SSD, the 68-point landmark net and the recognition net, chained as face-api does.
pub struct ReferencePipeline {
    pub ssd: SsdMobilenetV1,
    pub landmarks: FaceLandmark68Net,
    pub recognition: FaceRecognitionNet,
    device: Device,
}

impl ReferencePipeline {
    /// The three networks from the face-api weight folder `dir`.
    pub fn from_dir(dir: &std::path::Path, device: &Device) -> Result<Self> {
        Ok(ReferencePipeline {
            ssd: SsdMobilenetV1::from_dir(dir, device)?,
            landmarks: FaceLandmark68Net::from_dir(dir, device)?,
            recognition: FaceRecognitionNet::from_dir(dir, device)?,
            device: device.clone(),
        })
    }

    /// [`Self::from_dir`] on [`crate::default_model_dir`].
    pub fn load_default(device: &Device) -> Result<Self> {
        Self::from_dir(&crate::default_model_dir(), device)
    }

    /// See [`face_landmarks`].
    pub fn landmarks(
        &self,
        image: &RgbImage,
        detections: &[Detection],
    ) -> Result<Vec<Option<CropLandmarks>>> {
        face_landmarks(&self.landmarks, image, detections, &self.device)
    }

    /// Every face in `image`, in SSD's order (best first).
    pub fn run(&self, image: &RgbImage, opts: &SsdOptions) -> Result<Vec<PipelineFace>> {
        let detections = self.ssd.detect(image, opts)?;
        let mut faces = Vec::new();
        for (detection, found) in detections.iter().zip(self.landmarks(image, &detections)?) {
            let Some((landmark_crop, landmarks)) = found else {
                continue;
            };
            let align_box = dlib_align_box(&landmarks, landmark_crop);
            let Some(descriptor_crop) =
                clip_at_image_borders(&align_box, image.width(), image.height())
            else {
                continue;
            };
            faces.push(PipelineFace {
                detection: *detection,
                landmark_crop,
                landmarks,
                align_box,
                descriptor_crop,
                descriptor: Vec::new(),
            });
        }
        if faces.is_empty() {
            return Ok(faces);
        }
        let batch: Vec<(&RgbImage, Rect)> =
            faces.iter().map(|f| (image, f.descriptor_crop)).collect();
        let input = preprocess::batch(
            &batch,
            crate::recognition::INPUT_SIZE,
            Pad::Centred,
            &self.device,
        )?;
        let descriptors = self.recognition.forward(&input)?.to_vec2::<f32>()?;
        for (face, d) in faces.iter_mut().zip(descriptors) {
            face.descriptor = d;
        }
        Ok(faces)
    }
}
