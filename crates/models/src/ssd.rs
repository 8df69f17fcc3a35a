//! SSD MobileNet v1: face-api's accurate face detector.
//!
//! Liu et al., "SSD: Single Shot MultiBox Detector", ECCV 2016
//! (<https://arxiv.org/abs/1512.02325>) on a MobileNet v1 backbone (Howard et al.,
//! "MobileNets", <https://arxiv.org/abs/1704.04861>), as exported from the TensorFlow
//! Object Detection API: 512×512 input, six box predictors on 32², 16², 8², 4², 2² and 1²
//! feature maps, 5118 anchors.

use std::path::Path;

use candle_core::{Device, Module, Tensor, D};
use candle_nn::VarBuilder;
use image::RgbImage;

use crate::detection::{BBox, Detection};
use crate::error::Result;
use crate::nms::non_max_suppression;
use crate::ops::{Activation, Conv2d, DepthwiseConv2d, Padding, PointwiseConv2d};
use crate::preprocess::{self, Pad, Rect};
use crate::weights::{ModelFiles, Weights};

/// The stem of the network's TF.js weight files.
pub const WEIGHTS: &str = "ssd_mobilenetv1_model";

/// The fixed network input side.
pub const INPUT_SIZE: usize = 512;
pub const NUM_ANCHORS: usize = 5118;
const IOU_THRESHOLD: f64 = 0.5;
/// TensorFlow's batch-norm epsilon as face-api passes it (0.001 as f32).
const BN_EPSILON: f64 = 0.0010000000474974513;

/// (in, out, depthwise stride) of MobileNet's 13 depthwise-separable pairs.
const PAIRS: [(usize, usize, usize); 13] = [
    (32, 64, 1),
    (64, 128, 2),
    (128, 128, 1),
    (128, 256, 2),
    (256, 256, 1),
    (256, 512, 2),
    (512, 512, 1),
    (512, 512, 1),
    (512, 512, 1),
    (512, 512, 1),
    (512, 512, 1),
    (512, 1024, 2),
    (1024, 1024, 1),
];
/// The pair whose output feeds the first box predictor (32×32×512).
const FEATURE_PAIR: usize = 11;
/// (kernel, in, out) of the extra feature layers; 3×3 ones have stride 2.
const EXTRA: [(usize, usize, usize); 8] = [
    (1, 1024, 256),
    (3, 256, 512),
    (1, 512, 128),
    (3, 128, 256),
    (1, 256, 128),
    (3, 128, 256),
    (1, 256, 64),
    (3, 64, 128),
];
/// (input channels, anchors per cell) of the six box predictors.
const PREDICTORS: [(usize, usize); 6] =
    [(512, 3), (1024, 6), (512, 6), (256, 6), (256, 6), (128, 6)];

/// Detection settings (face-api's `SsdMobilenetv1Options`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SsdOptions {
    /// Keep boxes scoring strictly above this.
    pub min_confidence: f64,
    pub max_results: usize,
}

impl Default for SsdOptions {
    fn default() -> Self {
        SsdOptions {
            min_confidence: 0.5,
            max_results: 100,
        }
    }
}

/// A convolution + bias + ReLU6: 1×1 as one matrix product, 3×3 stride 2 `'same'` dense.
#[derive(Debug, Clone)]
enum ConvRelu6 {
    Pointwise(PointwiseConv2d),
    Dense(Conv2d),
}

fn conv_relu6(
    vb: VarBuilder,
    kernel: usize,
    cin: usize,
    cout: usize,
) -> candle_core::Result<ConvRelu6> {
    let filters = vb.get((kernel, kernel, cin, cout), "weights")?;
    let bias = vb.get(cout, "convolution_bn_offset")?;
    Ok(if kernel == 1 {
        ConvRelu6::Pointwise(
            PointwiseConv2d::from_hwio(&filters, Some(bias))?.with_activation(Activation::Relu6),
        )
    } else {
        ConvRelu6::Dense(Conv2d::from_hwio(&filters, Some(bias), 2, Padding::Same)?)
    })
}

