use std::path::PathBuf;

use crate::stage::Stage;

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The config file could not be read or is invalid; the message names key and line.
    #[error("{}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    /// A stage failed as a whole (per-item failures are rejects, not errors).
    #[error("stage {stage} failed")]
    Stage {
        stage: Stage,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stage's inputs are missing or unusable.
    #[error("stage {stage}: {message}")]
    Input { stage: Stage, message: String },
    #[error("{}: {message}", path.display())]
    State { path: PathBuf, message: String },
    /// `--executor slurm` could not submit or follow the jobs, or a task failed twice.
    /// (Boxed: a task failure names five things, and every `Result` of the crate carries
    /// the enum's largest variant.)
    #[error(transparent)]
    Slurm(Box<crate::slurm::SlurmError>),
}

impl From<crate::slurm::SlurmError> for PipelineError {
    fn from(e: crate::slurm::SlurmError) -> Self {
        PipelineError::Slurm(Box::new(e))
    }
}

impl PipelineError {
    pub(crate) fn stage<E>(stage: Stage) -> impl FnOnce(E) -> PipelineError
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        move |e| PipelineError::Stage {
            stage,
            source: Box::new(e),
        }
    }

    pub(crate) fn input(stage: Stage, message: impl Into<String>) -> PipelineError {
        PipelineError::Input {
            stage,
            message: message.into(),
        }
    }
}
