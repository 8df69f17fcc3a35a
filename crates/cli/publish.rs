//! `kao publish` (placeholder until its issue lands).

use std::process::ExitCode;

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct PublishArgs {}

pub fn run(_global: &Global, _args: PublishArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kao publish` is not built yet")
}
