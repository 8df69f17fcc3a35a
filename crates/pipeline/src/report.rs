//! What a run did: one row per stage, the test metrics, and how to call the published
//! iteration. Rendered as text by [`PipelineReport::table`]; serialised as JSON as is.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use kao_train::Evaluation;
use serde::{Deserialize, Serialize};

use crate::stage::Stage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The stage ran in this run.
    Ran,
    /// Inputs and settings unchanged since it last completed: not run.
    Unchanged,
    /// Outside `--from`/`--until`.
    Excluded,
}

/// One stage of one run. `items_in`/`items_out` are the stage's natural units: sources →
/// photos, photos → chips, chips → split chips, training chips → descriptors, …
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageReport {
    pub stage: Stage,
    pub status: Status,
    pub wall_s: f64,
    pub items_in: usize,
    pub items_out: usize,
    /// Dropped items by reason.
    pub rejects: BTreeMap<String, usize>,
    /// One line on what the numbers are.
    pub note: String,
}

impl StageReport {
    pub fn new(stage: Stage) -> Self {
        StageReport {
            stage,
            status: Status::Ran,
            wall_s: 0.0,
            items_in: 0,
            items_out: 0,
            rejects: BTreeMap::new(),
            note: String::new(),
        }
    }

    pub fn rejected(&self) -> usize {
        self.rejects.values().sum()
    }

    /// The log line a front end prints as the stage ends (`None` for an excluded stage).
    pub fn finished_line(&self) -> Option<String> {
        match self.status {
            Status::Ran => Some(format!(
                "    {} done in {:.1}s: {} in, {} out",
                self.stage, self.wall_s, self.items_in, self.items_out
            )),
            Status::Unchanged => Some(format!("==> {} unchanged, skipped", self.stage)),
            Status::Excluded => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineReport {
    pub work: PathBuf,
    pub stages: Vec<StageReport>,
    pub wall_s: f64,
    /// The iteration trained (or reused) by this run.
    pub iteration: Option<u32>,
    /// The iteration's HTML report.
    pub report: Option<PathBuf>,
    /// Test-split metrics through the evaluate stage.
    pub test: Option<Evaluation>,
    pub published_name: Option<String>,
    pub project_id: Option<String>,
}

impl PipelineReport {
    /// The prediction route of the published iteration on a server at `base`.
    pub fn prediction_url(&self, base: &str) -> Option<String> {
        Some(format!(
            "{}/customvision/v3.0/Prediction/{}/classify/iterations/{}/image",
            base.trim_end_matches('/'),
            self.project_id.as_ref()?,
            self.published_name.as_ref()?
        ))
    }

    /// The text table a person reads at the end of a run.
    pub fn table(&self, base_url: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<9} {:<10} {:>9} {:>8} {:>8} {:>8}  notes",
            "stage", "status", "wall", "in", "out", "rejects"
        );
        for s in &self.stages {
            let status = match s.status {
                Status::Ran => "ran",
                Status::Unchanged => "unchanged",
                Status::Excluded => "excluded",
            };
            let wall = if s.status == Status::Excluded {
                "-".to_string()
            } else {
                format!("{:.1}s", s.wall_s)
            };
            let mut note = s.note.clone();
            if !s.rejects.is_empty() {
                let r: Vec<String> = s.rejects.iter().map(|(k, n)| format!("{k} {n}")).collect();
                if !note.is_empty() {
                    note.push_str("; ");
                }
                note.push_str(&r.join(", "));
            }
            let _ = writeln!(
                out,
                "{:<9} {:<10} {:>9} {:>8} {:>8} {:>8}  {}",
                s.stage.name(),
                status,
                wall,
                s.items_in,
                s.items_out,
                s.rejected(),
                note
            );
        }
        let _ = writeln!(
            out,
            "{:<9} {:<10} {:>9}",
            "total",
            "",
            format!("{:.1}s", self.wall_s)
        );
        if let Some(t) = &self.test {
            let m = &t.metrics;
            let _ = writeln!(
                out,
                "\ntest split (iteration {}, {} faces, threshold {}): top-1 {:.2}%  precision {:.2}%  recall {:.2}%  mean AP {:.2}%",
                t.iteration,
                m.faces,
                m.threshold,
                m.top1 * 100.0,
                m.precision * 100.0,
                m.recall * 100.0,
                m.average_precision * 100.0
            );
            if let Some(u) = &t.unknown {
                let _ = writeln!(
                    out,
                    "unknown faces ({}): {:.1}% of {} rejected; known faces wrongly rejected {:.1}%",
                    u.source,
                    u.rejected * 100.0,
                    u.faces,
                    u.false_rejected * 100.0
                );
            }
        }
        if let Some(r) = &self.report {
            let _ = writeln!(out, "report: {}", r.display());
        }
        if let (Some(it), Some(name), Some(url)) = (
            self.iteration,
            &self.published_name,
            self.prediction_url(base_url),
        ) {
            let key = kao_dataset::WorkDir::new(&self.work).prediction_key();
            let _ = writeln!(
                out,
                "published: iteration {it} as {name:?}\n\ncall it (start the service with `kao serve --work {}` or `--serve`):\n  curl -s -X POST '{url}' \\\n    -H \"Prediction-Key: $(cat {})\" \\\n    -H 'Content-Type: application/octet-stream' --data-binary @photo.jpg",
                self.work.display(),
                key.display()
            );
        }
        out
    }
}
