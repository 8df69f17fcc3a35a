//! FaceLandmark68Net: 68 iBUG facial landmarks from a 112×112 face crop, as face-api ships it.
//!
//! A small densely connected convolutional network (dense blocks after Huang et al.,
//! "Densely Connected Convolutional Networks", CVPR 2017, with depthwise-separable convs as
//! in Howard et al., "MobileNets", 2017) regressing the 136 coordinates directly; trained by
//! Vincent Mühler for face-api.js. Points follow the iBUG 300-W 68-point scheme.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::blocks::{dense_block, DenseBlock};
use crate::error::{ModelError, Result};
use crate::ops::pool::AvgPool;
use crate::{ModelFiles, Weights};

/// The stem of the network's TF.js weight files.
pub const WEIGHTS: &str = "face_landmark_68_model";

/// Side of the square input the landmark nets expect.
pub const INPUT_SIZE: usize = 112;
/// Per-channel RGB mean subtracted before dividing by 255.
pub const MEAN_RGB: [f32; 3] = [122.782, 117.001, 104.298];

/// The network: raw 0–255 RGB `[N, 3, 112, 112]` in, `[N, 136]` out (x0, y0, x1, y1, … as
/// fractions of the padded square input; see [`landmarks_in_image`]).
#[derive(Debug, Clone)]
pub struct FaceLandmark68Net {
    dense: [DenseBlock; 4],
    fc: candle_nn::Linear,
    sha256: Option<String>,
}

impl FaceLandmark68Net {
    pub fn load(vb: VarBuilder) -> Result<Self> {
        Ok(FaceLandmark68Net {
            dense: [
                dense_block(vb.pp("dense0"), 3, 32, 4, true)?,
                dense_block(vb.pp("dense1"), 32, 64, 4, false)?,
                dense_block(vb.pp("dense2"), 64, 128, 4, false)?,
                dense_block(vb.pp("dense3"), 128, 256, 4, false)?,
            ],
            fc: fully_connected(vb.pp("fc"), 256)?,
            sha256: None,
        })
    }

    /// Loads `face_landmark_68_model` from the face-api weight folder `dir` (checksums verified against
    /// its `SHA256SUMS`) onto `device`.
    pub fn from_dir(dir: &Path, device: &Device) -> Result<Self> {
        Self::load_from(&ModelFiles::Dir(dir.to_path_buf()), device)
    }

    /// Loads [`WEIGHTS`] from `files` (checksums verified) onto `device`: a folder, or
    /// the bytes a browser page fetched.
    pub fn load_from(files: &ModelFiles, device: &Device) -> Result<Self> {
        let weights = Weights::load_from(files, WEIGHTS, device)?;
        let mut net = Self::load(weights.var_builder(device))?;
        net.sha256 = Some(weights.sha256().to_string());
        Ok(net)
    }

    /// [`Self::from_dir`] on [`crate::default_model_dir`]: `$KAO_MODELS`, else the Kao
    /// source tree's `models/face-api`.
    pub fn load_default(device: &Device) -> Result<Self> {
        Self::from_dir(&crate::default_model_dir(), device)
    }

    /// The device the weights live on (inputs must be there too).
    pub fn device(&self) -> &Device {
        self.fc.weight().device()
    }

    /// SHA-256 of the weight shards, when loaded through [`Self::from_dir`] or [`Self::load_default`].
    pub fn weights_sha256(&self) -> Option<&str> {
        self.sha256.as_deref()
    }

    /// `[N, 136]` relative landmark coordinates for raw 0–255 RGB crops `[N, 3, 112, 112]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = crate::preprocess::normalise(&x.to_dtype(DType::F32)?, MEAN_RGB, 255.0)?;
        let features = x
            .apply(&self.dense[0])?
            .apply(&self.dense[1])?
            .apply(&self.dense[2])?
            .apply(&self.dense[3])?
            .apply(&AvgPool::valid(7, 2))?;
        Ok(features.flatten_from(1)?.apply(&self.fc)?)
    }
}

/// `fc/weights` `[cin, 136]` (TF.js layout) and `fc/bias`.
pub(crate) fn fully_connected(vb: VarBuilder, cin: usize) -> Result<candle_nn::Linear> {
    let weights = vb.get((cin, 136), "weights")?;
    let bias = vb.get(136, "bias")?;
    Ok(candle_nn::Linear::new(weights.t()?, Some(bias)))
}

/// Turns one row of a landmark net's output into 68 `[x, y]` points in image pixels, for a
/// crop `crop_width`×`crop_height` whose top-left corner sits at `origin` in the image.
///
/// face-api's rule: the crop was centred in a square and scaled by `s = 112/max(w, h)`; the
/// padded axis is offset by exactly `|w·s − h·s| / 2` (even though the pixel padding used
/// `round`). The relative step runs in f32 as tfjs's tensors do, the rest in f64 as JS.
/// In face-api's pipeline `origin` is the unfloored detection corner, not the integer
/// crop's corner.
pub fn landmarks_in_image(
    output: &[f32],
    crop_width: u32,
    crop_height: u32,
    origin: (f64, f64),
) -> Result<Vec<[f64; 2]>> {
    if output.len() != 136 || crop_width == 0 || crop_height == 0 {
        return Err(ModelError::Input(format!(
            "landmarks need 136 outputs and a non-empty crop, got {} outputs for {crop_width}x{crop_height}",
            output.len()
        )));
    }
    let size = INPUT_SIZE as f64;
    let scale = size / f64::from(crop_width.max(crop_height));
    let (w, h) = (
        f64::from(crop_width) * scale,
        f64::from(crop_height) * scale,
    );
    let pad_x = if w < h { (w - h).abs() / 2.0 } else { 0.0 };
    let pad_y = if h < w { (w - h).abs() / 2.0 } else { 0.0 };
    let relative =
        |v: f32, pad: f64, extent: f64| (v * INPUT_SIZE as f32 - pad as f32) / extent as f32;
    Ok(output
        .chunks_exact(2)
        .map(|p| {
            let rx = f64::from(relative(p[0], pad_x, w));
            let ry = f64::from(relative(p[1], pad_y, h));
            [
                rx * f64::from(crop_width) + origin.0,
                ry * f64::from(crop_height) + origin.1,
            ]
        })
        .collect())
}
