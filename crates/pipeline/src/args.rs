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
    /// Where the stages run: this process, or jobs on a Slurm cluster (the file's
    /// `[slurm]` settings; docs/cluster.md).
    #[arg(long, value_enum, default_value_t = Executor::Local)]
    pub executor: Executor,
}

/// Where `kao pipeline` runs the stages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Executor {
    /// Every stage in this process, one after another.
    #[default]
    Local,
    /// Collect, crop and the descriptors as job arrays, the rest as jobs, on Slurm.
    Slurm,
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
    /// How Slurm tasks load the same config as this command: its files as absolute paths
    /// (`pipeline.toml` of the current folder named explicitly) and `work`.
    pub fn launch(&self, work: &Path) -> crate::Result<crate::slurm::Launch> {
        let absolute = |p: &Path| {
            std::path::absolute(p).map_err(|e| crate::PipelineError::Config {
                path: p.to_path_buf(),
                message: e.to_string(),
            })
        };
        let default = Path::new(DEFAULT_CONFIG);
        let config = match &self.config {
            Some(c) => Some(absolute(c)?),
            None if default.exists() => Some(absolute(default)?),
            None => None,
        };
        Ok(crate::slurm::Launch {
            config,
            source_dir: self.source_dir.as_deref().map(absolute).transpose()?,
            work: absolute(work)?,
        })
    }

    /// Without `--config`, `pipeline.toml` in the current folder is read if it exists;
    /// when it does not and `--source-dir DIR` is given, every setting takes its default,
    /// DIR's sub-folders are the tags and the work dir is `./work`.
    pub fn load_config(&self, work: Option<&Path>) -> crate::Result<crate::PipelineConfig> {
        load_config(self.config.as_deref(), self.source_dir.as_deref(), work)
    }
}

/// `kao collect|crop|embed`'s pipeline options: one stage of the pipeline file, whole or in
/// shards (the same `--config`/`--source-dir` as `kao pipeline`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StageArgs {
    /// The pipeline file whose settings and tags the stage uses [default: pipeline.toml in
    /// the current folder; with --source-dir and no such file, none].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A folder with one sub-folder of photos per person (as `kao pipeline --source-dir`).
    #[arg(long, value_name = "DIR")]
    pub source_dir: Option<PathBuf>,
    /// Work on part I of N of the stage's input (0-based: 0/4 to 3/4), in its own process:
    /// by content id (collect: by tag). The next stage, or `kao pipeline`, merges the parts.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<kao_dataset::Shard>,
}

impl StageArgs {
    /// Whether the command runs the pipeline's stage (rather than its own flags).
    pub fn is_pipeline(&self) -> bool {
        self.config.is_some() || self.source_dir.is_some()
    }

    /// As [`PipelineArgs::load_config`].
    pub fn load_config(&self, work: Option<&Path>) -> crate::Result<crate::PipelineConfig> {
        load_config(self.config.as_deref(), self.source_dir.as_deref(), work)
    }
}

/// The config file with the command line's overrides applied (see
/// [`PipelineArgs::load_config`]).
fn load_config(
    config: Option<&Path>,
    source_dir: Option<&Path>,
    work: Option<&Path>,
) -> crate::Result<crate::PipelineConfig> {
    let default = Path::new(DEFAULT_CONFIG);
    let mut config = match (config, source_dir) {
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
    if let Some(dir) = source_dir {
        config = config.with_source_dir(dir)?;
    }
    if let Some(w) = work {
        config.work = w.to_path_buf();
    }
    Ok(config)
}
