//! Project automation (cargo's xtask pattern): `cargo xtask <task>`.

mod bench_align;
mod bench_augment;
mod bench_crop;
mod bench_detectors;
mod bench_models;
mod bench_pipeline;
mod bench_serve;
mod bench_train;
mod ci;
mod datasets;
mod models;
mod pipeline;
mod usage;

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
    /// Run a benchmark: `augment`, `crop`, `align`, `models`, `detectors`, `train`, `serve`, `pipeline`.
    Bench { what: String },
    /// Check the committed network weights against the npm package (`--verify`).
    Models {
        /// Re-download the package with `npm pack` and compare every committed file.
        #[arg(long)]
        verify: bool,
    },
    /// Photos to a published, evaluated model in one command (as `kao pipeline`).
    Pipeline(pipeline::Args),
}

fn main() -> anyhow::Result<()> {
    kao_models::runtime::tune_process();
    match Cli::parse().task {
        Task::Ci => ci::run(),
        Task::Bench { what } => match what.as_str() {
            "augment" => bench_augment::run(),
            "train" => bench_train::run(),
            "models" => bench_models::run(),
            "serve" => bench_serve::run(),
            "pipeline" => bench_pipeline::run(),
            "crop" => bench_crop::run(),
            "align" => bench_align::run(),
            "detectors" => bench_detectors::run_standalone(),
            other => anyhow::bail!(
                "unknown benchmark {other:?} (augment, crop, align, models, detectors, train, serve, pipeline)"
            ),
        },
        Task::Pipeline(args) => pipeline::run(args),
        Task::Models { verify } => {
            anyhow::ensure!(verify, "nothing to do: `cargo xtask models --verify`");
            models::verify()
        }
    }
}
