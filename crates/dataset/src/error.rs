use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: line {line}: {message}")]
    CorruptManifest {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Json { path: PathBuf, message: String },
    #[error("invalid tag name {name:?}: {reason}")]
    InvalidTag { name: String, reason: &'static str },
    #[error("{path}: not a folder")]
    NotADirectory { path: PathBuf },
    /// Another process holds what this one needs (a shard being run or merged).
    #[error("{path}: {message}")]
    Busy { path: PathBuf, message: String },
}

impl DatasetError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DatasetError {
        let path = path.into();
        move |source| DatasetError::Io { path, source }
    }
}

pub type Result<T, E = DatasetError> = std::result::Result<T, E>;
