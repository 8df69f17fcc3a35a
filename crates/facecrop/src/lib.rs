#![doc = include_str!("../README.md")]

mod config;
mod face;

pub use config::{Alignment, CropConfig, DetectorKind, Pick};
pub use face::Face;
