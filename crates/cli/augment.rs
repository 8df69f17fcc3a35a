//! `kao augment` (placeholder until its issue lands).

use std::process::ExitCode;

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct AugmentArgs {}

pub fn run(_global: &Global, _args: AugmentArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kao augment` is not built yet")
}
