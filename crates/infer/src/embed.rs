//! Chips to descriptors through the recognition network.

use std::path::Path;

use candle_core::{Device, Tensor};
use image::RgbImage;
use kao_models::{FaceRecognitionNet, ModelError};

use crate::error::Result;

/// The id recorded in `model.json` and used to key the embedding cache.
pub const EMBEDDING_ID: &str = "face-api-1.7.15/face_recognition_model";
pub const DIMENSION: usize = 128;
/// Side of the chip the network takes.
pub const CHIP_SIZE: u32 = 150;

/// The recognition network and the checksum of its weights.
#[derive(Debug, Clone)]
pub struct Embedder {
    net: FaceRecognitionNet,
    sha256: String,
    device: Device,
}

impl Embedder {
    /// Loads the recognition network from the face-api weight folder `dir` (checksums
    /// verified against its `SHA256SUMS`) on the CPU.
    pub fn from_dir(dir: &Path) -> Result<Embedder> {
        let device = Device::Cpu;
        let net = FaceRecognitionNet::from_dir(dir, &device)?;
        let sha256 = net.weights_sha256().unwrap_or_default().to_string();
        Ok(Embedder {
            net,
            sha256,
            device,
        })
    }

    /// [`Embedder::from_dir`] on [`kao_models::default_model_dir`]: `$KAO_MODELS`, else the
    /// Kao source tree's `models/face-api`.
    pub fn load_default() -> Result<Embedder> {
        Embedder::from_dir(&kao_models::default_model_dir())
    }

    pub fn id(&self) -> &'static str {
        EMBEDDING_ID
    }

    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// One raw 128-d descriptor per 150×150 chip.
    ///
    /// Chips run one per rayon task at batch 1 rather than as one batch: on 2 cores a
    /// batch of 16 split across both threads took 32 ms of thread time per face, one chip
    /// per thread about 22 ms (the layers are too small to split well, and a batch's im2col
    /// tiles fall out of cache). The numbers are the same either way.
    pub fn embed(&self, chips: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
        use rayon::prelude::*;
        chips.par_iter().map(|chip| self.embed_one(chip)).collect()
    }

    fn embed_one(&self, chip: &RgbImage) -> Result<Vec<f32>> {
        let side = CHIP_SIZE as usize;
        if chip.dimensions() != (CHIP_SIZE, CHIP_SIZE) {
            return Err(ModelError::Input(format!(
                "chip is {}x{}, the recognition network takes {side}x{side}",
                chip.width(),
                chip.height()
            ))
            .into());
        }
        // HWC bytes to CHW floats, as the network's [1, 3, 150, 150] input.
        let raw = chip.as_raw();
        let mut data = Vec::with_capacity(3 * side * side);
        for c in 0..3 {
            data.extend(raw.iter().skip(c).step_by(3).map(|&v| v as f32));
        }
        let run = || -> kao_models::Result<Vec<f32>> {
            let x = Tensor::from_vec(data, (1, 3, side, side), &self.device)?;
            let mut rows = self.net.forward(&x)?.to_vec2::<f32>()?;
            Ok(rows.pop().unwrap_or_default())
        };
        Ok(run()?)
    }
}
