//! Chips to descriptors through the recognition network.

use std::path::Path;

use candle_core::{Device, Tensor};
use image::RgbImage;
use kao_models::{FaceRecognitionNet, ModelError, ModelFiles};

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
        Self::load_from(&ModelFiles::Dir(dir.to_path_buf()))
    }

    /// [`Embedder::from_dir`] from any [`ModelFiles`]: a folder, or the bytes a browser
    /// page fetched.
    pub fn load_from(files: &ModelFiles) -> Result<Embedder> {
        let device = Device::Cpu;
        let net = FaceRecognitionNet::load_from(files, &device)?;
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
    /// The chips are shared out over rayon's threads, each thread's share (up to
    /// [`MAX_BATCH`]) as one batch: a batch reuses each layer's weights across its chips
    /// while they are in cache (6.5 ms a chip at batch 16 against 7.3 ms alone, one
    /// thread), and one batch per thread keeps the cores busy without splitting small
    /// layers between them. A chip's descriptor does not depend on its batch: every output
    /// is summed in the same order either way.
    pub fn embed(&self, chips: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
        use rayon::prelude::*;
        let threads = rayon::current_num_threads().max(1);
        let per_task = chips.len().div_ceil(threads).clamp(1, MAX_BATCH);
        let batches: Vec<Vec<Vec<f32>>> = chips
            .par_chunks(per_task)
            .map(|batch| self.embed_batch(&batch.iter().collect::<Vec<_>>()))
            .collect::<Result<_>>()?;
        Ok(batches.into_iter().flatten().collect())
    }

    /// Descriptors of `chips` as one batch, on the calling thread (its layers may still
    /// share out work within rayon's pool).
    pub fn embed_batch(&self, chips: &[&RgbImage]) -> Result<Vec<Vec<f32>>> {
        if chips.is_empty() {
            return Ok(Vec::new());
        }
        let side = CHIP_SIZE as usize;
        let plane = side * side;
        let mut data = vec![0f32; chips.len() * 3 * plane];
        for (chip, dst) in chips.iter().zip(data.chunks_exact_mut(3 * plane)) {
            if chip.dimensions() != (CHIP_SIZE, CHIP_SIZE) {
                return Err(ModelError::Input(format!(
                    "chip is {}x{}, the recognition network takes {side}x{side}",
                    chip.width(),
                    chip.height()
                ))
                .into());
            }
            // HWC bytes to CHW floats, as the network's [N, 3, 150, 150] input.
            for (i, px) in chip.as_raw().chunks_exact(3).enumerate() {
                for c in 0..3 {
                    dst[c * plane + i] = f32::from(px[c]);
                }
            }
        }
        let x = Tensor::from_vec(data, (chips.len(), 3, side, side), &self.device)
            .map_err(ModelError::from)?;
        let rows = self
            .net
            .forward(&x)?
            .to_vec2::<f32>()
            .map_err(ModelError::from)?;
        Ok(rows)
    }
}

/// The most chips one forward pass takes in [`Embedder::embed`]: past this the batch's
/// activations outgrow the caches and the gain stops.
pub const MAX_BATCH: usize = 8;

/// The crop stage describes the chips of a few photos at a time with this, on the cropping
/// thread, while they are still in cache.
impl kao_facecrop::ChipDescriber for Embedder {
    fn id(&self) -> &str {
        EMBEDDING_ID
    }

    fn describe(&self, chips: &[&RgbImage]) -> std::result::Result<Vec<Vec<f32>>, String> {
        self.embed_batch(chips).map_err(|e| e.to_string())
    }
}
