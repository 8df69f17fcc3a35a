#[derive(Debug, thiserror::Error)]
pub enum CropError {
    #[error(transparent)]
    Model(#[from] kao_models::ModelError),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Dataset(#[from] kao_dataset::DatasetError),
    #[error("{path}: cannot describe the chip: {message}")]
    Describe {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("the crop stage's writer stopped: {0}")]
    Writer(String),
    #[error("{path}: cannot write chip: {message}")]
    WriteChip {
        path: std::path::PathBuf,
        message: String,
    },
}

pub type Result<T, E = CropError> = std::result::Result<T, E>;
