//! `kao split` (placeholder until its issue lands).

use std::process::ExitCode;

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct SplitArgs {}

pub fn run(_global: &Global, _args: SplitArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kao split` is not built yet")
}
