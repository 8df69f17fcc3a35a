//! `kao iterations`: what has been trained, with its numbers and publish names.

use kao_dataset::WorkDir;
use kao_infer::{read_published, ModelArtifact};

use crate::error::Result;

/// One trained iteration as listed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IterationInfo {
    pub iteration: u32,
    /// `None` when model.json is missing or unreadable (a run that died, or a corrupt file).
    pub artifact: Option<ModelArtifact>,
    pub error: Option<String>,
    /// Names it is published under.
    pub published: Vec<String>,
}

pub fn list_iterations(work: &WorkDir) -> Result<Vec<IterationInfo>> {
    let published = read_published(work)?;
    Ok(work
        .list_iterations()
        .into_iter()
        .map(|n| {
            let (artifact, error) = match ModelArtifact::load_checked(&work.iteration(n)) {
                Ok((a, _)) => (Some(a), None),
                Err(e) => (None, Some(e.to_string())),
            };
            IterationInfo {
                iteration: n,
                artifact,
                error,
                published: published
                    .iter()
                    .filter(|p| p.iteration == n)
                    .map(|p| p.name.clone())
                    .collect(),
            }
        })
        .collect())
}
