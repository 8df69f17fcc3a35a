use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: bad weights manifest: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("{path}: tensor {tensor}: unsupported dtype {dtype}")]
    UnknownDtype {
        path: PathBuf,
        tensor: String,
        dtype: String,
    },
    #[error("{path}: checksum mismatch (expected {expected}, found {actual}): the model file was altered or corrupted; restore it from the face-api 1.7.15 package (`cargo xtask models --verify`)")]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("{path}: no entry in SHA256SUMS")]
    NotInChecksums { path: PathBuf },
    #[error("{path}: weight data too short: tensor {tensor} needs bytes {needed} but the shards hold {available}")]
    ShortWeights {
        path: PathBuf,
        tensor: String,
        needed: usize,
        available: usize,
    },
    #[error("invalid input: {0}")]
    Input(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
