#![doc = include_str!("../README.md")]

mod args;
mod config;
mod error;
mod event;
mod fingerprint;
mod report;
mod run;
mod shard;
pub mod slurm;
mod stage;
mod stages;
mod state;

pub use args::{Executor, PipelineArgs, StageArgs};
pub use config::{
    AugmentSection, CrawlSection, CropSection, EvaluateSection, Fallback, PipelineConfig,
    PublishSection, ServeSection, SlurmSection, SplitSection, TagConfig, TrainSection,
    DEFAULT_PUBLISH_NAME,
};
pub use error::{PipelineError, Result};
pub use event::{Event, Events};
pub use report::{PipelineReport, StageReport, Status};
pub use run::{run, RunOptions};
pub use shard::{run_shard, ShardReport};
pub use stage::Stage;
pub use state::{PipelineState, StageState};
