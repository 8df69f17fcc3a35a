//! One file per stage: what it fingerprints, how it checks its outputs, and how it runs.

pub mod augment;
pub mod collect;
pub mod crop;
pub mod evaluate;
pub mod publish;
pub mod split;
pub mod train;

use kao_dataset::WorkDir;

use crate::config::PipelineConfig;
use crate::event::Events;
use crate::state::PipelineState;

/// What every stage sees.
pub struct Ctx<'a> {
    pub config: &'a PipelineConfig,
    pub work: WorkDir,
    pub events: Events<'a>,
    /// Stages completed so far (this run's and earlier runs'): their recorded outputs.
    pub state: &'a PipelineState,
}
