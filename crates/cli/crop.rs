//! `kao crop` (placeholder until its issue lands).

use std::process::ExitCode;

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct CropArgs {}

pub fn run(_global: &Global, _args: CropArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kao crop` is not built yet")
}
