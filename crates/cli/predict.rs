//! `kao predict` (placeholder until its issue lands).

use std::process::ExitCode;

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct PredictArgs {}

pub fn run(_global: &Global, _args: PredictArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kao predict` is not built yet")
}
