//! FaceRecognitionNet: dlib's face-recognition ResNet (29 conv layers, 128-d descriptors),
//! as face-api ships it.
//!
//! The architecture is a ResNet (He et al., "Deep Residual Learning for Image Recognition",
//! CVPR 2016) trained by Davis King for dlib (`dlib_face_recognition_resnet_model_v1`), with
//! batch norm folded into per-channel scale layers. Descriptors of the same person lie
//! within about 0.6 Euclidean distance.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::error::Result;
use crate::ops::{pool, Conv2d, Padding};
use crate::{ModelFiles, Weights};

/// The stem of the network's TF.js weight files.
pub const WEIGHTS: &str = "face_recognition_model";

/// Side of the square input the net expects.
pub const INPUT_SIZE: usize = 150;
/// Per-channel RGB mean subtracted before dividing by 255.
pub const MEAN_RGB: [f32; 3] = [122.782, 117.001, 104.298];

/// conv + bias, then the scale layer (`x * weights + biases`), optionally relu.
#[derive(Debug, Clone)]
struct ConvLayer {
    conv: Conv2d,
}

fn conv_layer(
    vb: VarBuilder,
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    padding: Padding,
    relu: bool,
) -> Result<ConvLayer> {
    let filters = vb.pp("conv").get((k, k, cin, cout), "filters")?;
    let bias = vb.pp("conv").get(cout, "bias")?;
    let scale = vb.pp("scale").get(cout, "weights")?;
    let shift = vb.pp("scale").get(cout, "biases")?;
    let conv = Conv2d::from_hwio(&filters, Some(bias), stride, padding)?
        .with_scale(&scale, &shift)?
        .with_relu(relu);
    Ok(ConvLayer { conv })
}

impl candle_core::Module for ConvLayer {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.conv.forward(x)
    }
}

/// Two 3×3 conv layers with an identity shortcut; the "down" variant halves the size with
/// a stride-2 `'valid'` first conv and an average-pooled (zero-widened) shortcut.
#[derive(Debug, Clone)]
struct Residual {
    conv1: ConvLayer,
    conv2: ConvLayer,
    down: bool,
}

fn residual(vb: VarBuilder, cin: usize, cout: usize, down: bool) -> Result<Residual> {
    let (stride, padding) = if down {
        (2, Padding::Valid)
    } else {
        (1, Padding::Same)
    };
    Ok(Residual {
        conv1: conv_layer(vb.pp("conv1"), cin, cout, 3, stride, padding, true)?,
        conv2: conv_layer(vb.pp("conv2"), cout, cout, 3, 1, Padding::Same, false)?,
        down,
    })
}

impl candle_core::Module for Residual {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let hidden = x.apply(&self.conv1)?;
        if !self.down {
            return self.conv2.conv.forward_add_relu(&hidden, x);
        }
        let pooled = x.avg_pool2d(2)?;
        let (n, c, h, w) = pooled.dims4()?;
        let cout = self.conv2.conv.out_channels();
        // Doubling the channels: the shortcut gets zero channels appended.
        let shortcut = if cout != c {
            let zeros = Tensor::zeros((n, cout - c, h, w), pooled.dtype(), pooled.device())?;
            Tensor::cat(&[&pooled, &zeros], 1)?
        } else {
            pooled
        };
        let (_, _, oh, ow) = hidden.dims4()?;
        if (oh, ow) == (h, w) {
            return self.conv2.conv.forward_add_relu(&hidden, &shortcut);
        }
        // The stride-2 'valid' conv can come out one row and column short of the pooled
        // shortcut; face-api appends a zero row (bottom) and column (right).
        let out = hidden
            .apply(&self.conv2)?
            .pad_with_zeros(2, 0, h - oh)?
            .pad_with_zeros(3, 0, w - ow)?;
        (out + shortcut)?.relu()
    }
}

