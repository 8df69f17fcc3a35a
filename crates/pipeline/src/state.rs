//! `W/pipeline-state.json`: for each stage, the fingerprint of the inputs and settings it
//! last completed with, and what it reported. A stage whose fingerprint is unchanged (and
//! whose outputs are still there) is skipped.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{PipelineError, Result};
use crate::report::StageReport;
use crate::stage::Stage;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PipelineState {
    pub stages: BTreeMap<Stage, StageState>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageState {
    pub fingerprint: String,
    pub report: StageReport,
    /// What later stages need from this one (the iteration number, the evaluation, …).
    #[serde(default)]
    pub output: serde_json::Value,
}

impl PipelineState {
    /// The recorded output of a completed stage.
    pub fn output(&self, stage: Stage) -> Option<&serde_json::Value> {
        self.stages.get(&stage).map(|s| &s.output)
    }
}

impl PipelineState {
    /// The recorded state; a missing or unreadable file means every stage runs.
    pub fn read(path: &Path) -> PipelineState {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        kao_dataset::write_atomic_json(path, self).map_err(|e| PipelineError::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}
