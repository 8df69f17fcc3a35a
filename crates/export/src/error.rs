use std::path::PathBuf;

/// Everything that can stop an export; each names the file or folder involved.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Model(#[from] kao_infer::InferError),
    #[error(transparent)]
    Dataset(#[from] kao_dataset::DatasetError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("nothing to export in {0}: no trained iteration")]
    NothingTrained(PathBuf),
    #[error("no iteration is published as {name:?} in {path}")]
    NotPublished { name: String, path: PathBuf },
    #[error("{path}: not a browser runtime ({message}); build it with `cargo xtask web` or pass its folder")]
    Runtime { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Binary { path: PathBuf, message: String },
    #[error("{0}: exists and is not a Kao export; refusing to replace it (choose another --out or remove it)")]
    NotAnExport(PathBuf),
    #[error("{path}: writing the zip: {message}")]
    Zip { path: PathBuf, message: String },
}

impl ExportError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ExportError {
        let path = path.into();
        move |source| ExportError::Io { path, source }
    }
}

pub type Result<T, E = ExportError> = std::result::Result<T, E>;