/// The network: raw 0–255 RGB `[N, 3, 150, 150]` in, `[N, 128]` descriptors out (not
/// L2-normalised, as face-api returns them).
#[derive(Debug, Clone)]
pub struct FaceRecognitionNet {
    conv32_down: ConvLayer,
    conv32: [Residual; 3],
    conv64_down: Residual,
    conv64: [Residual; 3],
    conv128_down: Residual,
    conv128: [Residual; 2],
    conv256_down: Residual,
    conv256: [Residual; 2],
    conv256_down_out: Residual,
    /// `[256, 128]`: the device, and the reference shape.
    fc: Tensor,
    /// The same, row-major, for [`Self::fully_connected`].
    fc_rows: Vec<f32>,
    sha256: Option<String>,
}

impl FaceRecognitionNet {
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let fc = vb.get((256, 128), "fc")?;
        Ok(FaceRecognitionNet {
            fc_rows: fc.flatten_all()?.to_vec1()?,
            fc,
            conv32_down: conv_layer(vb.pp("conv32_down"), 3, 32, 7, 2, Padding::Valid, true)?,
            conv32: [
                residual(vb.pp("conv32_1"), 32, 32, false)?,
                residual(vb.pp("conv32_2"), 32, 32, false)?,
                residual(vb.pp("conv32_3"), 32, 32, false)?,
            ],
            conv64_down: residual(vb.pp("conv64_down"), 32, 64, true)?,
            conv64: [
                residual(vb.pp("conv64_1"), 64, 64, false)?,
                residual(vb.pp("conv64_2"), 64, 64, false)?,
                residual(vb.pp("conv64_3"), 64, 64, false)?,
            ],
            conv128_down: residual(vb.pp("conv128_down"), 64, 128, true)?,
            conv128: [
                residual(vb.pp("conv128_1"), 128, 128, false)?,
                residual(vb.pp("conv128_2"), 128, 128, false)?,
            ],
            conv256_down: residual(vb.pp("conv256_down"), 128, 256, true)?,
            conv256: [
                residual(vb.pp("conv256_1"), 256, 256, false)?,
                residual(vb.pp("conv256_2"), 256, 256, false)?,
            ],
            conv256_down_out: residual(vb.pp("conv256_down_out"), 256, 256, true)?,
            sha256: None,
        })
    }

    /// Loads `face_recognition_model` from the face-api weight folder `dir` (checksums verified against
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
        self.fc.device()
    }

    /// SHA-256 of the weight shards, when loaded through [`Self::from_dir`] or [`Self::load_default`].
    pub fn weights_sha256(&self) -> Option<&str> {
        self.sha256.as_deref()
    }

    /// Descriptors `[N, 128]` for raw 0–255 RGB crops `[N, 3, 150, 150]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = crate::preprocess::normalise(&x.to_dtype(DType::F32)?, MEAN_RGB, 255.0)?;
        let features = x
            .apply(&self.conv32_down)?
            .apply(&pool::MaxPool::valid(3, 2))?
            .apply(&self.conv32[0])?
            .apply(&self.conv32[1])?
            .apply(&self.conv32[2])?
            .apply(&self.conv64_down)?
            .apply(&self.conv64[0])?
            .apply(&self.conv64[1])?
            .apply(&self.conv64[2])?
            .apply(&self.conv128_down)?
            .apply(&self.conv128[0])?
            .apply(&self.conv128[1])?
            .apply(&self.conv256_down)?
            .apply(&self.conv256[0])?
            .apply(&self.conv256[1])?
            .apply(&self.conv256_down_out)?;
        self.fully_connected(&features.mean((2, 3))?)
    }

    /// `features · fc` for `[N, 256]` features. A plain loop rather than candle's matmul:
    /// 32K multiply-adds a face, and without candle's matmul the browser's module carries
    /// no general GEMM for every dtype.
    fn fully_connected(&self, features: &Tensor) -> Result<Tensor> {
        let (n, inputs) = features.dims2()?;
        let outputs = self.fc.dims()[1];
        let x = features.flatten_all()?.to_vec1::<f32>()?;
        let mut out = vec![0f32; n * outputs];
        for (x, out) in x.chunks_exact(inputs).zip(out.chunks_exact_mut(outputs)) {
            for (&v, w) in x.iter().zip(self.fc_rows.chunks_exact(outputs)) {
                for (o, &w) in out.iter_mut().zip(w) {
                    *o += v * w;
                }
            }
        }
        Ok(Tensor::from_vec(out, (n, outputs), features.device())?)
    }
}
