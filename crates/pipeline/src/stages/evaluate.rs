//! evaluate: the iteration on the test split (and on a folder of unknown people, if
//! configured) through `kao-train`'s evaluation, the code `kao eval` runs.

use std::sync::Mutex;

use kao_dataset::SplitPart;
use kao_train::{EvalOptions, Evaluation};

use super::train::Trained;
use super::Ctx;
use crate::error::{PipelineError, Result};
use crate::event::Event;
use crate::fingerprint::Fingerprint;
use crate::report::StageReport;
use crate::stage::Stage;

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

pub fn recorded(ctx: &Ctx) -> Option<Evaluation> {
    serde_json::from_value(ctx.state.output(STAGE)?.clone()).ok()
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
    let progress = Mutex::new(|e: kao_train::Event| {
        let (phase, done, total) = match e {
            kao_train::Event::Embedding { done, total } => ("descriptors", done, total),
            kao_train::Event::Predicting { done, total } => ("unknown photos", done, total),
            _ => return,
        };
        events(Event::Progress {
            stage: STAGE,
            phase,
            done: done as u64,
            total: total as u64,
        });
    });
    let mut sink = |e| (progress.lock().expect("progress"))(e);
    let (evaluation, skipped) =
        kao_train::evaluate(&ctx.work, &options, &mut sink).map_err(PipelineError::stage(STAGE))?;
    for s in &skipped {
        events(Event::Warning {
            stage: STAGE,
            message: format!("{}: {}", s.path.display(), s.reason),
        });
    }
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
