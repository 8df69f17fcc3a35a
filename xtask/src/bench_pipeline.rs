//! `cargo xtask bench pipeline`: the whole pipeline on `$KAO_SHARED/datasets/lfw5` (the
//! default `pipeline.toml` with `--source-dir`), three times in one command: cold (empty
//! work dir), warm (nothing changed) and after changing only the head. Prints each run's
//! stage table, then one table of the three wall times with CPU time and the peak
//! resident memory after the cold run, and the cold run's network arithmetic against the
//! in-run matmul ceiling.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use kao_dataset::{EmbeddingCache, WorkDir};
use kao_infer::HeadKind;
use kao_pipeline::{PipelineConfig, RunOptions, Stage};

use crate::pipeline::log_event;
use crate::usage::{cpu_seconds, peak_rss_mib};

/// Network work per photo cropped (tiny detector at 256, landmarks) and per descriptor.
const GFLOP_CROP: f64 = 0.15 + 0.10;
const GFLOP_DESCRIPTOR: f64 = 0.54;

pub fn run() -> anyhow::Result<()> {
    let lfw5 = crate::datasets::dataset("lfw5")?;
    let work = PathBuf::from(
        std::env::var_os("KAO_BENCH_WORK").unwrap_or_else(|| "work/bench-pipeline".into()),
    );
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .with_context(|| format!("cannot empty {}", work.display()))?;
    }
    let mut config = PipelineConfig::load("pipeline.toml".as_ref())
        .context("run from the repository root (pipeline.toml)")?
        .with_source_dir(&lfw5)?;
    config.work = work.clone();

    let timed = |config: &PipelineConfig, what: &str| -> anyhow::Result<(f64, f64, usize)> {
        eprintln!("--- {what}");
        let (t, cpu) = (Instant::now(), cpu_seconds());
        let report = kao_pipeline::run(config, &RunOptions::default(), &log_event)?;
        let (s, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        print!("{}", report.table("http://127.0.0.1:8080"));
        println!("{what}: {s:.1} s\n");
        let photos = report
            .stages
            .iter()
            .find(|r| r.stage == Stage::Crop)
            .map_or(0, |r| r.items_in);
        Ok((s, cpu, photos))
    };
    let (cold, cold_cpu, photos) = timed(&config, "cold (empty work dir)")?;
    let peak = peak_rss_mib();
    let descriptors = EmbeddingCache::open(&WorkDir::new(&work), kao_infer::EMBEDDING_ID)?.len();
    let (warm, warm_cpu, _) = timed(&config, "warm (nothing changed)")?;
    let before = config.train_config().head;
    let after = if before == HeadKind::Mlp {
        HeadKind::Logreg
    } else {
        HeadKind::Mlp
    };
    config.train.head = Some(after);
    let change = format!("retrain (head {} → {})", before.name(), after.name());
    let (retrain, retrain_cpu, _) = timed(&config, &change)?;
    let ceiling = crate::bench_models::Rate::matmul(&candle_core::Device::Cpu)?;

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let gflop = photos as f64 * GFLOP_CROP + descriptors as f64 * GFLOP_DESCRIPTOR;
    println!(
        "{cores} cores; candle f32 matmul 1024³: {:.1} GFLOP/s, {:.1} per CPU-s (the ceiling)\n\n\
         | run | s | CPU s | peak RSS |\n|---|---|---|---|\n\
         | cold (empty work dir) | {cold:.1} | {cold_cpu:.1} | {peak:.0} MiB |\n\
         | warm (nothing changed) | {warm:.1} | {warm_cpu:.1} | |\n\
         | {change} | {retrain:.1} | {retrain_cpu:.1} | |\n\n\
         Cold: {photos} photos cropped and {descriptors} descriptors computed, {gflop:.0} GFLOP \
         of network arithmetic: {:.1} GFLOP/s, {:.0}% of the matmul ceiling ({:.0}% per \
         CPU-s).",
        ceiling.wall,
        ceiling.cpu,
        gflop / cold,
        100.0 * gflop / cold / ceiling.wall,
        100.0 * gflop / cold_cpu / ceiling.cpu
    );
    Ok(())
}
