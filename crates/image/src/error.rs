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
    /// A measured quantity over its limit: `what` is `file size`, `width`, `height`,
    /// `pixel count` or `decoded size`, in `unit` (`bytes`, `px`, or empty for a count).
    #[error(
        "{path}: too large: {what} {actual}{} exceeds the limit of {limit}{}",
        space(unit),
        space(unit)
    )]
    TooLarge {
        path: PathBuf,
        what: &'static str,
        actual: u64,
        limit: u64,
        unit: &'static str,
    },
    /// The decoder refused to allocate while reading a part of the file whose size it
    /// does not report (ancillary header data, or working buffers beyond the pixels).
    #[error("{path}: too large: the {format} decoder needs more than its allocation limit of {limit} bytes ({detail})")]
    DecoderLimit {
        path: PathBuf,
        format: &'static str,
        limit: u64,
        detail: String,
    },
    #[error("{path}: not an image ({reason})")]
    NotAnImage { path: PathBuf, reason: String },
    #[error("{path}: corrupt {format} data: {detail}")]
    Corrupt {
        path: PathBuf,
        format: &'static str,
        detail: String,
    },
    /// A FIFO, device, socket or folder where a file was expected: never opened for reading.
    #[error("{path}: not a regular file ({file_type})")]
    NotAFile {
        path: PathBuf,
        file_type: &'static str,
    },
    /// A symbolic link whose target does not exist.
    #[error("{path}: dangling symbolic link to {}", target.display())]
    BrokenLink { path: PathBuf, target: PathBuf },
    /// A chain of symbolic links that leads back to itself, or a folder link to one of
    /// its own ancestors.
    #[error("{path}: symbolic link loop")]
    LinkLoop { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn space(unit: &str) -> String {
    if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    }
}

impl ImageError {
    /// The error for an I/O failure on `path`, naming what went wrong with the entry
    /// itself where the OS message would mislead: a dangling link reads "No such file",
    /// a link loop "Too many levels of symbolic links".
    pub fn from_io(path: impl Into<PathBuf>, source: std::io::Error) -> ImageError {
        let path = path.into();
        if is_link_loop(&source) {
            return ImageError::LinkLoop { path };
        }
        if source.kind() == std::io::ErrorKind::NotFound {
            let is_link =
                std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
            if is_link {
                if let Ok(target) = std::fs::read_link(&path) {
                    return ImageError::BrokenLink { path, target };
                }
            }
        }
        ImageError::Io { path, source }
    }

    /// The file (or `<memory>`) the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            ImageError::Truncated { path, .. }
            | ImageError::UnsupportedFormat { path, .. }
            | ImageError::TooLarge { path, .. }
            | ImageError::DecoderLimit { path, .. }
            | ImageError::NotAnImage { path, .. }
            | ImageError::Corrupt { path, .. }
            | ImageError::NotAFile { path, .. }
            | ImageError::BrokenLink { path, .. }
            | ImageError::LinkLoop { path }
            | ImageError::Io { path, .. } => path,
        }
    }

    /// A short machine-readable reason, stable across releases (used in manifests).
    pub fn kind(&self) -> &'static str {
        match self {
            ImageError::Truncated { .. } => "truncated",
            ImageError::UnsupportedFormat { .. } => "unsupported_format",
            ImageError::TooLarge { .. } | ImageError::DecoderLimit { .. } => "too_large",
            ImageError::NotAnImage { .. } => "not_an_image",
            ImageError::Corrupt { .. } => "corrupt",
            ImageError::NotAFile { .. } => "not_a_file",
            ImageError::BrokenLink { .. } => "broken_link",
            ImageError::LinkLoop { .. } => "link_loop",
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

#[cfg(unix)]
fn is_link_loop(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

#[cfg(not(unix))]
fn is_link_loop(_: &std::io::Error) -> bool {
    false
}

pub type Result<T, E = ImageError> = std::result::Result<T, E>;
