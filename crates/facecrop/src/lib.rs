#![doc = include_str!("../README.md")]

pub mod align;
mod config;
mod contact_sheet;
mod cropper;
mod describe;
mod error;
mod face;
mod pick;
mod stage;
pub mod warp;

pub use config::{Alignment, CropConfig, DetectorKind, Pick};
pub use contact_sheet::contact_sheet;
pub use cropper::{Cropper, FaceNets, Outcome};
pub use describe::ChipDescriber;
pub use error::{CropError, Result};
pub use face::Face;
pub use pick::{center_is_ambiguous, pick, pick_boxes};
pub use stage::{crop_tree, crop_tree_shard, shard_photos, CropSummary, TagSummary};
