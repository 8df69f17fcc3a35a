//! `cargo xtask bench pipeline`: the whole pipeline on `$KAO_SHARED/datasets/lfw5` (the
//! default `pipeline.toml` with `--source-dir`), three times in one command: cold (empty
//! work dir), warm (nothing changed) and after changing only the head. Appends the three
//! wall times to `docs/benchmarks.md`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use kao_infer::HeadKind;
use kao_pipeline::{PipelineConfig, RunOptions};

use crate::pipeline::log_event;

const DOC: &str = "docs/benchmarks.md";
const SECTION: &str = "## Pipeline (`cargo xtask bench pipeline`)";

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

    let timed = |config: &PipelineConfig, what: &str| -> anyhow::Result<f64> {
        eprintln!("--- {what}");
        let t = Instant::now();
        let report = kao_pipeline::run(config, &RunOptions::default(), &log_event)?;
        let s = t.elapsed().as_secs_f64();
        print!("{}", report.table("http://127.0.0.1:8080"));
        println!("{what}: {s:.1} s\n");
        Ok(s)
    };
    let cold = timed(&config, "cold (empty work dir)")?;
    let warm = timed(&config, "warm (nothing changed)")?;
    let before = config.train_config().head;
    let after = if before == HeadKind::Mlp {
        HeadKind::Logreg
    } else {
        HeadKind::Mlp
    };
    config.train.head = Some(after);
    let retrain = timed(
        &config,
        &format!("head {} → {}", before.name(), after.name()),
    )?;

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let row = format!(
        "| {} | {cores} | {cold:.1} s | {warm:.1} s | {retrain:.1} s ({} → {}) |\n",
        &kao_infer::now_rfc3339()[..10],
        before.name(),
        after.name()
    );
    let doc = std::fs::read_to_string(DOC).unwrap_or_default();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(DOC)
        .with_context(|| format!("cannot append to {DOC}"))?;
    if !doc.contains(SECTION) {
        write!(
            f,
            "\n{SECTION}\n\nThe default `pipeline.toml` on `../shared/datasets/lfw5` (`--source-dir`), in one \
             command: cold = empty work dir; warm = rerun with nothing changed (every stage \
             skipped); retrain = only `[train] head` changed (train, evaluate and publish run; \
             descriptors come from the cache). Rows are appended by each run.\n\n\
             | date | cores | cold | warm | retrain |\n|---|---|---|---|---|\n"
        )?;
    }
    f.write_all(row.as_bytes())?;
    println!("appended to {DOC}: {}", row.trim_end());
    Ok(())
}
