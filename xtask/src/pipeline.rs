//! `cargo xtask pipeline`: the same run as `kao pipeline` (both call `kao_pipeline::run`
//! with the same arguments), logging stage by stage instead of drawing progress bars.

use std::path::PathBuf;

use anyhow::Context;
use kao_pipeline::{Event, PipelineArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Work directory (default: the config's `work`, relative to the config file).
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
}

/// Stage lines on stderr; progress every tenth of a phase.
pub fn log_event(e: Event) {
    match e {
        Event::Started { stage } => eprintln!("==> {stage}"),
        Event::Progress {
            stage,
            phase,
            done,
            total,
        } => {
            let step = (total / 10).max(1);
            if done % step == 0 || done == total {
                eprintln!("    {stage}: {done}/{total} {phase}");
            }
        }
        Event::Warning { stage, message } => eprintln!("warning: {stage}: {message}"),
        Event::Finished { report } => {
            if let Some(line) = report.finished_line() {
                eprintln!("{line}");
            }
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = args
        .pipeline
        .load_config(args.work.as_deref())
        .context("cannot use the pipeline config")?;
    let report = kao_pipeline::run(&config, &args.pipeline.options(), &log_event)
        .with_context(|| format!("pipeline in {}", config.work.display()))?;
    let serve = kao_serve::ServeConfig::for_pipeline(&config);
    if args.pipeline.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table(&format!("http://{}", serve.bind)));
    }
    if args.pipeline.serve {
        anyhow::ensure!(
            report.published_name.is_some(),
            "--serve: nothing is published (did the run stop before `publish`?)"
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let server = kao_serve::Server::bind(serve).await?;
            eprintln!(
                "serving on http://{} (Quick Test at /); the key is in {} — Ctrl-C stops",
                server.local_addr(),
                kao_dataset::WorkDir::new(&config.work)
                    .prediction_key()
                    .display()
            );
            server.run(kao_serve::shutdown_signal()).await?;
            anyhow::Ok(())
        })?;
    }
    Ok(())
}
