//! `kao eval` (placeholder until its issue lands).

use std::process::ExitCode;

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {}

pub fn run(_global: &Global, _args: EvalArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kao eval` is not built yet")
}
