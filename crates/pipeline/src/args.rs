use std::path::{Path, PathBuf};

use crate::run::RunOptions;
use crate::stage::Stage;

/// The pipeline's command line, shared by `kao pipeline` and `cargo xtask pipeline` so the
/// two cannot drift apart.
#[derive(Debug, Clone, clap::Args)]
pub struct PipelineArgs {
    /// The pipeline file: work dir, tags and their sources, stage settings.
    #[arg(long, default_value = "pipeline.toml")]
    pub config: PathBuf,
    /// Use the folder DIR/<tag>/ as every tag's only source (offline runs).
    #[arg(long, value_name = "DIR")]
    pub source_dir: Option<PathBuf>,
    /// Run this stage and all later ones even if unchanged; earlier stages are not run.
    #[arg(long, value_name = "STAGE")]
    pub from: Option<Stage>,
    /// Stop after this stage.
    #[arg(long, value_name = "STAGE")]
    pub until: Option<Stage>,
    /// Run every stage even if its inputs and settings are unchanged.
    #[arg(long)]
    pub force: bool,
    /// Start the prediction service on the published iteration when done.
    #[arg(long)]
    pub serve: bool,
    /// Print the final report as one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

impl PipelineArgs {
    pub fn options(&self) -> RunOptions {
        RunOptions {
            from: self.from,
            until: self.until,
            force: self.force,
        }
    }

    /// The config file with this command line's overrides applied; `work` replaces the
    /// config's work dir.
    pub fn load_config(&self, work: Option<&Path>) -> crate::Result<crate::PipelineConfig> {
        let mut config = crate::PipelineConfig::load(&self.config)?;
        if let Some(dir) = &self.source_dir {
            config = config.with_source_dir(dir);
        }
        if let Some(w) = work {
            config.work = w.to_path_buf();
        }
        Ok(config)
    }
}