impl Module for ConvRelu6 {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            ConvRelu6::Pointwise(c) => c.forward(x),
            ConvRelu6::Dense(c) => Activation::Relu6.apply_tensor(&c.forward(x)?),
        }
    }
}

/// Depthwise 3×3 `'same'` + batch norm + ReLU6.
fn depthwise_bn(
    vb: VarBuilder,
    channels: usize,
    stride: usize,
) -> candle_core::Result<DepthwiseConv2d> {
    let filters = vb.get((3, 3, channels, 1), "depthwise_weights")?;
    let bn = vb.pp("BatchNorm");
    DepthwiseConv2d::from_hwc1(&filters, None, stride, Padding::Same)?
        .with_batch_norm(
            &bn.get(channels, "gamma")?,
            &bn.get(channels, "beta")?,
            &bn.get(channels, "moving_mean")?,
            &bn.get(channels, "moving_variance")?,
            BN_EPSILON,
        )
        .map(|d| d.with_activation(Activation::Relu6))
}

/// One depthwise-separable pair of the backbone.
#[derive(Debug, Clone)]
struct Pair {
    depthwise: DepthwiseConv2d,
    pointwise: ConvRelu6,
}

fn pair(
    vb: VarBuilder,
    index: usize,
    (cin, cout, stride): (usize, usize, usize),
) -> candle_core::Result<Pair> {
    Ok(Pair {
        depthwise: depthwise_bn(vb.pp(format!("Conv2d_{index}_depthwise")), cin, stride)?,
        pointwise: conv_relu6(vb.pp(format!("Conv2d_{index}_pointwise")), 1, cin, cout)?,
    })
}

impl Module for Pair {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.apply(&self.depthwise)?.apply(&self.pointwise)
    }
}

/// A box predictor: 1×1 convolutions giving 4 box encodings and 3 class logits per anchor.
#[derive(Debug, Clone)]
struct BoxPredictor {
    boxes: PointwiseConv2d,
    classes: PointwiseConv2d,
}

fn box_predictor(
    vb: VarBuilder,
    (cin, anchors): (usize, usize),
) -> candle_core::Result<BoxPredictor> {
    let (b, c) = (vb.pp("BoxEncodingPredictor"), vb.pp("ClassPredictor"));
    Ok(BoxPredictor {
        boxes: PointwiseConv2d::from_hwio(
            &b.get((1, 1, cin, anchors * 4), "weights")?,
            Some(b.get(anchors * 4, "biases")?),
        )?,
        classes: PointwiseConv2d::from_hwio(
            &c.get((1, 1, cin, anchors * 3), "weights")?,
            Some(c.get(anchors * 3, "biases")?),
        )?,
    })
}

/// `[N, A·k, H, W]` → `[N, H·W·A, k]`: TensorFlow's NHWC order, anchor fastest.
fn per_anchor(x: &Tensor, k: usize) -> candle_core::Result<Tensor> {
    let n = x.dim(0)?;
    x.permute((0, 2, 3, 1))?.reshape((n, (), k))
}

impl BoxPredictor {
    /// (box encodings `[N, cells·A, 4]`, class logits `[N, cells·A, 3]`).
    fn forward(&self, x: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        Ok((
            per_anchor(&x.apply(&self.boxes)?, 4)?,
            per_anchor(&x.apply(&self.classes)?, 3)?,
        ))
    }
}

/// Decoded anchors of a batch: `boxes` `[N, 5118, 4]` as `[ymin, xmin, ymax, xmax]`
/// relative to the padded 512×512 input (not clipped), `scores` `[N, 5118]` (sigmoid).
#[derive(Debug, Clone)]
pub struct SsdOutput {
    pub boxes: Tensor,
    pub scores: Tensor,
}

