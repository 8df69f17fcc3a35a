//! split: the current chips → `splits.json` through `kao-split`.

use std::collections::HashSet;
use std::path::Path;

use kao_dataset::{read_current_chips, ChipRecord};
use kao_split::split_chips;

use super::Ctx;
use crate::error::{PipelineError, Result};
use crate::event::Event;
use crate::fingerprint::Fingerprint;
use crate::report::StageReport;
use crate::stage::Stage;

const STAGE: Stage = Stage::Split;

/// The chips this run's tags and crop settings produced. `faces/manifest.jsonl` is
/// append-only and keeps records of earlier settings, removed tags and removed photos;
/// none of those may reach the split.
pub fn chips_to_split(ctx: &Ctx) -> Result<Vec<ChipRecord>> {
    let settings = ctx.config.crop_config().settings_hash();
    let chips =
        read_current_chips(&ctx.work, Some(&settings)).map_err(PipelineError::stage(STAGE))?;
    let tags: HashSet<String> = ctx.config.tag_names().into_iter().collect();
    Ok(chips
        .into_iter()
        .filter(|c| tags.contains(&c.source.tag) && Path::new(&c.source.path).is_file())
        .collect())
}

pub fn fingerprint(ctx: &Ctx) -> Result<String> {
    let mut f = Fingerprint::new(STAGE.name());
    let options = ctx.config.split_options();
    f.json(&(options.seed, options.ratios, options.near_distance));
    f.json(&chips_to_split(ctx)?);
    Ok(f.finish())
}

pub fn outputs_exist(ctx: &Ctx) -> bool {
    ctx.work.splits().is_file()
}

pub fn run(ctx: &Ctx) -> Result<(StageReport, serde_json::Value)> {
    let chips = chips_to_split(ctx)?;
    if chips.is_empty() {
        return Err(PipelineError::input(
            STAGE,
            "no face chips: every photo was rejected by the crop stage (see faces/manifest.jsonl)",
        ));
    }
    let out =
        split_chips(&chips, &ctx.config.split_options()).map_err(PipelineError::stage(STAGE))?;
    for w in &out.warnings {
        (ctx.events)(Event::Warning {
            stage: STAGE,
            message: w.to_string(),
        });
    }
    out.splits
        .write(&ctx.work.splits())
        .map_err(PipelineError::stage(STAGE))?;
    let mut totals = [0usize; 3];
    for c in out.counts.values() {
        for (t, n) in totals.iter_mut().zip(c) {
            *t += n;
        }
    }
    let mut report = StageReport::new(STAGE);
    report.items_in = chips.len();
    report.items_out = totals.iter().sum();
    report.note = format!(
        "train {} / val {} / test {}; {} groups kept whole",
        totals[0],
        totals[1],
        totals[2],
        out.splits.groups.len()
    );
    Ok((report, serde_json::Value::Null))
}
