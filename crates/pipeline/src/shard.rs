//! Stages in shards: `kao collect|crop|embed --shard I/N` runs one part of a stage's input
//! in its own process, on this machine or on a cluster node; the next stage (or the next
//! `kao pipeline`) merges the finished parts and, when all N finished on the inputs the
//! pipeline sees, records the stage as done.
//!
//! Partition: collect by tag (sorted by name, round robin: a tag's deduplication needs all
//! of its items in one process), crop by the photo's content id, augment (the descriptor
//! stage, `kao embed`) by the content id of each chip's source photo. Each stage calls the
//! same function as the unsharded run, with its reads and appends pointed at the shard's
//! view of the work dir (`kao_dataset::ShardDir`).

use std::time::Instant;

use kao_dataset::{merge_shards, Shard, ShardDir, WorkDir};
use serde::{Deserialize, Serialize};

use crate::config::PipelineConfig;
use crate::error::{PipelineError, Result};
use crate::event::{Event, Events};
use crate::report::{StageReport, Status};
use crate::stage::Stage;
use crate::stages::{self, Ctx};
use crate::state::PipelineState;

/// A finished shard's `done.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardReport {
    pub stage: Stage,
    pub shard: Shard,
    /// The stage's input fingerprint when the shard started (what the pipeline compares
    /// with its own before taking the shards as the stage's run).
    pub fingerprint: String,
    pub report: StageReport,
    /// CPU seconds (user and system) the shard's process used.
    pub cpu_s: f64,
    /// The machine it ran on.
    pub host: String,
}

/// Runs shard `shard` of `stage` (collect, crop or augment): its part of the input, with
/// outputs in `W/shards/<stage>/<I>-of-<N>/` until a merge takes them. First merges the
/// finished shards of earlier stages (this stage reads their outputs). A shard that was
/// interrupted resumes from its own records when run again.
pub fn run_shard(
    config: &PipelineConfig,
    stage: Stage,
    shard: Shard,
    events: Events,
) -> Result<ShardReport> {
    if !stage.is_sharded() {
        return Err(PipelineError::input(
            stage,
            "runs as one job: only collect, crop and augment (embed) run in shards",
        ));
    }
    if stage == Stage::Collect {
        config.validate()?;
    }
    let work = WorkDir::new(&config.work);
    std::fs::create_dir_all(work.root()).map_err(|e| PipelineError::State {
        path: work.root().to_path_buf(),
        message: e.to_string(),
    })?;
    for earlier in Stage::SHARDED.into_iter().filter(|s| *s < stage) {
        merge_shards(&work, earlier.name()).map_err(PipelineError::stage(earlier))?;
    }
    let state = PipelineState::read(&work.pipeline_state());
    let ctx = Ctx {
        config,
        work: work.clone(),
        events,
        state: &state,
    };
    let fingerprint = match stage {
        Stage::Collect => stages::collect::fingerprint(&ctx),
        Stage::Crop => stages::crop::fingerprint(&ctx),
        _ => stages::augment::fingerprint(&ctx, &stages::split::fingerprint(&ctx)?),
    };
    let dir = ShardDir::new(&work, stage.name(), shard);
    let running = dir.begin().map_err(PipelineError::stage(stage))?;
    events(Event::Started { stage });
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let mut row = match stage {
        Stage::Collect => stages::collect::run_in(&ctx, Some(&dir))?,
        Stage::Crop => stages::crop::run_in(&ctx, Some(&dir))?,
        _ => stages::augment::run_in(&ctx, Some(&dir))?,
    };
    row.wall_s = t.elapsed().as_secs_f64();
    let report = ShardReport {
        stage,
        shard,
        fingerprint,
        report: row.clone(),
        cpu_s: cpu_seconds() - cpu,
        host: host_name(),
    };
    running
        .finish(&report)
        .map_err(PipelineError::stage(stage))?;
    events(Event::Finished { report: row });
    Ok(report)
}

/// Merges `stage`'s finished shards into the work dir. When the shards merged so far
/// include all N of one shard count, each finished on `fingerprint`, returns the stage's
/// row made of theirs and forgets them: the stage is done without running again.
pub(crate) fn take_complete(
    work: &WorkDir,
    stage: Stage,
    fingerprint: &str,
) -> Result<Option<StageReport>> {
    merge_shards(work, stage.name()).map_err(PipelineError::stage(stage))?;
    let merged =
        kao_dataset::merged_shards(work, stage.name()).map_err(PipelineError::stage(stage))?;
    let mut latest: std::collections::BTreeMap<(u32, u32), ShardReport> = Default::default();
    for m in merged {
        if let Ok(r) = serde_json::from_value::<ShardReport>(m.done) {
            if r.stage == stage && r.fingerprint == fingerprint {
                latest.insert((r.shard.count, r.shard.index), r);
            }
        }
    }
    let complete = latest
        .keys()
        .map(|(n, _)| *n)
        .find(|&n| (0..n).all(|i| latest.contains_key(&(n, i))));
    let Some(n) = complete else {
        return Ok(None);
    };
    let shards: Vec<&ShardReport> = (0..n).map(|i| &latest[&(n, i)]).collect();
    let mut row = StageReport::new(stage);
    row.status = Status::Ran;
    let mut cpu = 0.0;
    for s in &shards {
        row.items_in += s.report.items_in;
        row.items_out += s.report.items_out;
        for (reason, k) in &s.report.rejects {
            *row.rejects.entry(reason.clone()).or_default() += k;
        }
        row.wall_s = row.wall_s.max(s.report.wall_s);
        cpu += s.cpu_s;
    }
    row.note = format!(
        "{n} shards (longest {:.1}s, {cpu:.1}s CPU in all)",
        row.wall_s
    );
    kao_dataset::clear_merged(work, stage.name()).map_err(PipelineError::stage(stage))?;
    Ok(Some(row))
}

/// CPU seconds this process has used so far.
fn cpu_seconds() -> f64 {
    #[cfg(unix)]
    {
        // SAFETY: getrusage fills the struct it is given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
            let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
            return t(usage.ru_utime) + t(usage.ru_stime);
        }
    }
    0.0
}

fn host_name() -> String {
    std::env::var("SLURMD_NODENAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}
