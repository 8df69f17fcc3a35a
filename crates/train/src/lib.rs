#![doc = include_str!("../README.md")]

mod cache;
mod calibrate;
mod config;
mod data;
mod describe;
mod error;
mod eval;
mod evaluate;
mod heads;
mod iterations;
pub mod metrics;
mod report;
mod samples;
mod train;

pub use cache::{augment_key, chip_key, EmbeddingCache};
pub use calibrate::{calibrate, scores, CalibrationSet};
pub use config::TrainConfig;
pub use data::{is_negative, Dataset};
pub use describe::{describe_augmented, describe_chips, Described, Skipped};
pub use error::{Result, TrainError};
pub use eval::{evaluate, latest_iteration, split_face_scores, unknown_faces, EvalOptions};
pub use evaluate::{
    face_scores, score, score_faces, Evaluation, FaceScore, Misclassified, UnknownFaces,
    UnknownRates,
};
pub use heads::{fit, FitLog};
pub use iterations::{list_iterations, IterationInfo};
pub use metrics::{Metrics, TagPerformance};
pub use report::write_report;
pub use samples::{Rng, Samples};
pub use train::{
    describe_split, describe_split_in, fit_head, train, DescribedSplit, Fitted, IterationMetrics, Timings,
    TrainOutcome,
};

/// Progress of a long call, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// Descriptors computed so far (cache misses only) of `total` to compute.
    Embedding {
        done: usize,
        total: usize,
    },
    Fitting {
        head: kao_infer::HeadKind,
    },
    Evaluating,
    /// Photos of an unknown-face folder run through the Predictor.
    Predicting {
        done: usize,
        total: usize,
    },
}
