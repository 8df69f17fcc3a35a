use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where a tag's images come from. Deserialises from `pipeline.toml`'s
/// `[[tags.sources]]` tables, selected by `kind`:
///
/// ```toml
/// [[tags.sources]]
/// kind = "bing"
/// query = "George W Bush"
/// max = 200
///
/// [[tags.sources]]
/// kind = "archive"
/// url = "https://example.org/lfw.tgz"
/// sha256 = "055f7d9c..."
/// glob = "lfw/George_W_Bush/*.jpg"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Source {
    /// Image-search result pages: each result anchor's `m` attribute holds JSON whose
    /// `murl` is the full-size image. Paged with `first=` until `max` images are kept or a
    /// page adds no new result.
    Bing {
        query: String,
        /// Stop once this many images of this source are kept (default 100).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<usize>,
    },
    /// A crawl from start pages, following links within the allowed hosts to `depth`
    /// (0: the start pages only).
    Site {
        #[serde(alias = "url")]
        urls: Vec<String>,
        #[serde(default = "default_depth")]
        depth: u32,
        /// Hosts whose pages may be followed, besides the start URLs' hosts.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        hosts: Vec<String>,
        /// Stop once this many images of this source are kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<usize>,
    },
    /// A text file of image URLs, one a line (`#` starts a comment).
    Urls { file: PathBuf },
    /// Every file under a local folder (recursively, hidden files skipped).
    Dir { path: PathBuf },
    /// A `.tar`, `.tar.gz`/`.tgz` or `.zip`, local or `http(s)://`, type sniffed from its
    /// bytes. A remote archive is downloaded once into `<work>/downloads/` and reused.
    Archive {
        #[serde(alias = "path")]
        url: String,
        /// Members to import, e.g. `lfw/George_W_Bush/*.jpg` (`*` does not cross `/`;
        /// `**` does). All members when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        glob: Option<String>,
        /// Expected SHA-256 of the archive file (hex), checked before extraction.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
    },
}

fn default_depth() -> u32 {
    2
}

/// Default `max` of a [`Source::Bing`].
pub const DEFAULT_BING_MAX: usize = 100;

impl Source {
    /// A short description for logs and errors.
    pub fn describe(&self) -> String {
        match self {
            Source::Bing { query, .. } => format!("bing {query:?}"),
            Source::Site { urls, .. } => format!("site {}", urls.join(" ")),
            Source::Urls { file } => format!("urls {}", file.display()),
            Source::Dir { path } => format!("dir {}", path.display()),
            Source::Archive { url, .. } => format!("archive {url}"),
        }
    }
}

/// One tag (person) and where its images come from: a `[[tags]]` table of
/// `pipeline.toml` (`tag`, or `name`, and its `[[tags.sources]]`; other keys of the table
/// belong to other stages and are ignored here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagJob {
    #[serde(alias = "name")]
    pub tag: String,
    pub sources: Vec<Source>,
}

impl TagJob {
    pub fn new(tag: impl Into<String>, sources: Vec<Source>) -> Self {
        TagJob {
            tag: tag.into(),
            sources,
        }
    }
}
