//! `W/published.json`: which iterations the prediction service answers with, by name.

use kao_dataset::{write_atomic_json, WorkDir};
use serde::{Deserialize, Serialize};

use crate::artifact::ModelArtifact;
use crate::error::{InferError, Result};
use crate::time::now_rfc3339;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    pub name: String,
    pub iteration: u32,
    pub published_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct PublishedFile {
    published: Vec<Published>,
}

/// The published iterations; none when the file does not exist yet.
pub fn read_published(work: &WorkDir) -> Result<Vec<Published>> {
    let path = work.published();
    match std::fs::read(&path) {
        Ok(bytes) => {
            let f: PublishedFile =
                serde_json::from_slice(&bytes).map_err(InferError::json(&path))?;
            Ok(f.published)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(InferError::io(&path)(e)),
    }
}

/// Publishes `iteration` under `name`, as Custom Vision does: a name points at one
/// iteration (publishing again under the same name moves it) and an iteration has one
/// name. The iteration's artifact is loaded and checked first, so a broken iteration is
/// never published. The file is replaced atomically: the server sees the old or the new list.
pub fn publish(work: &WorkDir, iteration: u32, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(InferError::invalid(work.published(), "empty publish name"));
    }
    let dir = work.iteration(iteration);
    if !dir.is_dir() {
        return Err(InferError::NoIteration(iteration));
    }
    ModelArtifact::load_checked(&dir)?;
    let mut list = read_published(work)?;
    list.retain(|p| p.name != name && p.iteration != iteration);
    list.push(Published {
        name: name.to_string(),
        iteration,
        published_at: now_rfc3339(),
    });
    write_atomic_json(&work.published(), &PublishedFile { published: list })?;
    Ok(())
}

/// Removes the publish name `name`; `false` when nothing was published under it. The file
/// is replaced atomically, as by [`publish`].
pub fn unpublish(work: &WorkDir, name: &str) -> Result<bool> {
    let mut list = read_published(work)?;
    let before = list.len();
    list.retain(|p| p.name != name);
    if list.len() == before {
        return Ok(false);
    }
    write_atomic_json(&work.published(), &PublishedFile { published: list })?;
    Ok(true)
}
