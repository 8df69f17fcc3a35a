//! `kao publish N --name NAME`: which iteration the prediction service answers with.

use std::process::ExitCode;

use anyhow::Context;
use kao_dataset::WorkDir;

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// Iteration number.
    pub iteration: u32,
    /// Publish name (the prediction URL's `publishedName`).
    #[arg(long)]
    pub name: String,
}

pub fn run(global: &Global, args: PublishArgs) -> anyhow::Result<ExitCode> {
    let work = WorkDir::new(global.work());
    kao_infer::publish(&work, args.iteration, &args.name).with_context(|| {
        format!(
            "cannot publish iteration {} in {}",
            args.iteration,
            work.published().display()
        )
    })?;
    let project = kao_infer::project_id(&work)
        .with_context(|| format!("cannot read {}", work.project_id().display()))?;
    if !global.quiet {
        println!(
            "published iteration {} as {:?} (project {project})",
            args.iteration, args.name
        );
    }
    Ok(ExitCode::SUCCESS)
}