/// The SSD MobileNet v1 network.
#[derive(Debug, Clone)]
pub struct SsdMobilenetV1 {
    conv_0: Conv2d,
    pairs: Vec<Pair>,
    extra: Vec<ConvRelu6>,
    predictors: Vec<BoxPredictor>,
    /// `[5118, 4]` anchors `[ymin, xmin, ymax, xmax]`.
    anchors: Tensor,
    device: Device,
}

impl SsdMobilenetV1 {
    /// Builds the network from `ssd_mobilenetv1_model` weights (TF.js names).
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let backbone = vb.pp("MobilenetV1");
        let conv_0 = backbone.pp("Conv2d_0_pointwise");
        let prediction = vb.pp("Prediction");
        Ok(SsdMobilenetV1 {
            conv_0: Conv2d::from_hwio(
                &conv_0.get((3, 3, 3, 32), "weights")?,
                Some(conv_0.get(32, "convolution_bn_offset")?),
                2,
                Padding::Same,
            )?,
            pairs: (1..)
                .zip(PAIRS)
                .map(|(i, p)| pair(backbone.clone(), i, p))
                .collect::<candle_core::Result<_>>()?,
            extra: EXTRA
                .iter()
                .enumerate()
                .map(|(i, &(k, cin, cout))| {
                    conv_relu6(prediction.pp(format!("Conv2d_{i}_pointwise")), k, cin, cout)
                })
                .collect::<candle_core::Result<_>>()?,
            predictors: PREDICTORS
                .iter()
                .enumerate()
                .map(|(i, &p)| box_predictor(prediction.pp(format!("BoxPredictor_{i}")), p))
                .collect::<candle_core::Result<_>>()?,
            anchors: vb
                .pp("Output")
                .get((1, NUM_ANCHORS, 4), "extra_dim")?
                .squeeze(0)?,
            device: vb.device().clone(),
        })
    }

    /// Loads `ssd_mobilenetv1_model` from the face-api weight folder `dir` (checksums verified against
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

    /// `x`: `[N, 3, 512, 512]` RGB, raw 0–255 values.
    pub fn forward(&self, x: &Tensor) -> Result<SsdOutput> {
        let x = (preprocess::normalise(x, [0.0; 3], 127.5)? - 1.0)?;
        let mut x = Activation::Relu6.apply_tensor(&x.apply(&self.conv_0)?)?;
        let mut features = Vec::with_capacity(PREDICTORS.len());
        for (i, p) in (1..).zip(&self.pairs) {
            x = x.apply(p)?;
            if i == FEATURE_PAIR {
                features.push(x.clone());
            }
        }
        features.push(x.clone());
        for (i, layer) in self.extra.iter().enumerate() {
            x = x.apply(layer)?;
            if i % 2 == 1 {
                features.push(x.clone());
            }
        }
        let (mut encodings, mut logits) = (Vec::new(), Vec::new());
        for (f, p) in features.iter().zip(&self.predictors) {
            let (e, l) = p.forward(f)?;
            encodings.push(e);
            logits.push(l);
        }
        let encodings = Tensor::cat(&encodings, 1)?;
        let logits = Tensor::cat(&logits, 1)?;
        Ok(SsdOutput {
            boxes: self.decode_boxes(&encodings)?,
            scores: candle_nn::ops::sigmoid(&logits.narrow(D::Minus1, 1, 1)?.squeeze(D::Minus1)?)?,
        })
    }

    /// Applies box encodings `(ty, tx, th, tw)` to the anchors, op for op as face-api.
    fn decode_boxes(&self, enc: &Tensor) -> candle_core::Result<Tensor> {
        let n = enc.dim(0)?;
        let col = |t: &Tensor, i: usize| t.narrow(D::Minus1, i, 1);
        let div = |t: &Tensor, d: f32| t.broadcast_div(&Tensor::new(d, t.device())?);
        let a = self
            .anchors
            .unsqueeze(0)?
            .broadcast_as((n, NUM_ANCHORS, 4))?;
        let ha = (col(&a, 2)? - col(&a, 0)?)?;
        let wa = (col(&a, 3)? - col(&a, 1)?)?;
        let cya = (col(&a, 0)? + div(&ha, 2.0)?)?;
        let cxa = (col(&a, 1)? + div(&wa, 2.0)?)?;
        let half_h = div(&(div(&col(enc, 2)?, 5.0)?.exp()? * &ha)?, 2.0)?;
        let cy = ((div(&col(enc, 0)?, 10.0)? * &ha)? + cya)?;
        let half_w = div(&(div(&col(enc, 3)?, 5.0)?.exp()? * &wa)?, 2.0)?;
        let cx = ((div(&col(enc, 1)?, 10.0)? * &wa)? + cxa)?;
        Tensor::cat(
            &[
                (&cy - &half_h)?,
                (&cx - &half_w)?,
                (&cy + &half_h)?,
                (&cx + &half_w)?,
            ],
            D::Minus1,
        )
    }

    /// Faces in `image`, best first, boxes in its pixels.
    pub fn detect(&self, image: &RgbImage, opts: &SsdOptions) -> Result<Vec<Detection>> {
        let input = preprocess::batch(
            &[(image, Rect::full(image))],
            INPUT_SIZE,
            Pad::BottomRight,
            &self.device,
        )?;
        let out = self.forward(&input)?;
        let boxes = out.boxes.squeeze(0)?.to_vec2::<f32>()?;
        let scores = out.scores.squeeze(0)?.to_vec1::<f32>()?;
        Ok(select(&boxes, &scores, image.width(), image.height(), opts))
    }
}

