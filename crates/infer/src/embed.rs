//! Chips to descriptors through the recognition network.

use candle_core::{Device, Tensor};
use image::RgbImage;
use kao_models::FaceRecognitionNet;

use crate::error::{InferError, Result};

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
    /// Loads the bundled weights (checksums verified) on the CPU.
    pub fn load_default() -> Result<Embedder> {
        let device = Device::Cpu;
        let net = FaceRecognitionNet::load_default(&device)
            .map_err(|e| InferError::Models(e.to_string()))?;
        let sha256 = net.weights_sha256().unwrap_or_default().to_string();
        Ok(Embedder {
            net,
            sha256,
            device,
        })
    }

    pub fn id(&self) -> &'static str {
        EMBEDDING_ID
    }

    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// One raw 128-d descriptor per 150×150 chip, computed as one batch.
    pub fn embed(&self, chips: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
        if chips.is_empty() {
            return Ok(Vec::new());
        }
        let side = CHIP_SIZE as usize;
        let mut data = Vec::with_capacity(chips.len() * 3 * side * side);
        for chip in chips {
            if chip.dimensions() != (CHIP_SIZE, CHIP_SIZE) {
                return Err(InferError::Models(format!(
                    "chip is {}x{}, the network takes {side}x{side}",
                    chip.width(),
                    chip.height()
                )));
            }
            // HWC bytes to CHW floats, as the network's [N, 3, 150, 150] input.
            let raw = chip.as_raw();
            for c in 0..3 {
                data.extend(raw.iter().skip(c).step_by(3).map(|&v| v as f32));
            }
        }
        let run = || -> std::result::Result<Vec<Vec<f32>>, Box<dyn std::error::Error>> {
            let x = Tensor::from_vec(data, (chips.len(), 3, side, side), &self.device)?;
            Ok(self.net.forward(&x)?.to_vec2::<f32>()?)
        };
        run().map_err(|e| InferError::Models(e.to_string()))
    }
}
