//! `kao crawl` (placeholder until its issue lands).

use std::process::ExitCode;

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct CrawlArgs {}

pub fn run(_global: &Global, _args: CrawlArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kao crawl` is not built yet")
}
