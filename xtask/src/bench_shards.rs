//! `cargo xtask bench shards`: the pipeline on `$KAO_SHARED/datasets/lfw5` (the default
//! `pipeline.toml` with `--source-dir`) as a Slurm run does it, on this machine: for 1, 2
//! and 4 shards, `kao collect|crop|embed --shard I/N` as N processes at once (each with
//! cores/N threads, as `--cpus-per-task` gives them), and `kao pipeline` between and after
//! them. Prints wall and CPU time per photo for each shard count, each stage group's wall
//! time, and a projection for 32 nodes from the measured numbers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::Context;

const COUNTS: [u32; 3] = [1, 2, 4];
const NODES: f64 = 32.0;

/// CPU seconds (user + system) of the waited-for child processes so far.
fn children_cpu() -> f64 {
    // SAFETY: getrusage fills the struct it is given; all-zero is a valid rusage.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u
    };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(u.ru_utime) + s(u.ru_stime)
}

struct Kao {
    bin: PathBuf,
    config: PathBuf,
    source: PathBuf,
}

impl Kao {
    fn command(&self, work: &Path, threads: usize, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--quiet")
            .arg("--work")
            .arg(work)
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .arg("--source-dir")
            .arg(&self.source)
            .env("RAYON_NUM_THREADS", threads.to_string())
            .stdout(Stdio::null());
        c
    }

    /// `kao <stage> --shard I/N` for every I at once; the wall time until the last ends.
    fn shards(&self, work: &Path, stage: &str, n: u32, cores: usize) -> anyhow::Result<f64> {
        let threads = (cores / n as usize).max(1);
        let t = Instant::now();
        let children: Vec<(u32, Child)> = (0..n)
            .map(|i| {
                let shard = format!("{i}/{n}");
                let child = self
                    .command(work, threads, &[stage, "--shard", &shard])
                    .spawn()
                    .with_context(|| format!("cannot run {}", self.bin.display()))?;
                Ok((i, child))
            })
            .collect::<anyhow::Result<_>>()?;
        for (i, child) in children {
            let out = child.wait_with_output()?;
            anyhow::ensure!(out.status.success(), "kao {stage} --shard {i}/{n} failed");
        }
        Ok(t.elapsed().as_secs_f64())
    }

    fn pipeline(&self, work: &Path, cores: usize, until: Option<&str>) -> anyhow::Result<f64> {
        let t = Instant::now();
        let mut args = vec!["pipeline"];
        if let Some(u) = until {
            args.extend(["--until", u]);
        }
        let status = self.command(work, cores, &args).status()?;
        anyhow::ensure!(status.success(), "kao {args:?} failed");
        Ok(t.elapsed().as_secs_f64())
    }
}

struct Row {
    shards: u32,
    wall: f64,
    cpu: f64,
    /// Wall time of collect, crop, split, embed and the rest.
    steps: [f64; 5],
}

pub fn run() -> anyhow::Result<()> {
    let lfw5 = crate::datasets::dataset("lfw5")?;
    let root = PathBuf::from(
        std::env::var_os("KAO_BENCH_WORK").unwrap_or_else(|| "work/bench-shards".into()),
    );
    if root.exists() {
        std::fs::remove_dir_all(&root)
            .with_context(|| format!("cannot empty {}", root.display()))?;
    }
    std::fs::create_dir_all(&root)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--quiet", "--bin", "kao"])
        .status()?;
    anyhow::ensure!(built.success(), "cargo build --bin kao failed");
    let bin = std::env::current_exe()?
        .parent()
        .context("xtask's folder")?
        .join("kao");
    let kao = Kao {
        bin,
        config: std::path::absolute("pipeline.toml")
            .context("run from the repository root (pipeline.toml)")?,
        source: lfw5.clone(),
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let photos = kao_dataset::list_tree(&lfw5)?.files.len();

    let mut rows = Vec::new();
    for n in COUNTS {
        let work = root.join(format!("{n}-shards"));
        eprintln!("--- {n} shards");
        let (t, cpu) = (Instant::now(), children_cpu());
        let steps = [
            kao.shards(&work, "collect", n, cores)?,
            kao.shards(&work, "crop", n, cores)?,
            kao.pipeline(&work, cores, Some("split"))?,
            kao.shards(&work, "embed", n, cores)?,
            kao.pipeline(&work, cores, None)?,
        ];
        rows.push(Row {
            shards: n,
            wall: t.elapsed().as_secs_f64(),
            cpu: children_cpu() - cpu,
            steps,
        });
    }

    let base = rows[0].wall;
    println!(
        "{photos} photos, {cores} cores; each shard a process with {cores}/N threads\n\n\
         | shards | wall s | wall ms/photo | CPU s | CPU ms/photo | speed-up | collect | crop | split | embed | train → publish |\n\
         |---|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in &rows {
        let p = photos as f64;
        let [collect, crop, split, embed, rest] = r.steps;
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {collect:.1} | {crop:.1} | {split:.1} | {embed:.1} | {rest:.1} |",
            r.shards,
            r.wall,
            1000.0 * r.wall / p,
            r.cpu,
            1000.0 * r.cpu / p,
            base / r.wall
        );
    }
    // Projection: the sharded stages' CPU time spread over NODES nodes of this machine's
    // cores; the single jobs (split, train → publish) as measured with one shard.
    let one = &rows[0];
    let serial = one.steps[2] + one.steps[4];
    let sharded_cpu_per_photo = (one.cpu - serial.min(one.cpu)) / photos as f64;
    let per_node_photos = |total: f64| total / NODES;
    println!(
        "\nProjection (not a measurement), {NODES:.0} nodes of {cores} cores, photos split evenly: \
         sharded stages ≈ {:.1} CPU ms/photo (one-shard run, less its single jobs' wall time); \
         single jobs ≈ {serial:.1} s for {photos} photos. 1,000,000 photos: ≈ {:.0} s of sharded \
         stages per node, plus the single jobs, which grow with the photo count (split, train).",
        1000.0 * sharded_cpu_per_photo,
        per_node_photos(1e6) * sharded_cpu_per_photo / cores as f64,
    );
    Ok(())
}
