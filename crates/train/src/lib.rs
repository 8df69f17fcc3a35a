#![doc = include_str!("../README.md")]

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

pub use calibrate::{calibrate, calibrate_with, scores, Calibration, CalibrationSet, GAP_SHARE};
pub use config::TrainConfig;
pub use data::{is_negative, Dataset};
pub use describe::{describe_augmented, describe_chips, Described, Skipped};
pub use error::{Result, TrainError};
pub use eval::{
    evaluate, evaluate_with, latest_iteration, split_face_scores, unknown_faces, EvalOptions,
};
pub use evaluate::{
    face_scores, score, score_faces, Evaluation, FaceScore, Misclassified, OperatingPoint,
    UnknownFaces, UnknownRates, UnknownScores,
};
pub use heads::{fit, FitLog};
pub use iterations::{list_iterations, IterationInfo};
pub use kao_dataset::{augment_key, chip_key, EmbeddingCache};
pub use metrics::{rejection_curve, Metrics, TagPerformance};
pub use report::{describe_rule, write_report};
pub use samples::{Rng, Samples};
pub use train::{
    describe_split, describe_split_in, fit_head, train, DescribedSplit, Fitted, IterationMetrics,
    Timings, TrainOutcome, METRICS_FILE, REPORT_FILE,
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
