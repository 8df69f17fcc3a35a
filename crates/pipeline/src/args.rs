use std::path::{Path, PathBuf};

use crate::run::RunOptions;
use crate::stage::Stage;

/// The config file read when `--config` is not given (in the current folder).
pub const DEFAULT_CONFIG: &str = "pipeline.toml";

/// The pipeline's command line, shared by `kao pipeline` and `cargo xtask pipeline` so the
/// two cannot drift apart.
#[derive(Debug, Clone, clap::Args)]
pub struct PipelineArgs {
    /// The pipeline file: work dir, tags and their sources, stage settings [default:
    /// pipeline.toml in the current folder; with --source-dir and no such file, none].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A folder with one sub-folder of photos per person: DIR/<tag>/ becomes each tag's only
    /// source; without a config, or with one that lists no tags, its sub-folders are the tags.
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
    ///
    /// Without `--config`, `pipeline.toml` in the current folder is read if it exists;
    /// when it does not and `--source-dir DIR` is given, every setting takes its default,
    /// DIR's sub-folders are the tags and the work dir is `./work`.
    pub fn load_config(&self, work: Option<&Path>) -> crate::Result<crate::PipelineConfig> {
        let default = Path::new(DEFAULT_CONFIG);
        let mut config = match (&self.config, &self.source_dir) {
            (Some(path), _) => crate::PipelineConfig::load(path)?,
            (None, _) if default.exists() => crate::PipelineConfig::load(default)?,
            (None, Some(dir)) => crate::PipelineConfig::defaults(dir),
            (None, None) => {
                return Err(crate::PipelineError::Config {
                    path: default.to_path_buf(),
                    message: "not found in the current folder: give --config FILE, or \
                              --source-dir DIR (a folder with one sub-folder of photos per person)"
                        .into(),
                })
            }
        };
        if let Some(dir) = &self.source_dir {
            config = config.with_source_dir(dir)?;
        }
        if let Some(w) = work {
            config.work = w.to_path_buf();
        }
        Ok(config)
    }
}
