//! `kao collect`, `kao embed` and `kao crop --config`: one stage of the pipeline file,
//! whole (as `kao pipeline --from S --until S`) or one shard of it (`--shard I/N`).

use std::process::ExitCode;

use anyhow::Context;
use kao_dataset::{merge_shards, WorkDir};
use kao_pipeline::{RunOptions, Stage, StageArgs, StageReport};

use crate::args::Global;
use crate::pipeline::Bars;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub stage: StageArgs,
    /// Print the stage's (or the shard's) report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(
    global: &Global,
    stage: Stage,
    args: &StageArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let config = args
        .load_config(global.work.as_deref())
        .context("cannot use the pipeline config")?;
    let bars = Bars::new(global.quiet || json);
    let events = |e| bars.event(e);
    match args.shard {
        Some(shard) => {
            let report = kao_pipeline::run_shard(&config, stage, shard, &events)
                .with_context(|| format!("{stage} shard {shard} in {}", config.work.display()))?;
            bars.clear();
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else if !global.quiet {
                println!(
                    "{stage} shard {shard} on {}: {}; {:.1}s CPU",
                    report.host,
                    summary(&report.report),
                    report.cpu_s
                );
                println!(
                    "its records stay in {} until the next stage or `kao pipeline` merges them",
                    kao_dataset::ShardDir::new(&WorkDir::new(&config.work), stage.name(), shard)
                        .root()
                        .display()
                );
            }
        }
        None => {
            let options = RunOptions {
                from: Some(stage),
                until: Some(stage),
                force: false,
            };
            let report = kao_pipeline::run(&config, &options, &events)
                .with_context(|| format!("{stage} in {}", config.work.display()))?;
            bars.clear();
            let row = report
                .stages
                .iter()
                .find(|r| r.stage == stage)
                .context("the run reported no row for the stage")?;
            if json {
                println!("{}", serde_json::to_string_pretty(row)?);
            } else if !global.quiet {
                println!("{stage}: {}", summary(row));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(row: &StageReport) -> String {
    let mut s = format!(
        "{} in, {} out in {:.1}s",
        row.items_in, row.items_out, row.wall_s
    );
    if !row.rejects.is_empty() {
        let r: Vec<String> = row
            .rejects
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        s.push_str(&format!(" (rejects: {})", r.join(", ")));
    }
    if !row.note.is_empty() {
        s.push_str(&format!("; {}", row.note));
    }
    s
}

/// Folds the finished shards of every sharded stage into `work` before a command that reads
/// the stages' outputs on its own (`kao crop`, `kao split`, `kao train`, `kao eval`).
pub fn merge_finished_shards(work: &WorkDir) -> anyhow::Result<()> {
    for stage in Stage::SHARDED {
        let merged = merge_shards(work, stage.name())
            .with_context(|| format!("cannot merge the finished {stage} shards"))?;
        if !merged.is_empty() {
            tracing::info!(stage = %stage, shards = merged.len(), "merged finished shards");
        }
    }
    Ok(())
}
