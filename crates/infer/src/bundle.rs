//! An iteration as one set of named files: `model.json`, `head.safetensors`, the face-network
//! weights prediction runs (no others) with their `SHA256SUMS` lines, and
//! `bundle.json` naming them all. The browser export ships a bundle in its `model/` folder,
//! and the page loads the [`Predictor`] from the bytes it fetched.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use kao_dataset::WorkDir;
use kao_models::{ModelFiles, CHECKSUMS_FILE};
use serde::{Deserialize, Serialize};

use crate::artifact::{ModelArtifact, HEAD_FILE, MODEL_FILE};
use crate::classifier::Classifier;
use crate::error::{InferError, Result};
use crate::predictor::Predictor;

/// The bundle's index, written last.
pub const BUNDLE_FILE: &str = "bundle.json";
/// Bumped whenever a field of `bundle.json` changes meaning.
pub const BUNDLE_VERSION: u32 = 1;

/// The content of `bundle.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleInfo {
    pub format_version: u32,
    /// The project id, as the Prediction API reports it.
    pub project: String,
    /// The iteration id, as the Prediction API reports it ([`crate::iteration_id`]).
    pub iteration: String,
    pub iteration_number: u32,
    /// The name the iteration is published under, when it was exported by that name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_name: Option<String>,
    /// Every other file of the bundle, by name.
    pub files: Vec<String>,
}

/// A bundle in memory.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub info: BundleInfo,
    /// Every file named in `info.files`, plus `bundle.json` itself.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Bundle {
    /// Collects iteration `iteration` of `work` and the shipped network weights it needs
    /// (from `networks`, every file checked against its `SHA256SUMS`). Reads only, except
    /// that the project id is created on first use as `kao serve` does.
    pub fn collect(
        work: &WorkDir,
        iteration: u32,
        published_name: Option<&str>,
        networks: &ModelFiles,
    ) -> Result<Bundle> {
        let dir = work.iteration(iteration);
        if !dir.is_dir() {
            return Err(InferError::NoIteration(iteration));
        }
        let (artifact, head) = ModelArtifact::load_checked(&dir)?;
        let model_json = std::fs::read(dir.join(MODEL_FILE)).map_err(InferError::io(&dir))?;
        let project = crate::project_id(work)?;
        let mut files = BTreeMap::from([
            (MODEL_FILE.to_string(), model_json),
            (HEAD_FILE.to_string(), head),
        ]);
        let mut names = Vec::new();
        for stem in Predictor::weights_for(&artifact) {
            names.extend(networks.model_files(stem)?);
        }
        let sums = String::from_utf8_lossy(&networks.read(CHECKSUMS_FILE)?).into_owned();
        let mut kept = String::new();
        for name in &names {
            let line = sums
                .lines()
                .find(|l| {
                    l.split_once(char::is_whitespace)
                        .is_some_and(|(_, n)| n.trim().trim_start_matches('*') == name)
                })
                .ok_or_else(|| kao_models::ModelError::NotInChecksums {
                    path: networks.path(name),
                })?;
            kept.push_str(line);
            kept.push('\n');
            files.insert(name.clone(), networks.read(name)?);
        }
        files.insert(CHECKSUMS_FILE.to_string(), kept.into_bytes());
        let info = BundleInfo {
            format_version: BUNDLE_VERSION,
            iteration: crate::iteration_id(&project, &artifact),
            project,
            iteration_number: artifact.iteration,
            published_name: published_name.map(str::to_string),
            files: files.keys().cloned().collect(),
        };
        let index = serde_json::to_vec_pretty(&info).expect("bundle info serialises");
        files.insert(BUNDLE_FILE.to_string(), index);
        Ok(Bundle { info, files })
    }

    /// Reads a bundle from the files a page fetched: `bundle.json` and every file it names.
    pub fn from_files(files: BTreeMap<String, Vec<u8>>) -> Result<Bundle> {
        let path = Path::new(BUNDLE_FILE);
        let index = files
            .get(BUNDLE_FILE)
            .ok_or_else(|| InferError::invalid(path, "missing"))?;
        let info: BundleInfo = serde_json::from_slice(index).map_err(InferError::json(path))?;
        if info.format_version != BUNDLE_VERSION {
            return Err(InferError::Version {
                path: path.to_path_buf(),
                found: info.format_version,
                oldest: BUNDLE_VERSION,
                expected: BUNDLE_VERSION,
            });
        }
        if let Some(missing) = info.files.iter().find(|f| !files.contains_key(*f)) {
            return Err(InferError::invalid(
                Path::new(missing),
                "listed in bundle.json but not loaded",
            ));
        }
        Ok(Bundle { info, files })
    }

    /// The predictor, with every check [`Predictor::load`] makes, and the bundle's index.
    pub fn into_predictor(self) -> Result<(Predictor, BundleInfo)> {
        let get = |name: &str| {
            self.files
                .get(name)
                .ok_or_else(|| InferError::invalid(Path::new(name), "missing from the bundle"))
        };
        let classifier = Classifier::from_bytes(get(MODEL_FILE)?, get(HEAD_FILE)?)?;
        let networks = ModelFiles::Memory(Arc::new(self.files));
        let predictor = Predictor::with_networks(classifier, &networks, Path::new(MODEL_FILE))?;
        Ok((predictor, self.info))
    }

    /// Writes the bundle's files into `dir` (created), each atomically, `bundle.json` last:
    /// a folder with a `bundle.json` always has the files it names.
    pub fn write(&self, dir: &Path) -> Result<()> {
        for (name, bytes) in self.files.iter().filter(|(n, _)| *n != BUNDLE_FILE) {
            kao_dataset::write_atomic(&dir.join(name), bytes)?;
        }
        kao_dataset::write_atomic(&dir.join(BUNDLE_FILE), &self.files[BUNDLE_FILE])?;
        Ok(())
    }
}
