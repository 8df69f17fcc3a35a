#![doc = include_str!("../README.md")]

mod artifact;
pub mod bundle;
mod classifier;
mod embed;
mod error;
pub mod head;
mod predictor;
mod project;
mod publish;
pub mod response;
mod time;
mod unknown;

pub use artifact::{
    sha256_hex, EmbeddingInfo, HeadInfo, HeadKind, MetricsSummary, ModelArtifact, TagInfo,
    FORMAT_VERSION, HEAD_FILE, MODEL_FILE, OLDEST_FORMAT_VERSION,
};
pub use bundle::{Bundle, BundleInfo};
pub use classifier::{Classification, Classifier, TagProbability};
pub use embed::{Embedder, CHIP_SIZE, DIMENSION, EMBEDDING_ID};
pub use error::{InferError, Result};
pub use predictor::{FacePrediction, Predictor};
pub use project::{iteration_id, project_id, tag_ids, Project};
pub use publish::{publish, read_published, unpublish, Published};
pub use time::now_rfc3339;
pub use unknown::{DistanceSpace, UnknownRule};
