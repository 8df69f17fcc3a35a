//! TinyFaceDetector: face-api's Tiny-YOLOv2-style single-class face detector with
//! depthwise-separable convolutions.
//!
//! Redmon & Farhadi, "YOLO9000: Better, Faster, Stronger", CVPR 2017
//! (<https://arxiv.org/abs/1612.08242>), slimmed with MobileNet's depthwise-separable
//! convolutions (Howard et al., <https://arxiv.org/abs/1704.04861>). One 3×3 convolution,
//! five separable convolutions each followed by a 2×2 max pool, and a 1×1 head predicting
//! five anchor boxes per cell of a `size/32` grid.

use std::path::Path;

use candle_core::{Device, Module, Tensor};
use candle_nn::VarBuilder;
use image::RgbImage;

use crate::detection::{BBox, Detection};
use crate::error::{ModelError, Result};
use crate::nms::non_max_suppression;
use crate::ops::pool::MaxPool2Same;
use crate::ops::{Activation, Conv2d, Conv3x3Pool, DepthwiseConv2d, Padding, PointwiseConv2d};
use crate::preprocess::{self, Pad, Rect};
use crate::weights::{ModelFiles, Weights};

/// The stem of the network's TF.js weight files.
pub const WEIGHTS: &str = "tiny_face_detector_model";

/// Anchor box sizes (width, height) in grid cells.
const ANCHORS: [(f64, f64); 5] = [
    (1.603231, 2.094468),
    (6.041143, 7.080126),
    (2.882459, 3.518061),
    (4.266906, 5.178857),
    (9.041765, 10.66308),
];
const MEAN_RGB: [f32; 3] = [117.001, 114.697, 97.404];
const IOU_THRESHOLD: f64 = 0.4;
/// Values per anchor: tx, ty, tw, th, objectness.
const BOX_ENCODING: usize = 5;

/// Detection settings (face-api's `TinyFaceDetectorOptions`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TinyOptions {
    /// Side of the square network input; a multiple of 32. Larger finds smaller faces.
    pub input_size: usize,
    /// Keep boxes scoring strictly above this.
    pub score_threshold: f64,
}

impl Default for TinyOptions {
    fn default() -> Self {
        TinyOptions {
            input_size: 416,
            score_threshold: 0.5,
        }
    }
}

/// Depthwise 3×3 (face-api pads one pixel explicitly; TF `'same'` gives the same for 3×3
/// stride 1), then pointwise 1×1 + bias + leaky ReLU.
#[derive(Debug, Clone)]
struct SeparableConv {
    depthwise: DepthwiseConv2d,
    pointwise: PointwiseConv2d,
}

fn separable(vb: VarBuilder, cin: usize, cout: usize) -> candle_core::Result<SeparableConv> {
    let depthwise = DepthwiseConv2d::from_hwc1(
        &vb.get((3, 3, cin, 1), "depthwise_filter")?,
        None,
        1,
        Padding::Same,
    )?;
    let pointwise = PointwiseConv2d::from_hwio(
        &vb.get((1, 1, cin, cout), "pointwise_filter")?,
        Some(vb.get(cout, "bias")?),
    )?
    .with_activation(Activation::Leaky);
    Ok(SeparableConv {
        depthwise,
        pointwise,
    })
}

impl Module for SeparableConv {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.apply(&self.depthwise)?.apply(&self.pointwise)
    }
}

/// The first layer: a dense 3×3 `'valid'` convolution + bias, fused with the following
/// 2×2 max pool and leaky ReLU (see [`Conv3x3Pool`]).
fn first_conv(vb: VarBuilder) -> candle_core::Result<Conv3x3Pool> {
    Conv3x3Pool::from_hwio(
        &vb.get((3, 3, 3, 16), "filters")?,
        &vb.get(16, "bias")?,
        Activation::Leaky,
    )
}

/// The TinyFaceDetector network.
#[derive(Debug, Clone)]
pub struct TinyFaceDetector {
    conv0: Conv3x3Pool,
    conv1: SeparableConv,
    conv2: SeparableConv,
    conv3: SeparableConv,
    conv4: SeparableConv,
    conv5: SeparableConv,
    conv8: Conv2d,
    device: Device,
}

