//! `kao detect` (placeholder until its issue lands).

use std::process::ExitCode;

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct DetectArgs {}

pub fn run(_global: &Global, _args: DetectArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kao detect` is not built yet")
}
