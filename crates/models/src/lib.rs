#![doc = include_str!("../README.md")]

mod error;
pub mod ops;
mod paths;
pub mod preprocess;
pub mod recognition;
mod weights;

pub use error::{ModelError, Result};
pub use paths::default_model_dir;
pub use recognition::FaceRecognitionNet;
pub use weights::Weights;