/// NMS over one image's decoded anchors, then face-api's conversion to image pixels:
/// clip to the padded square, undo the padding, scale to the image.
pub fn select(
    boxes: &[Vec<f32>],
    scores: &[f32],
    width: u32,
    height: u32,
    opts: &SsdOptions,
) -> Vec<Detection> {
    let (candidates, cand_boxes, cand_scores): (Vec<usize>, Vec<BBox>, Vec<f64>) = scores
        .iter()
        .enumerate()
        .filter(|(_, &s)| f64::from(s) > opts.min_confidence)
        .map(|(i, &s)| (i, corners_to_bbox(&boxes[i]), f64::from(s)))
        .fold(Default::default(), |(mut a, mut b, mut c), (i, bb, s)| {
            a.push(i);
            b.push(bb);
            c.push(s);
            (a, b, c)
        });
    let (rw, rh) = crate::tiny_detector::reshaped_dims(width, height, INPUT_SIZE);
    let (pad_x, pad_y) = (INPUT_SIZE as f64 / rw, INPUT_SIZE as f64 / rh);
    non_max_suppression(&cand_boxes, &cand_scores, IOU_THRESHOLD, opts.max_results)
        .into_iter()
        .map(|k| {
            let b = &boxes[candidates[k]];
            let top = f64::from(b[0]).max(0.0) * pad_y;
            let bottom = f64::from(b[2]).min(1.0) * pad_y;
            let left = f64::from(b[1]).max(0.0) * pad_x;
            let right = f64::from(b[3]).min(1.0) * pad_x;
            Detection {
                bbox: BBox {
                    x: left,
                    y: top,
                    width: right - left,
                    height: bottom - top,
                }
                .scale(f64::from(width), f64::from(height)),
                score: cand_scores[k],
            }
        })
        .collect()
}

/// `[ymin, xmin, ymax, xmax]` (in either order, as face-api's IoU accepts) as a box.
fn corners_to_bbox(b: &[f32]) -> BBox {
    let (y0, y1) = (f64::from(b[0].min(b[2])), f64::from(b[0].max(b[2])));
    let (x0, x1) = (f64::from(b[1].min(b[3])), f64::from(b[1].max(b[3])));
    BBox {
        x: x0,
        y: y0,
        width: x1 - x0,
        height: y1 - y0,
    }
}
