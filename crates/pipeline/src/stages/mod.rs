//! One file per stage: what it fingerprints, how it checks its outputs, and how it runs.

pub mod augment;
pub mod collect;
pub mod crop;
pub mod evaluate;
pub mod publish;
pub mod split;
pub mod train;

use kao_dataset::WorkDir;
use kao_train::Skipped;

use crate::config::PipelineConfig;
use crate::event::{Event, Events};
use crate::stage::Stage;
use crate::state::PipelineState;

/// What every stage sees.
pub struct Ctx<'a> {
    pub config: &'a PipelineConfig,
    pub work: WorkDir,
    pub events: Events<'a>,
    /// Stages completed so far (this run's and earlier runs'): their recorded outputs.
    pub state: &'a PipelineState,
}

/// kao-train's progress callbacks as the pipeline's events for `stage`.
pub fn train_progress(events: Events<'_>, stage: Stage) -> impl FnMut(kao_train::Event) + '_ {
    move |e| {
        let (phase, done, total) = match e {
            kao_train::Event::Embedding { done, total } => ("descriptors", done, total),
            kao_train::Event::Predicting { done, total } => ("unknown photos", done, total),
            _ => return,
        };
        events(Event::Progress {
            stage,
            phase,
            done: done as u64,
            total: total as u64,
        });
    }
}

/// One warning per chip or photo the stage could not read (the stage went on without it).
pub fn warn_skipped(events: Events<'_>, stage: Stage, skipped: &[Skipped]) {
    for s in skipped {
        events(Event::Warning {
            stage,
            message: format!("{}: {}", s.path.display(), s.reason),
        });
    }
}
