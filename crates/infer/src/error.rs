use std::path::PathBuf;

/// Everything that can go wrong loading or running a model; each names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON: {message}")]
    Json { path: PathBuf, message: String },
    #[error("{path}: model format version {found}, this build reads versions {oldest} to {expected}; retrain with this version of kao")]
    Version {
        path: PathBuf,
        found: u32,
        oldest: u32,
        expected: u32,
    },
    #[error("{path}: checksum mismatch (model.json says {expected}, file has {found}); the iteration is corrupt or was edited")]
    Checksum {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("iteration {0} does not exist")]
    NoIteration(u32),
    #[error(transparent)]
    Dataset(#[from] kao_dataset::DatasetError),
    /// Loading or running a network (weights, input shape, tensor operations).
    #[error(transparent)]
    Models(#[from] kao_models::ModelError),
    /// Detecting, landmarking or aligning the faces of a photo.
    #[error(transparent)]
    Crop(#[from] kao_facecrop::CropError),
}

impl InferError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> InferError {
        let path = path.into();
        move |source| InferError::Io { path, source }
    }

    pub(crate) fn json(path: impl Into<PathBuf>) -> impl FnOnce(serde_json::Error) -> InferError {
        let path = path.into();
        move |e| InferError::Json {
            path,
            message: e.to_string(),
        }
    }

    pub(crate) fn invalid(path: impl Into<PathBuf>, message: impl Into<String>) -> InferError {
        InferError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = InferError> = std::result::Result<T, E>;
