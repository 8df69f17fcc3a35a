use std::path::PathBuf;

/// Why a crawl stopped. Per-URL failures are not errors: they are manifest records with a
/// reason ([`crate::RawRecord`]); these are the failures that stop a whole source.
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    #[error(transparent)]
    Dataset(#[from] kao_dataset::DatasetError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An archive (or any file given with an expected SHA-256) does not match it.
    #[error("{what}: checksum mismatch: expected sha256 {expected}, got {actual}")]
    Checksum {
        what: String,
        expected: String,
        actual: String,
    },
    /// A file the source needs (an archive) could not be downloaded.
    #[error("{url}: download failed: {reason}")]
    Download { url: String, reason: String },
    /// An archive that cannot be read (not tar, gzip or zip, or corrupt).
    #[error("{what}: {message}")]
    Archive { what: String, message: String },
    #[error("invalid glob {glob:?}: {message}")]
    Glob { glob: String, message: String },
    #[error("invalid URL {url:?}: {message}")]
    Url { url: String, message: String },
    /// A source or option that cannot work (e.g. a site crawl without start URLs).
    #[error("{0}")]
    Config(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl CrawlError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> CrawlError {
        let path = path.into();
        move |source| CrawlError::Io { path, source }
    }
}

pub type Result<T, E = CrawlError> = std::result::Result<T, E>;
