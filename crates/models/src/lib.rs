#![doc = include_str!("../README.md")]

mod blocks;
pub mod detection;
mod error;
pub mod landmark68;
pub mod landmark68_tiny;
pub mod nms;
pub mod ops;
mod paths;
pub mod preprocess;
pub mod recognition;
pub mod reference_pipeline;
pub mod runtime;
pub mod ssd;
pub mod tiny_detector;
mod weights;

pub use detection::{BBox, Detection};
pub use error::{ModelError, Result};
pub use landmark68::{landmarks_in_image, FaceLandmark68Net};
pub use landmark68_tiny::FaceLandmark68TinyNet;
pub use paths::default_model_dir;
pub use recognition::FaceRecognitionNet;
pub use ssd::{SsdMobilenetV1, SsdOptions};
pub use tiny_detector::{TinyFaceDetector, TinyOptions};
pub use weights::{ModelFiles, Weights, CHECKSUMS_FILE};
