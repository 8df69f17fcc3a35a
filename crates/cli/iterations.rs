//! `kao iterations` (placeholder until its issue lands).

use std::process::ExitCode;

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct IterationsArgs {}

pub fn run(_global: &Global, _args: IterationsArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kao iterations` is not built yet")
}
