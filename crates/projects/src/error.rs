use std::path::PathBuf;

/// What went wrong. [`ProjectError::Rejected`] is the caller's mistake (an unknown id, a bad
/// name, nothing to train) and carries Custom Vision's error code; the rest are the
/// server's own failures.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// A request that cannot be done as asked: `code` is Custom Vision's (`NotFoundProject`,
    /// `BadRequestTrainingNotNeeded`, …).
    #[error("{message}")]
    Rejected { code: &'static str, message: String },
    #[error("database {path}: {source}")]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Dataset(#[from] kao_dataset::DatasetError),
    #[error(transparent)]
    Infer(#[from] kao_infer::InferError),
    #[error(transparent)]
    Train(#[from] kao_train::TrainError),
    #[error(transparent)]
    Pipeline(#[from] kao_pipeline::PipelineError),
}

pub type Result<T, E = ProjectError> = std::result::Result<T, E>;

impl ProjectError {
    pub(crate) fn rejected(code: &'static str, message: impl Into<String>) -> Self {
        ProjectError::Rejected {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ProjectError {
        let path = path.into();
        move |source| ProjectError::Io { path, source }
    }

    /// Custom Vision's error code: the rejection's own, `ErrorUnknown` for the server's failures.
    pub fn code(&self) -> &'static str {
        match self {
            ProjectError::Rejected { code, .. } => code,
            _ => "ErrorUnknown",
        }
    }

    /// The HTTP status Custom Vision answers with for this error.
    pub fn status(&self) -> u16 {
        match self {
            ProjectError::Rejected { code, .. } if code.starts_with("NotFound") => 404,
            ProjectError::Rejected { code, .. } if code.starts_with("Conflict") => 409,
            ProjectError::Rejected { .. } => 400,
            _ => 500,
        }
    }

    pub fn not_found_project(id: &str) -> Self {
        Self::rejected("NotFoundProject", format!("Project {id} not found"))
    }

    pub fn not_found_tag(id: &str) -> Self {
        Self::rejected("NotFoundTag", format!("Tag {id} not found in the project"))
    }

    pub fn not_found_iteration(id: &str) -> Self {
        Self::rejected(
            "NotFoundIteration",
            format!("Iteration {id} not found in the project"),
        )
    }

    pub fn not_found_image(id: &str) -> Self {
        Self::rejected(
            "NotFoundImage",
            format!("Image {id} not found in the project"),
        )
    }
}

/// Errors of the embedded database name the database file.
pub(crate) trait DbContext<T> {
    fn db(self, path: &std::path::Path) -> Result<T>;
}

impl<T> DbContext<T> for std::result::Result<T, rusqlite::Error> {
    fn db(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| ProjectError::Db {
            path: path.to_path_buf(),
            source,
        })
    }
}
