//! The run: each stage in order, skipped when its fingerprint matches the one it last
//! completed with and its outputs are still there. The state is written after every
//! stage, so a run stopped half-way resumes at the first stage that did not finish.

use std::time::Instant;

use kao_dataset::WorkDir;

use crate::config::PipelineConfig;
use crate::error::Result;
use crate::event::{Event, Events};
use crate::report::{PipelineReport, StageReport, Status};
use crate::stage::Stage;
use crate::stages::{self, Ctx};
use crate::state::{PipelineState, StageState};

/// Which stages may run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Run this stage and every later one even if unchanged; earlier stages are not run
    /// (their outputs are used as they are).
    pub from: Option<Stage>,
    /// Stop after this stage.
    pub until: Option<Stage>,
    /// Run every stage in range even if unchanged.
    pub force: bool,
}

/// Runs the pipeline of `config`. Per-item failures (an unreadable photo, a dead URL) are
/// rejects in the stage's row; an `Err` means a stage could not run at all, and the stages
/// completed before it keep their recorded state.
pub fn run(
    config: &PipelineConfig,
    options: &RunOptions,
    events: Events,
) -> Result<PipelineReport> {
    let started = Instant::now();
    if options.from.is_none_or(|f| f <= Stage::Collect) {
        config.validate()?;
    }
    let work = WorkDir::new(&config.work);
    std::fs::create_dir_all(work.root()).map_err(|e| crate::PipelineError::State {
        path: work.root().to_path_buf(),
        message: e.to_string(),
    })?;
    let path = work.pipeline_state();
    let mut state = PipelineState::read(&path);
    let mut rows = Vec::new();
    let mut previous = String::new();
    for stage in Stage::ALL {
        let ctx = Ctx {
            config,
            work: work.clone(),
            events,
            state: &state,
        };
        let trained = stages::train::recorded(&state);
        let fingerprint = match stage {
            Stage::Collect => stages::collect::fingerprint(&ctx),
            Stage::Crop => stages::crop::fingerprint(&ctx),
            Stage::Split => stages::split::fingerprint(&ctx)?,
            Stage::Augment => stages::augment::fingerprint(&ctx, &previous),
            Stage::Train => stages::train::fingerprint(&ctx, &previous),
            Stage::Evaluate => stages::evaluate::fingerprint(&ctx, &previous, trained.as_ref()),
            Stage::Publish => stages::publish::fingerprint(&ctx, &previous, trained.as_ref()),
        };
        previous = fingerprint.clone();
        let in_range =
            options.from.is_none_or(|f| stage >= f) && options.until.is_none_or(|u| stage <= u);
        let outputs = match stage {
            Stage::Collect => stages::collect::outputs_exist(&ctx),
            Stage::Crop => stages::crop::outputs_exist(&ctx),
            Stage::Split => stages::split::outputs_exist(&ctx),
            Stage::Augment => true,
            Stage::Train => stages::train::outputs_exist(&ctx),
            Stage::Evaluate => stages::evaluate::recorded(&state).is_some(),
            Stage::Publish => stages::publish::outputs_exist(&ctx),
        };
        let unchanged = state
            .stages
            .get(&stage)
            .is_some_and(|s| s.fingerprint == fingerprint);
        let forced = options.force || options.from.is_some();
        // Shards of the stage that finished (`kao collect|crop|embed --shard`) are merged
        // here; when all of them ran on this fingerprint, they were the stage's run.
        let sharded = if stage.is_sharded() && in_range {
            crate::shard::take_complete(&work, stage, &fingerprint)?
        } else {
            if stage.is_sharded() {
                kao_dataset::merge_shards(&work, stage.name())
                    .map_err(crate::PipelineError::stage(stage))?;
            }
            None
        };
        let row = if let Some(row) = sharded {
            events(Event::Started { stage });
            state.stages.insert(
                stage,
                StageState {
                    fingerprint,
                    report: row.clone(),
                    output: serde_json::Value::Null,
                },
            );
            state.write(&path)?;
            row
        } else if !in_range {
            StageReport {
                status: Status::Excluded,
                ..recorded_row(&state, stage)
            }
        } else if unchanged && outputs && !forced {
            StageReport {
                status: Status::Unchanged,
                wall_s: 0.0,
                ..recorded_row(&state, stage)
            }
        } else {
            events(Event::Started { stage });
            let t = Instant::now();
            let (mut row, output) = match stage {
                Stage::Collect => stages::collect::run(&ctx)?,
                Stage::Crop => stages::crop::run(&ctx)?,
                Stage::Split => stages::split::run(&ctx)?,
                Stage::Augment => stages::augment::run(&ctx)?,
                Stage::Train => stages::train::run(&ctx)?,
                Stage::Evaluate => stages::evaluate::run(&ctx, trained.as_ref())?,
                Stage::Publish => stages::publish::run(&ctx, trained.as_ref())?,
            };
            row.wall_s = t.elapsed().as_secs_f64();
            state.stages.insert(
                stage,
                StageState {
                    fingerprint,
                    report: row.clone(),
                    output,
                },
            );
            state.write(&path)?;
            row
        };
        events(Event::Finished {
            report: row.clone(),
        });
        rows.push(row);
    }
    let trained = stages::train::recorded(&state);
    let published = stages::publish::recorded(&state);
    let report = PipelineReport {
        work: work.root().to_path_buf(),
        stages: rows,
        wall_s: started.elapsed().as_secs_f64(),
        iteration: trained.as_ref().map(|t| t.iteration),
        report: trained.map(|t| t.report),
        test: stages::evaluate::recorded(&state),
        published_name: published.as_ref().map(|p| p.name.clone()),
        project_id: published.map(|p| p.project_id),
    };
    kao_dataset::write_atomic_json(&work.pipeline_report(), &report).map_err(|e| {
        crate::PipelineError::State {
            path: work.pipeline_report(),
            message: e.to_string(),
        }
    })?;
    Ok(report)
}

/// The row a stage recorded when it last ran (zeros if it never did).
fn recorded_row(state: &PipelineState, stage: Stage) -> StageReport {
    state
        .stages
        .get(&stage)
        .map(|s| s.report.clone())
        .unwrap_or_else(|| StageReport::new(stage))
}
