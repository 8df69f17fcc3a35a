//! `cargo xtask bench serve`: 2,000 predictions of a 250×250 LFW photo at concurrency 16
//! against the real server on loopback (after 50 sent one at a time, for the latency of a
//! request on its own); p50/p99 latency, requests/s, errors, and resident
//! memory after the first 100 requests and after the run.
//!
//! `$KAO_BENCH_SERVE_PHOTO` picks another lfw5 photo (`Person/Person_NNNN.jpg`).
//! The work dir is `$KAO_BENCH_SERVE_WORK` when set (it must have a published iteration),
//! else one prepared once under `target/bench-serve/` from three LFW people (the same
//! library calls as `kao crop`, `kao split`, `kao train`, `kao publish`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use kao_dataset::{read_current_chips, WorkDir};
use kao_serve::{ServeConfig, Server};

use crate::usage::cpu_seconds;

const REQUESTS: usize = 2_000;
const CONCURRENCY: usize = 16;
/// Requests sent one after another before the load test.
const ALONE: usize = 50;
const FIRST: usize = 100;
const KEY: &str = "bench-key";
const PUBLISHED: &str = "bench";
const PEOPLE: [&str; 3] = ["Colin_Powell", "Donald_Rumsfeld", "Tony_Blair"];

pub fn run() -> anyhow::Result<()> {
    let lfw5 = crate::datasets::dataset("lfw5")?;
    let work = match std::env::var_os("KAO_BENCH_SERVE_WORK") {
        Some(w) => PathBuf::from(w),
        None => prepare(&lfw5)?,
    };
    // The photo is the variable that matters most: one the tiny detector finds costs one
    // detector pass, one it misses also runs the SSD fallback (docs/crop.md).
    let photo = std::env::var("KAO_BENCH_SERVE_PHOTO")
        .unwrap_or_else(|_| "Colin_Powell/Colin_Powell_0030.jpg".into());
    let photo_path = lfw5.join(photo);
    let photo = std::fs::read(&photo_path)
        .with_context(|| format!("cannot read {}", photo_path.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(bench(&work, photo))
}

pub(crate) fn prepare(lfw5: &Path) -> anyhow::Result<PathBuf> {
    let root = PathBuf::from("target/bench-serve");
    let work_path = root.join("work");
    let work = WorkDir::new(&work_path);
    if kao_infer::read_published(&work)
        .map(|p| p.iter().any(|p| p.name == PUBLISHED))
        .unwrap_or(false)
    {
        return Ok(work_path);
    }
    eprintln!(
        "preparing {} (crop, split, train, publish)…",
        work_path.display()
    );
    let photos = root.join("photos");
    for person in PEOPLE {
        let dir = photos.join(person);
        std::fs::create_dir_all(&dir)?;
        for n in 1..=15 {
            let name = format!("{person}_{n:04}.jpg");
            std::fs::copy(lfw5.join(person).join(&name), dir.join(&name))
                .with_context(|| format!("cannot copy {name}"))?;
        }
    }
    let nets = kao_facecrop::FaceNets::load(&candle_core::Device::Cpu)?;
    let cropper = kao_facecrop::Cropper::new(Arc::new(nets), kao_facecrop::CropConfig::default());
    kao_facecrop::crop_tree(
        &work,
        &photos,
        &cropper,
        &kao_image::Limits::default(),
        &|| {},
    )?;
    let chips = read_current_chips(&work, Some(&cropper.config().settings_hash()))?;
    let split = kao_split::split_chips(&chips, &kao_split::SplitOptions::default())?;
    split.splits.write(&work.splits())?;
    let config = kao_train::TrainConfig {
        augmentations: 0,
        ..kao_train::TrainConfig::default()
    };
    let out = kao_train::train(&work, &config, &mut |_| {})?;
    kao_infer::publish(&work, out.iteration, PUBLISHED)?;
    Ok(work_path)
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn fire(
    http: &reqwest::Client,
    url: &str,
    photo: &[u8],
    count: usize,
    concurrency: usize,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, photo, next) = (
            http.clone(),
            url.to_string(),
            photo.to_vec(),
            Arc::clone(&next),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let start = Instant::now();
                let ok = match http
                    .post(&url)
                    .header("Prediction-Key", KEY)
                    .header("Content-Type", "application/octet-stream")
                    .body(photo.clone())
                    .send()
                    .await
                {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                latencies.push(start.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    Ok((all, errors))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

async fn bench(work: &Path, photo: Vec<u8>) -> anyhow::Result<()> {
    let mut config = ServeConfig::new(work);
    config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    config.keys = vec![KEY.into()];
    let concurrency = config.concurrency;
    let server = Server::bind(config).await?;
    let url = server.prediction_url(PUBLISHED);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()?;

    // One request at a time first: the latency a lone client sees, no queueing.
    // CPU time is the whole process's: the server and this load generator.
    let cpu = cpu_seconds();
    let (mut alone, alone_errors) = fire(&http, &url, &photo, ALONE, 1).await?;
    let alone_cpu = (cpu_seconds() - cpu) / ALONE as f64;
    alone.sort();
    let (first, first_errors) = fire(&http, &url, &photo, FIRST, CONCURRENCY).await?;
    let rss_first = rss_kib();
    let (start, cpu) = (Instant::now(), cpu_seconds());
    let (rest, rest_errors) = fire(&http, &url, &photo, REQUESTS - FIRST, CONCURRENCY).await?;
    let wall = start.elapsed().as_secs_f64();
    let load_cpu = (cpu_seconds() - cpu) / (REQUESTS - FIRST) as f64;
    let rss_end = rss_kib();

    let _ = tx.send(());
    handle.await??;

    let mut all: Vec<Duration> = first.into_iter().chain(rest.iter().copied()).collect();
    all.sort();
    let errors = first_errors + rest_errors;
    let rps = (REQUESTS - FIRST) as f64 / wall;
    println!(
        "serve: {} requests, concurrency {CONCURRENCY}, {concurrency} inference slots, 250x250 JPEG of {} bytes",
        all.len(),
        photo.len()
    );
    println!(
        "alone         {ALONE} sequential requests: p50 {:.1} ms  p90 {:.1} ms  CPU {:.1} ms a request  ({alone_errors} errors)",
        percentile(&alone, 0.5),
        percentile(&alone, 0.9),
        alone_cpu * 1e3
    );
    println!("errors        {errors}");
    println!(
        "latency ms    p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        percentile(&all, 0.5),
        percentile(&all, 0.9),
        percentile(&all, 0.99),
        percentile(&all, 1.0)
    );
    println!(
        "throughput    {rps:.1} requests/s (after the first {FIRST}); CPU {:.1} ms a request, {:.1} requests per CPU-second",
        load_cpu * 1e3,
        1.0 / load_cpu
    );
    if let (Some(a), Some(b)) = (rss_first, rss_end) {
        println!(
            "resident      {:.1} MiB after {FIRST}, {:.1} MiB after {REQUESTS} ({:+.1}%)",
            a as f64 / 1024.0,
            b as f64 / 1024.0,
            (b as f64 / a as f64 - 1.0) * 100.0
        );
    }
    if errors > 0 {
        bail!("{errors} requests failed");
    }
    Ok(())
}
