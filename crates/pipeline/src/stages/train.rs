//! train: the head, the unknown-face rule and a new iteration through `kao-train`.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use super::{train_progress, warn_skipped, Ctx};
use crate::error::{PipelineError, Result};
use crate::fingerprint::Fingerprint;
use crate::report::StageReport;
use crate::stage::Stage;
use crate::state::PipelineState;

const STAGE: Stage = Stage::Train;

/// What later stages need from training.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trained {
    pub iteration: u32,
    pub report: PathBuf,
}

pub fn fingerprint(ctx: &Ctx, augment: &str) -> String {
    let mut f = Fingerprint::new(STAGE.name());
    f.text(augment).json(&ctx.config.train_config());
    f.finish()
}

pub fn recorded(state: &PipelineState) -> Option<Trained> {
    serde_json::from_value(state.output(STAGE)?.clone()).ok()
}

pub fn outputs_exist(ctx: &Ctx) -> bool {
    recorded(ctx.state).is_some_and(|t| {
        ctx.work
            .iteration(t.iteration)
            .join(kao_infer::MODEL_FILE)
            .is_file()
    })
}

pub fn run(ctx: &Ctx) -> Result<(StageReport, serde_json::Value)> {
    let config = ctx.config.train_config();
    let events = ctx.events;
    let mut sink = train_progress(events, STAGE);
    let out =
        kao_train::train(&ctx.work, &config, &mut sink).map_err(PipelineError::stage(STAGE))?;
    warn_skipped(events, STAGE, &out.skipped);
    let m = &out.metrics;
    let mut report = StageReport::new(STAGE);
    report.items_in = m.train_descriptors;
    report.items_out = 1;
    report.note = format!(
        "descriptors → iteration {} ({} head, fit {:.2}s); validation top-1 {:.2}%",
        out.iteration,
        m.head.name(),
        m.timings.fit_s,
        m.validation.metrics.top1 * 100.0
    );
    let trained = Trained {
        iteration: out.iteration,
        report: out.report.clone(),
    };
    Ok((report, serde_json::to_value(trained).expect("serialises")))
}
