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

/// A folder-per-tag tree as listed, before any file is read.
#[derive(Debug, Default)]
pub struct TreeList {
    /// Regular files in tag folders, sorted by path.
    pub files: Vec<TreeFile>,
    /// Files directly under the root (not in a tag folder), which carry no tag.
    pub untagged: Vec<PathBuf>,
    /// Entries that cannot be read as files: symbolic link loops, dangling links,
    /// FIFOs, devices, folders that cannot be listed. In walk order; `tag` is empty for
    /// an entry directly under the root (a file or a tag folder, which cannot be told).
    pub unreadable: Vec<Unreadable>,
}

impl TreeList {
    /// Entries a stage will account for: the files and the unreadable entries.
    pub fn len(&self) -> usize {
        self.files.len() + self.unreadable.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One entry of [`walk_files`].
#[derive(Debug)]
pub enum WalkEntry {
    /// A regular file (possibly reached through links).
    File(PathBuf),
    /// An entry that cannot be read as a file, and why.
    Unreadable(kao_image::ImageError),
}

/// Every entry below `root` that is not a folder, sorted by file name within each
/// folder, following symbolic links; hidden files and folders (names starting with `.`)
/// are skipped. An entry that cannot be read as a file (a link loop, a dangling link, a
/// FIFO, a device, a folder that cannot be listed) comes as
/// [`WalkEntry::Unreadable`] with its reason instead of ending the walk, and nothing
/// here opens a file, so a FIFO cannot block it.
pub fn walk_files(root: &Path) -> impl Iterator<Item = WalkEntry> + use<> {
    let root = root.to_path_buf();
    walkdir::WalkDir::new(&root)
        .min_depth(1)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()))
        .filter_map(move |entry| match entry {
            Ok(e) if e.file_type().is_dir() => None,
            Ok(e) => Some(match kao_image::check_file_type(e.path(), e.file_type()) {
                Ok(()) => WalkEntry::File(e.into_path()),
                Err(err) => WalkEntry::Unreadable(err),
            }),
            Err(e) => {
                let path = e.path().unwrap_or(&root).to_path_buf();
                Some(WalkEntry::Unreadable(if e.loop_ancestor().is_some() {
                    kao_image::ImageError::LinkLoop { path }
                } else {
                    let source = e
                        .into_io_error()
                        .unwrap_or_else(|| std::io::Error::other("cannot walk the folder"));
                    kao_image::ImageError::from_io(path, source)
                }))
            }
        })
}

/// Lists a folder-per-tag tree: each sub-folder of `root` is a tag, and every file below it
/// (at any depth) belongs to that tag. Hidden files and folders are skipped; entries that
/// cannot be read are listed in [`TreeList::unreadable`] (see [`walk_files`]). Sorted by
/// path. Fails only when `root` itself is not a folder.
pub fn list_tree(root: &Path) -> Result<TreeList> {
    if !root.is_dir() {
        return Err(DatasetError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let mut list = TreeList::default();
    for entry in walk_files(root) {
        let path = match &entry {
            WalkEntry::File(p) => p.clone(),
            WalkEntry::Unreadable(e) => e.path().to_path_buf(),
        };
        let rel_path = path.strip_prefix(root).unwrap_or(&path);
        let parts: Vec<String> = rel_path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let tag = match parts.as_slice() {
            [tag, _, ..] if validate_tag(tag).is_ok() => Some(tag.clone()),
            _ => None,
        };
        let rel = parts.join("/");
        match (entry, tag) {
            (WalkEntry::File(path), Some(tag)) => list.files.push(TreeFile { tag, rel, path }),
            (WalkEntry::File(path), None) => list.untagged.push(path),
            (WalkEntry::Unreadable(e), tag) => list.unreadable.push(Unreadable {
                tag: tag.unwrap_or_default(),
                rel,
                path,
                kind: e.kind().to_string(),
                reason: e.reason(),
            }),
        }
    }
    Ok(list)
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

/// Reads every image of a folder-per-tag tree in parallel: decodes it (with `limits`),
/// computes its content id and perceptual hash, and keeps only those numbers, so memory
/// stays bounded by the number of threads. Unreadable files and entries (see
/// [`list_tree`]) are reported, never fatal.
/// `progress` is called once per file, from any thread.
pub fn read_tree(
    root: &Path,
    limits: &Limits,
    progress: &(dyn Fn(&TreeFile) + Sync),
) -> Result<TreeRead> {
    let list = list_tree(root)?;
    let results: Vec<std::result::Result<Item, Unreadable>> = list
        .files
        .par_iter()
        .map(|f| {
            let r = read_item(f, limits);
            progress(f);
            r
        })
        .collect();
    let mut out = TreeRead {
        untagged: list.untagged,
        unreadable: list.unreadable,
        ..TreeRead::default()
    };
    for r in results {
        match r {
            Ok(item) => out.items.push(item),
            Err(bad) => out.unreadable.push(bad),
        }
    }
    out.unreadable.sort_by(|a, b| a.rel.cmp(&b.rel));
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
