use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Infer(#[from] kao_infer::InferError),
    #[error(transparent)]
    Dataset(#[from] kao_dataset::DatasetError),
    #[error("training: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("{path}: {message}")]
    Data { path: PathBuf, message: String },
    #[error("iteration {0} does not exist")]
    NoIteration(u32),
}

impl TrainError {
    pub(crate) fn data(path: impl Into<PathBuf>, message: impl Into<String>) -> TrainError {
        TrainError::Data {
            path: path.into(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;
