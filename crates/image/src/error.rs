use std::path::PathBuf;

/// Why an image could not be loaded. Every variant names its source: the file path, or
/// `<memory>` for bytes that did not come from a file.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{path}: truncated {format} data ({detail})")]
    Truncated {
        path: PathBuf,
        format: &'static str,
        detail: String,
    },
    #[error("{path}: unsupported image format {format}")]
    UnsupportedFormat { path: PathBuf, format: String },
    /// `actual` is `None` when the decoder refused an allocation without saying its size.
    #[error("{path}: too large: {what} {} exceeds the limit of {limit}", actual.map_or("".to_string(), |a| a.to_string()))]
    TooLarge {
        path: PathBuf,
        what: &'static str,
        actual: Option<u64>,
        limit: u64,
    },
    #[error("{path}: not an image ({reason})")]
    NotAnImage { path: PathBuf, reason: String },
    #[error("{path}: corrupt {format} data: {detail}")]
    Corrupt {
        path: PathBuf,
        format: &'static str,
        detail: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ImageError {
    /// The file (or `<memory>`) the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            ImageError::Truncated { path, .. }
            | ImageError::UnsupportedFormat { path, .. }
            | ImageError::TooLarge { path, .. }
            | ImageError::NotAnImage { path, .. }
            | ImageError::Corrupt { path, .. }
            | ImageError::Io { path, .. } => path,
        }
    }

    /// A short machine-readable reason, stable across releases (used in manifests).
    pub fn kind(&self) -> &'static str {
        match self {
            ImageError::Truncated { .. } => "truncated",
            ImageError::UnsupportedFormat { .. } => "unsupported_format",
            ImageError::TooLarge { .. } => "too_large",
            ImageError::NotAnImage { .. } => "not_an_image",
            ImageError::Corrupt { .. } => "corrupt",
            ImageError::Io { .. } => "io",
        }
    }

    /// The message without the path, for tables that already show the file.
    pub fn reason(&self) -> String {
        let full = self.to_string();
        let prefix = format!("{}: ", self.path().display());
        full.strip_prefix(&prefix).unwrap_or(&full).to_string()
    }
}

pub type Result<T, E = ImageError> = std::result::Result<T, E>;
