//! augment: every training chip's augmentations, and the descriptors of all chips and
//! augmentations, computed once into the work dir's embedding cache. Training then reads
//! them from the cache, so a change of training settings alone never recomputes one.

use kao_dataset::ShardDir;
use kao_infer::Embedder;
use kao_train::{describe_split_in, Dataset, EmbeddingCache};

use super::{train_progress, warn_skipped, Ctx};
use crate::error::{PipelineError, Result};
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
    Ok((run_in(ctx, None)?, serde_json::Value::Null))
}

/// The stage, or one shard of it: the chips whose source photo's content id falls in the
/// shard (with their augmentations), descriptors to the shard's part of the cache.
pub fn run_in(ctx: &Ctx, shard: Option<&ShardDir>) -> Result<StageReport> {
    let config = ctx.config.train_config();
    let mut data = Dataset::load(&ctx.work).map_err(PipelineError::stage(STAGE))?;
    let embedder = Embedder::load_default().map_err(PipelineError::stage(STAGE))?;
    let mut cache = match shard {
        Some(s) => {
            let keep = |id: &String| {
                data.chips
                    .get(id)
                    .is_some_and(|c| s.shard().holds(&c.source.content_id))
            };
            let splits = &data.splits;
            let parts = [&splits.train, &splits.val, &splits.test]
                .map(|p| p.iter().filter(|id| keep(id)).cloned().collect::<Vec<_>>());
            let [train, val, test] = parts;
            data.splits.train = train;
            data.splits.val = val;
            data.splits.test = test;
            EmbeddingCache::open_shard(&ctx.work, embedder.id(), s)
        }
        None => EmbeddingCache::open(&ctx.work, embedder.id()),
    }
    .map_err(PipelineError::stage(STAGE))?;
    let events = ctx.events;
    let mut sink = train_progress(events, STAGE);
    let described = describe_split_in(&mut cache, &ctx.work, &data, &embedder, &config, &mut sink)
        .map_err(PipelineError::stage(STAGE))?;
    warn_skipped(events, STAGE, &described.skipped);
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
    Ok(report)
}
