#![doc = include_str!("../README.md")]

mod db;
mod error;
mod files;
mod images;
mod model;
mod performance;
mod predictions;
mod store;
mod training;

pub use error::{ProjectError, Result};
pub use files::{FaceChip, Fraction, ImageFaces, RejectedImage};
pub use model::{
    domains, CreateResult, CreateStatus, Domain, ImageQuery, ImageRecord, ImageTag, Iteration,
    IterationStatus, MisclassifiedFace, ModelInformation, NewImage, Performance, Project,
    ProjectSettings, ProjectUpdate, Tag, TagPerformance, Tagging, TrainProgress,
    UnknownPerformance, FACE_DOMAIN_ID, GENERAL_DOMAIN_ID,
};
pub use performance::{ImagePerformance, StoredFace};
pub use predictions::StoredPrediction;
pub use store::{
    Store, StoreOptions, DB_FILE, MAX_BATCH_IMAGES, MAX_BATCH_TAGS, MAX_IMAGE_BYTES,
    MIN_IMAGES_PER_TAG,
};
pub use training::{MAX_ATTEMPTS, SCORES_FILE};