impl TinyFaceDetector {
    /// Builds the network from `tiny_face_detector_model` weights (TF.js names).
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let conv8 = vb.pp("conv8");
        Ok(TinyFaceDetector {
            conv0: first_conv(vb.pp("conv0"))?,
            conv1: separable(vb.pp("conv1"), 16, 32)?,
            conv2: separable(vb.pp("conv2"), 32, 64)?,
            conv3: separable(vb.pp("conv3"), 64, 128)?,
            conv4: separable(vb.pp("conv4"), 128, 256)?,
            conv5: separable(vb.pp("conv5"), 256, 512)?,
            conv8: Conv2d::from_hwio(
                &conv8.get((1, 1, 512, ANCHORS.len() * BOX_ENCODING), "filters")?,
                Some(conv8.get(ANCHORS.len() * BOX_ENCODING, "bias")?),
                1,
                Padding::Valid,
            )?,
            device: vb.device().clone(),
        })
    }

    /// Loads `tiny_face_detector_model` from the face-api weight folder `dir` (checksums verified against
    /// its `SHA256SUMS`) onto `device`.
    pub fn from_dir(dir: &Path, device: &Device) -> Result<Self> {
        Self::load_from(&ModelFiles::Dir(dir.to_path_buf()), device)
    }

    /// Loads [`WEIGHTS`] from `files` (checksums verified) onto `device`: a folder, or
    /// the bytes a browser page fetched.
    pub fn load_from(files: &ModelFiles, device: &Device) -> Result<Self> {
        let weights = Weights::load_from(files, WEIGHTS, device)?;
        Self::load(weights.var_builder(device))
    }

    /// [`Self::from_dir`] on [`crate::default_model_dir`]: `$KAO_MODELS`, else the Kao
    /// source tree's `models/face-api`.
    pub fn load_default(device: &Device) -> Result<Self> {
        Self::from_dir(&crate::default_model_dir(), device)
    }

    /// `x`: `[N, 3, S, S]` RGB, raw 0–255 values, S a multiple of 32. Returns the raw grid
    /// `[N, 25, S/32, S/32]`; channel `anchor * 5 + k` holds tx, ty, tw, th, objectness.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let pool2 = MaxPool2Same {
            stride: 2,
            leaky: false,
        };
        let x = preprocess::normalise(x, MEAN_RGB, 255.0)?;
        Ok(x.apply(&self.conv0)?
            .apply(&self.conv1)?
            .apply(&pool2)?
            .apply(&self.conv2)?
            .apply(&pool2)?
            .apply(&self.conv3)?
            .apply(&pool2)?
            .apply(&self.conv4)?
            .apply(&pool2)?
            .apply(&self.conv5)?
            .apply(&MaxPool2Same {
                stride: 1,
                leaky: false,
            })?
            .apply(&self.conv8)?)
    }

    /// Faces in `image`, best first, boxes in its pixels.
    pub fn detect(&self, image: &RgbImage, opts: &TinyOptions) -> Result<Vec<Detection>> {
        if opts.input_size == 0 || opts.input_size % 32 != 0 {
            return Err(ModelError::Input(format!(
                "TinyFaceDetector input size {} is not a positive multiple of 32",
                opts.input_size
            )));
        }
        let input = preprocess::batch(
            &[(image, Rect::full(image))],
            opts.input_size,
            Pad::BottomRight,
            &self.device,
        )?;
        let grid = self.forward(&input)?.squeeze(0)?.to_vec3::<f32>()?;
        Ok(decode(&grid, image.width(), image.height(), opts))
    }
}

/// The input side for a `width`×`height` photo that never upscales it: the smallest
/// multiple of 32 covering its longest side, at most `max`.
pub fn fitting_input_size(width: u32, height: u32, max: usize) -> usize {
    let longest = width.max(height).max(1) as usize;
    longest.div_ceil(32).saturating_mul(32).min(max)
}

/// The input size the image is scaled to before padding, as face-api rounds it.
pub fn reshaped_dims(width: u32, height: u32, input_size: usize) -> (f64, f64) {
    let scale = input_size as f64 / f64::from(width.max(height));
    (
        (f64::from(width) * scale).round(),
        (f64::from(height) * scale).round(),
    )
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Turns the raw grid `[25][cells][cells]` of one image into detections in its pixels
/// (face-api's `extractBoxes` then NMS); the arithmetic is face-api's, in f64.
// Row and column index 25 channel planes at once and enter the box arithmetic.
#[allow(clippy::needless_range_loop)]
pub fn decode(
    grid: &[Vec<Vec<f32>>],
    width: u32,
    height: u32,
    opts: &TinyOptions,
) -> Vec<Detection> {
    let cells = grid.first().map_or(0, Vec::len);
    let (rw, rh) = reshaped_dims(width, height, opts.input_size);
    let side = rw.max(rh);
    let (fx, fy) = (side / rw, side / rh);
    let n = cells as f64;
    let mut boxes = Vec::new();
    let mut scores = Vec::new();
    for row in 0..cells {
        for col in 0..cells {
            for (a, &(aw, ah)) in ANCHORS.iter().enumerate() {
                let v = |k: usize| f64::from(grid[a * BOX_ENCODING + k][row][col]);
                let score = sigmoid(v(4));
                if score <= opts.score_threshold {
                    continue;
                }
                let cx = (col as f64 + sigmoid(v(0))) / n * fx;
                let cy = (row as f64 + sigmoid(v(1))) / n * fy;
                let w = v(2).exp() * aw / n * fx;
                let h = v(3).exp() * ah / n * fy;
                let (x, y) = (cx - w / 2.0, cy - h / 2.0);
                // face-api keeps (left, top, right, bottom) and takes width = right - left.
                boxes.push(BBox {
                    x,
                    y,
                    width: (x + w) - x,
                    height: (y + h) - y,
                });
                scores.push(score);
            }
        }
    }
    non_max_suppression(&boxes, &scores, IOU_THRESHOLD, usize::MAX)
        .into_iter()
        .map(|i| Detection {
            bbox: boxes[i].scale(f64::from(width), f64::from(height)),
            score: scores[i],
        })
        .collect()
}
