//! The chain of jobs a Slurm run submits: the sharded stages as job arrays, the rest as
//! single jobs that run `kao pipeline` over what the arrays left, each after the one before.

use std::path::PathBuf;

use crate::run::RunOptions;
use crate::stage::Stage;

/// How every task loads the same config: the command line of the submitting
/// `kao pipeline`, with absolute paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The pipeline file, if the run has one.
    pub config: Option<PathBuf>,
    pub source_dir: Option<PathBuf>,
    pub work: PathBuf,
}

impl Launch {
    fn config_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(c) = &self.config {
            args.extend(["--config".to_string(), c.display().to_string()]);
        }
        if let Some(d) = &self.source_dir {
            args.extend(["--source-dir".to_string(), d.display().to_string()]);
        }
        args
    }
}

/// One job of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `collect`, `crop`, `split`, `embed` or `pipeline`; the job is `kao-<name>`.
    pub name: &'static str,
    /// An array of this many tasks, task I running `--shard I/N`; `None`: one job.
    pub shards: Option<u32>,
    /// The `kao` command line (without the binary and the shard).
    pub args: Vec<String>,
}

/// The steps for `options`: collect over the tags, crop over `shards`, then (when the
/// descriptor stage is in range) one job through the split and the descriptor stage over
/// `shards`, and last one job through the rest. Each single job's `kao pipeline` merges the
/// shards before it and records their stages as run; a stage already run by its shards is
/// never run again, so `--force`/`--from` become `--from` of the first stage after them.
pub fn plan(options: &RunOptions, launch: &Launch, tags: usize, shards: u32) -> Vec<Step> {
    let in_range =
        |s: Stage| options.from.is_none_or(|f| s >= f) && options.until.is_none_or(|u| s <= u);
    let from = match (options.force, options.from) {
        (true, None) => Some(Stage::Collect),
        (_, f) => f,
    };
    let work = vec!["--work".to_string(), launch.work.display().to_string()];
    let array = |name: &'static str, command: &str, n: u32| Step {
        name,
        shards: Some(n),
        args: [
            work.clone(),
            vec![command.to_string()],
            launch.config_args(),
        ]
        .concat(),
    };
    let pipeline = |name: &'static str, from: Option<Stage>, until: Option<Stage>| {
        let mut args = [
            work.clone(),
            vec!["pipeline".to_string()],
            launch.config_args(),
        ]
        .concat();
        if let Some(f) = from {
            args.extend(["--from".to_string(), f.name().to_string()]);
        }
        if let Some(u) = until {
            args.extend(["--until".to_string(), u.name().to_string()]);
        }
        Step {
            name,
            shards: None,
            args,
        }
    };
    let mut steps = Vec::new();
    if in_range(Stage::Collect) {
        steps.push(array("collect", "collect", tags.max(1) as u32));
    }
    if in_range(Stage::Crop) {
        steps.push(array("crop", "crop", shards));
    }
    let last_from = if in_range(Stage::Augment) {
        if in_range(Stage::Split) || !steps.is_empty() {
            steps.push(pipeline("split", from, Some(Stage::Split)));
        }
        steps.push(array("embed", "embed", shards));
        from.map(|_| Stage::Augment)
    } else {
        from
    };
    steps.push(pipeline("pipeline", last_from, options.until));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch() -> Launch {
        Launch {
            config: Some("/c/pipeline.toml".into()),
            source_dir: None,
            work: "/w".into(),
        }
    }

    fn names(steps: &[Step]) -> Vec<(&str, Option<u32>)> {
        steps.iter().map(|s| (s.name, s.shards)).collect()
    }

    #[test]
    fn a_whole_run_shards_collect_by_tag_and_crop_and_embed_by_content() {
        let steps = plan(&RunOptions::default(), &launch(), 5, 4);
        assert_eq!(
            names(&steps),
            [
                ("collect", Some(5)),
                ("crop", Some(4)),
                ("split", None),
                ("embed", Some(4)),
                ("pipeline", None)
            ]
        );
        assert_eq!(
            steps[1].args,
            ["--work", "/w", "crop", "--config", "/c/pipeline.toml"]
        );
        assert_eq!(
            steps[2].args,
            [
                "--work",
                "/w",
                "pipeline",
                "--config",
                "/c/pipeline.toml",
                "--until",
                "split"
            ]
        );
        assert_eq!(
            steps[4].args,
            ["--work", "/w", "pipeline", "--config", "/c/pipeline.toml"]
        );
    }

    #[test]
    fn force_and_from_never_rerun_what_the_shards_ran() {
        let forced = RunOptions {
            force: true,
            ..RunOptions::default()
        };
        let steps = plan(&forced, &launch(), 2, 3);
        assert!(steps[2]
            .args
            .ends_with(&["--from", "collect", "--until", "split"].map(String::from)));
        assert!(steps[4]
            .args
            .ends_with(&["--from", "augment"].map(String::from)));

        let from_train = RunOptions {
            from: Some(Stage::Train),
            ..RunOptions::default()
        };
        let steps = plan(&from_train, &launch(), 2, 3);
        assert_eq!(names(&steps), [("pipeline", None)]);
        assert!(steps[0]
            .args
            .ends_with(&["--from", "train"].map(String::from)));

        let until_crop = RunOptions {
            until: Some(Stage::Crop),
            ..RunOptions::default()
        };
        let steps = plan(&until_crop, &launch(), 2, 3);
        assert_eq!(
            names(&steps),
            [("collect", Some(2)), ("crop", Some(3)), ("pipeline", None)]
        );
        assert!(steps[2]
            .args
            .ends_with(&["--until", "crop"].map(String::from)));

        let from_embed = RunOptions {
            from: Some(Stage::Augment),
            ..RunOptions::default()
        };
        let steps = plan(&from_embed, &launch(), 2, 3);
        assert_eq!(names(&steps), [("embed", Some(3)), ("pipeline", None)]);
    }
}
