//! `kao pipeline` (placeholder until its issue lands).

use std::process::ExitCode;

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct PipelineArgs {}

pub fn run(_global: &Global, _args: PipelineArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kao pipeline` is not built yet")
}
