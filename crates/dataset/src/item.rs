use std::path::PathBuf;

use kao_image::{Format, PerceptualHash};
use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};

/// One readable image of a folder-per-tag tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The tag (person) the image belongs to: its folder name.
    pub tag: String,
    /// Path relative to the tree root, with `/` separators: the item's stable id.
    pub rel: String,
    /// Where the file was read from.
    pub path: PathBuf,
    /// SHA-256 of the file bytes.
    pub content_id: String,
    pub phash: PerceptualHash,
    pub format: Format,
    /// Upright size (after EXIF orientation).
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

/// Checks that a tag name is usable as a folder name on every platform and in URLs.
pub fn validate_tag(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(DatasetError::InvalidTag {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > 200 {
        return bad("longer than 200 bytes");
    }
    if name.starts_with('.') {
        return bad("starts with a dot");
    }
    if name.chars().any(|c| {
        c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
    }) {
        return bad("contains a path separator, control or reserved character");
    }
    Ok(())
}
