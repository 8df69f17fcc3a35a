//! crop: `raw/` → aligned chips in `faces/` and their descriptors in the embedding cache,
//! through `kao-facecrop` (incremental: photos already cropped with the same settings are
//! reused).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use kao_dataset::ShardDir;
use kao_facecrop::{crop_tree_shard, shard_photos, Cropper, FaceNets};
use kao_image::Limits;
use kao_infer::Embedder;

use super::Ctx;
use crate::error::{PipelineError, Result};
use crate::event::Event;
use crate::fingerprint::Fingerprint;
use crate::report::StageReport;
use crate::stage::Stage;

const STAGE: Stage = Stage::Crop;

pub fn fingerprint(ctx: &Ctx) -> String {
    let mut f = Fingerprint::new(STAGE.name());
    f.json(&ctx.config.crop_config()).tree(&ctx.work.raw());
    f.finish()
}

pub fn outputs_exist(ctx: &Ctx) -> bool {
    ctx.work.faces_manifest().is_file()
}

pub fn run(ctx: &Ctx) -> Result<(StageReport, serde_json::Value)> {
    Ok((run_in(ctx, None)?, serde_json::Value::Null))
}

/// The stage, or one shard of it: the photos whose content id falls in the shard, their
/// records to the shard's part of `faces/manifest.jsonl`.
pub fn run_in(ctx: &Ctx, shard: Option<&ShardDir>) -> Result<StageReport> {
    let raw = ctx.work.raw();
    let total = shard_photos(&raw, shard)
        .map_err(PipelineError::stage(STAGE))?
        .len() as u64;
    let nets = FaceNets::load(&candle_core::Device::Cpu).map_err(PipelineError::stage(STAGE))?;
    // Each new chip's descriptor is computed here, while the chip is hot, into the cache
    // the augment stage reads.
    let embedder = Embedder::load_default().map_err(PipelineError::stage(STAGE))?;
    let cropper =
        Cropper::new(Arc::new(nets), ctx.config.crop_config()).with_describer(Arc::new(embedder));
    let done = AtomicU64::new(0);
    let events = ctx.events;
    let progress = || {
        let d = done.fetch_add(1, Ordering::Relaxed) + 1;
        events(Event::Progress {
            stage: STAGE,
            phase: "photos",
            done: d,
            total,
        });
    };
    let summary = crop_tree_shard(
        &ctx.work,
        &raw,
        &cropper,
        &Limits::default(),
        shard,
        &progress,
    )
    .map_err(PipelineError::stage(STAGE))?;
    let mut report = StageReport::new(STAGE);
    report.items_in = summary.photos();
    report.items_out = summary.chips();
    for t in summary.tags.values() {
        for (reason, n) in &t.rejects {
            *report.rejects.entry(reason.clone()).or_default() += n;
        }
    }
    let reused: usize = summary.tags.values().map(|t| t.reused).sum();
    report.note = format!("photos → chips; {reused} photos reused from an earlier run");
    Ok(report)
}
