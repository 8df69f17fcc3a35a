use std::path::{Path, PathBuf};

use kao_image::Limits;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};
use crate::item::{validate_tag, Item};

/// A file found in a folder-per-tag tree, not yet read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    pub tag: String,
    pub rel: String,
    pub path: PathBuf,
}

/// A file that could not be read as an image, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreadable {
    pub tag: String,
    pub rel: String,
    pub path: PathBuf,
    /// Stable short reason (`truncated`, `not_an_image`, `too_large`, …).
    pub kind: String,
    /// The full message.
    pub reason: String,
}

/// The result of reading a tree: good items and bad files, both sorted by path.
#[derive(Debug, Default)]
pub struct TreeRead {
    pub items: Vec<Item>,
    pub unreadable: Vec<Unreadable>,
    /// Files directly under the root (not in a tag folder), which carry no tag.
    pub untagged: Vec<PathBuf>,
}

/// Lists a folder-per-tag tree: each sub-folder of `root` is a tag, and every file below it
/// (at any depth) belongs to that tag. Hidden files and folders are skipped. Sorted by path.
pub fn list_tree(root: &Path) -> Result<(Vec<TreeFile>, Vec<PathBuf>)> {
    if !root.is_dir() {
        return Err(DatasetError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let mut files = Vec::new();
    let mut untagged = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !is_hidden(e.file_name()));
    for entry in walker {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(root).to_path_buf();
            DatasetError::Io {
                path,
                source: e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("loop in folder links")),
            }
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel_path = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let mut parts = rel_path.components();
        let first = parts
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        if rel_path.components().count() < 2 {
            untagged.push(entry.path().to_path_buf());
            continue;
        }
        let tag = first.unwrap_or_default();
        if validate_tag(&tag).is_err() {
            untagged.push(entry.path().to_path_buf());
            continue;
        }
        let rel = rel_path
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        files.push(TreeFile {
            tag,
            rel,
            path: entry.path().to_path_buf(),
        });
    }
    Ok((files, untagged))
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

/// Reads every image of a folder-per-tag tree in parallel: decodes it (with `limits`),
/// computes its content id and perceptual hash, and keeps only those numbers, so memory
/// stays bounded by the number of threads. Unreadable files are reported, never fatal.
/// `progress` is called once per file, from any thread.
pub fn read_tree(
    root: &Path,
    limits: &Limits,
    progress: &(dyn Fn(&TreeFile) + Sync),
) -> Result<TreeRead> {
    let (files, untagged) = list_tree(root)?;
    let results: Vec<std::result::Result<Item, Unreadable>> = files
        .par_iter()
        .map(|f| {
            let r = read_item(f, limits);
            progress(f);
            r
        })
        .collect();
    let mut out = TreeRead {
        untagged,
        ..TreeRead::default()
    };
    for r in results {
        match r {
            Ok(item) => out.items.push(item),
            Err(bad) => out.unreadable.push(bad),
        }
    }
    Ok(out)
}

/// Reads one file of a tree into an [`Item`], or says why it cannot be used.
pub fn read_item(f: &TreeFile, limits: &Limits) -> std::result::Result<Item, Unreadable> {
    let unreadable = |e: kao_image::ImageError| Unreadable {
        tag: f.tag.clone(),
        rel: f.rel.clone(),
        path: f.path.clone(),
        kind: e.kind().to_string(),
        reason: e.reason(),
    };
    let bytes = kao_image::read_limited(&f.path, limits).map_err(unreadable)?;
    let decoded = kao_image::decode_named(&bytes, &f.path, limits).map_err(unreadable)?;
    Ok(Item {
        tag: f.tag.clone(),
        rel: f.rel.clone(),
        path: f.path.clone(),
        content_id: kao_image::content_id(&bytes),
        phash: kao_image::perceptual_hash(&decoded.image),
        format: decoded.format,
        width: decoded.image.width(),
        height: decoded.image.height(),
        bytes: bytes.len() as u64,
    })
}
