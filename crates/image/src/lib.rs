#![doc = include_str!("../README.md")]

mod decode;
mod error;
mod hash;
mod limits;

pub use decode::{
    check_file_type, decode, decode_jpeg, decode_named, load, probe, read_limited, Decoded, Format,
    Probe,
};
pub use error::{ImageError, Result};
pub use hash::{content_id, perceptual_hash, PerceptualHash, NEAR_DUPLICATE_DISTANCE};
pub use limits::Limits;

/// The decoded pixel type every Kao stage works on.
pub use image::RgbImage;
