//! Project automation (cargo's xtask pattern): `cargo xtask <task>`.

mod ci;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run exactly what `.ci/run` runs: fmt check, clippy -D warnings, the tests.
    Ci,
    /// Photos to a published, evaluated model in one command (not built yet).
    Pipeline {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Ci => ci::run(),
        Task::Pipeline { .. } => {
            anyhow::bail!(
                "`cargo xtask pipeline` is not built yet: it comes with the pipeline issue"
            )
        }
    }
}
