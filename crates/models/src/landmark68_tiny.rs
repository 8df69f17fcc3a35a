//! FaceLandmark68TinyNet: the small variant of face-api's 68-point landmark regressor.
//!
//! Three densely connected blocks of three depthwise-separable convs (after Huang et al.,
//! "Densely Connected Convolutional Networks", CVPR 2017, and Howard et al., "MobileNets",
//! 2017), 32/64/128 channels, about a tenth of the full net's work. Same input and output
//! conventions as [`crate::landmark68::FaceLandmark68Net`].

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::blocks::{dense_block, DenseBlock};
use crate::error::Result;
use crate::landmark68::{fully_connected, MEAN_RGB};
use crate::ops::pool::AvgPool;
use crate::{ModelFiles, Weights};

/// The stem of the network's TF.js weight files.
pub const WEIGHTS: &str = "face_landmark_68_tiny_model";

/// The network: raw 0–255 RGB `[N, 3, 112, 112]` in, `[N, 136]` relative coordinates out.
#[derive(Debug, Clone)]
pub struct FaceLandmark68TinyNet {
    dense: [DenseBlock; 3],
    fc: candle_nn::Linear,
    sha256: Option<String>,
}

impl FaceLandmark68TinyNet {
    pub fn load(vb: VarBuilder) -> Result<Self> {
        Ok(FaceLandmark68TinyNet {
            dense: [
                dense_block(vb.pp("dense0"), 3, 32, 3, true)?,
                dense_block(vb.pp("dense1"), 32, 64, 3, false)?,
                dense_block(vb.pp("dense2"), 64, 128, 3, false)?,
            ],
            fc: fully_connected(vb.pp("fc"), 128)?,
            sha256: None,
        })
    }

    /// Loads `face_landmark_68_tiny_model` from the face-api weight folder `dir` (checksums verified against
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
            .apply(&AvgPool::valid(14, 2))?;
        Ok(features.flatten_from(1)?.apply(&self.fc)?)
    }
}
