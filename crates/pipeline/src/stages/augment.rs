//! augment: every training chip's augmentations, and the descriptors of all chips and
//! augmentations, computed once into the work dir's embedding cache. Training then reads
//! them from the cache, so a change of training settings alone never recomputes one.

use std::sync::Mutex;

use kao_infer::Embedder;
use kao_train::{describe_split, Dataset};

use super::Ctx;
use crate::error::{PipelineError, Result};
use crate::event::Event;
use crate::fingerprint::Fingerprint;
use crate::report::StageReport;
use crate::stage::Stage;

const STAGE: Stage = Stage::Augment;

pub fn fingerprint(ctx: &Ctx, split: &str) -> String {
    let t = ctx.config.train_config();
    let mut f = Fingerprint::new(STAGE.name());
    f.text(split).file(&ctx.work.splits()).json(&(
        t.augment_preset.params(),
        t.augmentations,
        t.seed,
    ));
    f.finish()
}

pub fn run(ctx: &Ctx) -> Result<(StageReport, serde_json::Value)> {
    let config = ctx.config.train_config();
    let data = Dataset::load(&ctx.work).map_err(PipelineError::stage(STAGE))?;
    let embedder = Embedder::load_default().map_err(PipelineError::stage(STAGE))?;
    let events = ctx.events;
    let progress = Mutex::new(|e: kao_train::Event| {
        if let kao_train::Event::Embedding { done, total } = e {
            events(Event::Progress {
                stage: STAGE,
                phase: "descriptors",
                done: done as u64,
                total: total as u64,
            });
        }
    });
    let mut sink = |e| (progress.lock().expect("progress"))(e);
    let described = describe_split(&ctx.work, &data, &embedder, &config, &mut sink)
        .map_err(PipelineError::stage(STAGE))?;
    for s in &described.skipped {
        events(Event::Warning {
            stage: STAGE,
            message: format!("{}: {}", s.path.display(), s.reason),
        });
    }
    let train = described.train.samples.len();
    let mut report = StageReport::new(STAGE);
    report.items_in = train + described.val.samples.len() + described.test.samples.len();
    report.items_out = report.items_in + described.augmented.len();
    if !described.skipped.is_empty() {
        report
            .rejects
            .insert("unreadable".into(), described.skipped.len());
    }
    report.note = format!(
        "chips → descriptors; {} augmentations ({} preset, {} per training chip); {} computed, the rest cached",
        described.augmented.len(),
        config.augment_preset.name(),
        config.augmentations,
        described.computed
    );
    Ok((report, serde_json::Value::Null))
}
