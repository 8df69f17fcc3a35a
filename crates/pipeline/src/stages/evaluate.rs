//! evaluate: the iteration on the test split (and on a folder of unknown people, if
//! configured) through `kao-train`'s evaluation, the code `kao eval` runs.

use kao_dataset::SplitPart;
use kao_train::{EvalOptions, Evaluation};

use super::train::Trained;
use super::{train_progress, warn_skipped, Ctx};
use crate::error::{PipelineError, Result};
use crate::fingerprint::Fingerprint;
use crate::report::StageReport;
use crate::stage::Stage;
use crate::state::PipelineState;

const STAGE: Stage = Stage::Evaluate;

pub fn fingerprint(ctx: &Ctx, train: &str, trained: Option<&Trained>) -> String {
    let mut f = Fingerprint::new(STAGE.name());
    f.text(train).json(&trained.map(|t| t.iteration));
    if let Some(t) = trained {
        f.file(&ctx.work.iteration(t.iteration).join(kao_infer::MODEL_FILE));
    }
    if let Some(u) = &ctx.config.evaluate.unknown {
        f.tree(u);
    }
    f.finish()
}

pub fn recorded(state: &PipelineState) -> Option<Evaluation> {
    serde_json::from_value(state.output(STAGE)?.clone()).ok()
}

pub fn run(ctx: &Ctx, trained: Option<&Trained>) -> Result<(StageReport, serde_json::Value)> {
    let trained = trained.ok_or_else(|| {
        PipelineError::input(STAGE, "no trained iteration: run the train stage first")
    })?;
    let options = EvalOptions {
        iteration: Some(trained.iteration),
        split: SplitPart::Test,
        threshold: None,
        unknown: ctx.config.evaluate.unknown.clone(),
    };
    let events = ctx.events;
    let mut sink = train_progress(events, STAGE);
    let (evaluation, skipped) =
        kao_train::evaluate(&ctx.work, &options, &mut sink).map_err(PipelineError::stage(STAGE))?;
    warn_skipped(events, STAGE, &skipped);
    let m = &evaluation.metrics;
    let mut report = StageReport::new(STAGE);
    report.items_in = m.faces + evaluation.unknown.as_ref().map_or(0, |u| u.faces);
    report.items_out = (m.top1 * m.faces as f64).round() as usize;
    if !skipped.is_empty() {
        report.rejects.insert("unreadable".into(), skipped.len());
    }
    report.note = format!("test faces → correct top-1 ({:.2}%)", m.top1 * 100.0);
    Ok((
        report,
        serde_json::to_value(&evaluation).expect("serialises"),
    ))
}
