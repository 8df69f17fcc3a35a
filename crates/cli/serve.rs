//! `kao serve` (placeholder until its issue lands).

use std::process::ExitCode;

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

pub fn run(_global: &Global, _args: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kao serve` is not built yet")
}
