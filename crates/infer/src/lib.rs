#![doc = include_str!("../README.md")]

mod artifact;
mod classifier;
mod embed;
mod error;
pub mod head;
mod predictor;
mod project;
mod publish;
mod time;
mod unknown;

pub use artifact::{
    sha256_hex, EmbeddingInfo, HeadInfo, HeadKind, MetricsSummary, ModelArtifact, TagInfo,
    FORMAT_VERSION, HEAD_FILE, MODEL_FILE, OLDEST_FORMAT_VERSION,
};
pub use classifier::{Classification, Classifier, TagProbability};
pub use embed::{Embedder, CHIP_SIZE, DIMENSION, EMBEDDING_ID};
pub use error::{InferError, Result};
pub use predictor::{FacePrediction, Predictor};
pub use project::{project_id, tag_ids, Project};
pub use publish::{publish, read_published, unpublish, Published};
pub use time::now_rfc3339;
pub use unknown::{DistanceSpace, UnknownRule};
