//! `kao iterations`: the trained iterations with their numbers.

use std::process::ExitCode;

use anyhow::Context;
use kao_dataset::WorkDir;

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct IterationsArgs {
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &Global, args: IterationsArgs) -> anyhow::Result<ExitCode> {
    let work = WorkDir::new(global.work());
    let list = kao_train::list_iterations(&work)
        .with_context(|| format!("cannot list the iterations of {}", work.root().display()))?;
    if args.json {
        for i in &list {
            println!("{}", serde_json::to_string(i)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>4}  {:<20}  {:<8}  {:>8}  {:>8}  {:>8}  {:>8}  published",
        "#", "created", "head", "val top1", "test top1", "test P", "test AP"
    );
    for i in &list {
        let Some(a) = &i.artifact else {
            println!(
                "{:>4}  broken: {}",
                i.iteration,
                i.error.as_deref().unwrap_or("")
            );
            continue;
        };
        let get = |split: &str| a.metrics.iter().find(|m| m.split == split);
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        println!(
            "{:>4}  {:<20}  {:<8}  {:>8}  {:>8}  {:>8}  {:>8}  {}",
            i.iteration,
            a.created_at,
            a.head.kind.name(),
            f(get("val").map(|m| m.top1)),
            f(get("test").map(|m| m.top1)),
            f(get("test").map(|m| m.precision)),
            f(get("test").map(|m| m.average_precision)),
            i.published.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
