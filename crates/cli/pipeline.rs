//! `kao pipeline`: every stage from photos to a published iteration (`kao-pipeline`), with
//! progress bars, the final table, and `--serve`.

use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kao_pipeline::{Event, Executor, PipelineArgs, PipelineConfig, PipelineReport, Stage};

use crate::args::Global;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kao pipeline                                   # pipeline.toml in this folder
  kao pipeline --source-dir photos               # no pipeline.toml: photos/<person>/ are the tags
  kao pipeline --source-dir ../shared/datasets/lfw5 --serve
  kao pipeline --from train                      # retrain, re-evaluate, republish
  kao pipeline --executor slurm                  # on a Slurm cluster ([slurm] settings)
Stages: collect, crop, split, augment, train, evaluate, publish (docs/pipeline.md).")]
pub struct Args {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let args = args.pipeline;
    let config = args
        .load_config(global.work.as_deref())
        .context("cannot use the pipeline config")?;
    let report = match args.executor {
        Executor::Local => {
            let bars = Bars::new(global.quiet || args.json);
            let report = kao_pipeline::run(&config, &args.options(), &|e| bars.event(e));
            bars.clear();
            report
        }
        Executor::Slurm => {
            let launch = args.launch(&config.work)?;
            let jobs = crate::slurm::Jobs::new(global.quiet || args.json);
            let report =
                kao_pipeline::slurm::run(&config, &launch, &args.options(), &|e| jobs.event(e));
            jobs.clear();
            report
        }
    }
    .with_context(|| format!("pipeline in {}", config.work.display()))?;
    let base = format!(
        "http://{}",
        kao_serve::ServeConfig::for_pipeline(&config).bind
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if !global.quiet {
        print!("{}", report.table(&base));
    }
    if args.serve {
        return serve(&config, &report);
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(config: &PipelineConfig, report: &PipelineReport) -> anyhow::Result<ExitCode> {
    if report.published_name.is_none() {
        anyhow::bail!("--serve: nothing is published (did the run stop before `publish`?)");
    }
    crate::serve::serve(kao_serve::ServeConfig::for_pipeline(config))
}

/// One bar for the stage phase in progress; a line per stage as it ends.
pub(crate) struct Bars {
    quiet: bool,
    current: Mutex<Option<(Stage, &'static str, ProgressBar)>>,
}

impl Bars {
    pub(crate) fn new(quiet: bool) -> Self {
        Bars {
            quiet,
            current: Mutex::new(None),
        }
    }

    pub(crate) fn event(&self, e: Event) {
        if self.quiet {
            if let Event::Warning { stage, message } = e {
                tracing::warn!("{stage}: {message}");
            }
            return;
        }
        let mut current = self.current.lock().expect("progress lock");
        match e {
            Event::Started { stage } => eprintln!("==> {stage}"),
            Event::Progress {
                stage,
                phase,
                done,
                total,
            } => {
                let same = matches!(&*current, Some((s, p, _)) if *s == stage && *p == phase);
                if !same {
                    if let Some((_, _, bar)) = current.take() {
                        bar.finish_and_clear();
                    }
                    let bar =
                        ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{msg:>16} [{bar:36}] {pos}/{len} {per_sec} eta {eta}",
                        )
                        .expect("static template")
                        .progress_chars("=> "),
                    );
                    bar.set_message(format!("{stage} {phase}"));
                    bar.enable_steady_tick(Duration::from_millis(200));
                    *current = Some((stage, phase, bar));
                }
                if let Some((_, _, bar)) = &*current {
                    bar.set_length(total);
                    bar.set_position(done);
                }
            }
            Event::Warning { stage, message } => {
                let line = format!("warning: {stage}: {message}");
                match &*current {
                    Some((_, _, bar)) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
            Event::Finished { report } => {
                if let Some((_, _, bar)) = current.take() {
                    bar.finish_and_clear();
                }
                if let Some(line) = report.finished_line() {
                    eprintln!("{line}");
                }
            }
        }
    }

    pub(crate) fn clear(&self) {
        if let Some((_, _, bar)) = self.current.lock().expect("progress lock").take() {
            bar.finish_and_clear();
        }
    }
}
