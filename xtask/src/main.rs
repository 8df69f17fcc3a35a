//! Project automation (cargo's xtask pattern): `cargo xtask <task>`.

mod bench_align;
mod bench_augment;
mod bench_crop;
mod bench_detectors;
mod bench_export_web;
mod bench_models;
mod bench_pipeline;
mod bench_serve;
mod bench_shards;
mod bench_studio;
mod bench_train;
mod bench_training_api;
mod bench_unknown;
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
    /// Run a benchmark: `augment`, `crop`, `align`, `models`, `detectors`, `train`, `unknown`, `serve`, `pipeline`, `shards`, `training-api`, `studio`, `export-web`.
    Bench { what: String },
    /// Build the browser runtime `kao export --platform web` copies (kao-web for wasm32 with
    /// SIMD128, wasm-bindgen, the page) into <target>/export/web.
    Web,
    /// Build the statically linked kao (musl) `kao export --platform docker` puts in the image.
    Static,
    /// Check the committed network weights against the npm package (`--verify`).
    Models {
        /// Re-download the package with `npm pack` and compare every committed file.
        #[arg(long)]
        verify: bool,
    },
    /// Photos to a published, evaluated model in one command (as `kao pipeline`).
    Pipeline(pipeline::Args),
    /// Screenshots of every Kao Studio view into docs/studio/, from a real run of the
    /// Studio's end-to-end browser test.
    StudioScreenshots,
}

fn main() -> anyhow::Result<()> {
    kao_models::runtime::tune_process();
    // reqwest's TLS provider (see the workspace Cargo.toml).
    let _ = rustls::crypto::ring::default_provider().install_default();
    match Cli::parse().task {
        Task::Ci => ci::run(),
        Task::Bench { what } => match what.as_str() {
            "augment" => bench_augment::run(),
            "train" => bench_train::run(),
            "unknown" => bench_unknown::run(),
            "models" => bench_models::run(),
            "serve" => bench_serve::run(),
            "pipeline" => bench_pipeline::run(),
            "shards" => bench_shards::run(),
            "training-api" => bench_training_api::run(),
            "studio" => bench_studio::run(),
            "crop" => bench_crop::run(),
            "align" => bench_align::run(),
            "detectors" => bench_detectors::run_standalone(),
            "export-web" => bench_export_web::run(),
            other => anyhow::bail!(
                "unknown benchmark {other:?} (augment, crop, align, models, detectors, train, unknown, serve, pipeline, shards, training-api, studio, export-web)"
            ),
        },
        Task::Web => {
            let dir = kao_harness::build_web_runtime()?;
            println!("browser runtime in {}", dir.display());
            Ok(())
        }
        Task::Static => {
            let path = kao_harness::build_static_kao()?;
            println!("static kao: {}", path.display());
            Ok(())
        }
        Task::Pipeline(args) => pipeline::run(args),
        Task::StudioScreenshots => studio_screenshots(),
        Task::Models { verify } => {
            anyhow::ensure!(verify, "nothing to do: `cargo xtask models --verify`");
            models::verify()
        }
    }
}

/// Runs the Studio's end-to-end test with its screenshots going to docs/studio/.
fn studio_screenshots() -> anyhow::Result<()> {
    use anyhow::Context;
    let dir = std::env::current_dir()?.join("docs/studio");
    anyhow::ensure!(
        dir.parent().is_some_and(|d| d.is_dir()),
        "run from the repository root"
    );
    std::fs::create_dir_all(&dir)?;
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "test",
                "-p",
                "kao-serve",
                "--test",
                "studio",
                "studio_end_to_end",
            ])
            .args(["--", "--exact", "--nocapture"])
            .env("KAO_STUDIO_SCREENSHOTS", &dir)
            .status()
            .context("running cargo test")?;
    anyhow::ensure!(status.success(), "the Studio test failed: {status}");
    eprintln!("screenshots in {}", dir.display());
    Ok(())
}
