//! `kao train` (placeholder until its issue lands).

use std::process::ExitCode;

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct TrainArgs {}

pub fn run(_global: &Global, _args: TrainArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kao train` is not built yet")
}
