//! `cargo xtask bench export-web`: Kao's exported page against the reference JavaScript
//! implementation, in the same headless Chromium and run, on the same held-back lfw5
//! photos: face-api 1.7.15 (the package Kao's weights come from) on TensorFlow.js's
//! WebAssembly backend, doing detection (tiny detector at the input Kao fits to these
//! photos) + 68 landmarks + descriptors for every face. Both take decoded <img> elements,
//! one photo at a time, after a warm-up; each photo goes through both, one right after the
//! other (which goes first alternates), so the shared machine's load falls on both alike.
//! Also the download sizes: Kao's page against
//! face-api's bundle, its wasm binary and the weights of the same networks.
//!
//! face-api is installed from npm into `xtask/bench-web/` (`npm ci`, pinned by its
//! `package-lock.json`) on first use. `$KAO_BENCH_WEB_PHOTOS` sets the photo count (90).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context};
use kao_dataset::WorkDir;
use kao_export::{ExportRequest, Platform, Selection};
use kao_harness::StaticServer;
use kao_webdriver::{Browser, Options};
use serde_json::{json, Value};

const PEOPLE: [&str; 3] = ["Colin_Powell", "Donald_Rumsfeld", "Tony_Blair"];
const WARMUP: usize = 3;
/// The tiny detector's input for 250×250 LFW photos: Kao fits it to the photo (the
/// smallest multiple of 32 covering the longest side), and face-api is given the same.
const TINY_INPUT: u32 = 256;

pub fn run() -> anyhow::Result<()> {
    let lfw5 = crate::datasets::dataset("lfw5")?;
    let count: usize = std::env::var("KAO_BENCH_WEB_PHOTOS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(90);
    let root = kao_harness::workspace_root();
    let bench_dir = root.join("xtask/bench-web");
    if !bench_dir.join("node_modules/@vladmandic/face-api").is_dir() {
        eprintln!("installing face-api from npm into {}…", bench_dir.display());
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&bench_dir)
            .status()
            .context("cannot run npm (apt-get install npm)")?;
        ensure!(status.success(), "npm ci failed in {}", bench_dir.display());
    }
    eprintln!("building the browser runtime…");
    let runtime = kao_harness::build_web_runtime()?;
    let work = crate::bench_serve::prepare(&lfw5)?;
    let out = root.join("target/bench-export-web/page");
    let summary = kao_export::export(
        &WorkDir::new(&work),
        &ExportRequest {
            platform: Platform::Web,
            selection: Selection::Published("bench".into()),
            out: out.clone(),
            networks: kao_models::ModelFiles::default_dir(),
            web_runtime: Some(runtime),
            binary: None,
            zip: false,
            iteration_id: None,
        },
    )?;
    // Held-back photos: the bench iteration trained on the first 15 of each person.
    let photos: Vec<String> = (16..)
        .flat_map(|n| PEOPLE.map(|p| format!("/photos/{p}/{p}_{n:04}.jpg")))
        .filter(|url| lfw5.join(url.trim_start_matches("/photos/")).is_file())
        .take(count)
        .collect();
    let models = kao_models::default_model_dir();
    let sizes = Sizes::measure(&summary, &bench_dir, &models)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let timings = runtime.block_on(drive(&out, &bench_dir, &models, &lfw5, &photos))?;
    report(&timings, &sizes, photos.len());
    Ok(())
}

struct Timings {
    load: Value,
    passes: Vec<Pass>,
}

/// One pass over the photos: one build of Kao's module, and face-api beside it.
struct Pass {
    wasm: String,
    kao: Vec<f64>,
    kao_faces: u64,
    faceapi: Vec<f64>,
    faceapi_faces: u64,
}

async fn drive(
    page: &Path,
    bench: &Path,
    models: &Path,
    lfw5: &Path,
    photos: &[String],
) -> anyhow::Result<Timings> {
    ensure!(
        kao_webdriver::available(),
        "needs Debian's chromium and chromium-driver"
    );
    let server = StaticServer::start(&[
        ("/page/", page),
        ("/bench/", bench),
        ("/models/", models),
        ("/photos/", lfw5),
    ])
    .await?;
    let browser = Browser::start_with(&Options {
        width: 1280,
        height: 900,
        only_origin: Some(server.addr().to_string()),
        ..Options::default()
    })
    .await;
    browser.open(&server.url("/bench/bench.html")).await;
    browser
        .wait_for("body[data-ready]", Duration::from_secs(60))
        .await;
    let load = browser
        .script("return window.bench.load()", json!([]))
        .await;
    eprintln!("loaded: {load}");
    // The build this Chromium loads (relaxed SIMD), then the SIMD128 build other
    // browsers load, each pass against face-api again.
    let mut passes = Vec::new();
    for relaxed in [true, false] {
        let both = browser
            .script(
                "return window.bench.both(arguments[0], arguments[1], arguments[2], arguments[3])",
                json!([photos, WARMUP, TINY_INPUT, relaxed]),
            )
            .await;
        let ms = |v: &Value| -> Vec<f64> {
            v["ms"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default()
        };
        let (kao, faceapi) = (&both["kao"], &both["faceapi"]);
        passes.push(Pass {
            wasm: both["wasm"].as_str().unwrap_or("?").to_string(),
            kao: ms(kao),
            kao_faces: kao["faces"].as_u64().unwrap_or(0),
            faceapi: ms(faceapi),
            faceapi_faces: faceapi["faces"].as_u64().unwrap_or(0),
        });
    }
    browser.quit().await;
    Ok(Timings { load, passes })
}

struct Sizes {
    /// The relaxed-SIMD build (what engines with relaxed SIMD download).
    kao_wasm: u64,
    /// The SIMD128 build (what the others download instead).
    kao_wasm_simd128: u64,
    /// The SIMD128 build's module and glue, which an engine with relaxed SIMD never fetches.
    kao_unfetched: u64,
    kao_js: u64,
    kao_model: u64,
    kao_total: u64,
    faceapi_js: u64,
    faceapi_wasm: u64,
    faceapi_weights: u64,
}

impl Sizes {
    fn measure(
        summary: &kao_export::ExportSummary,
        bench: &Path,
        models: &Path,
    ) -> anyhow::Result<Sizes> {
        let size = |rel: &str| {
            summary
                .files
                .iter()
                .find(|(f, _)| f == rel)
                .map_or(0, |(_, n)| *n)
        };
        let file = |p: PathBuf| -> anyhow::Result<u64> {
            Ok(std::fs::metadata(&p)
                .with_context(|| format!("cannot read {}", p.display()))?
                .len())
        };
        // face-api's weights for the same networks Kao's page downloads.
        let mut faceapi_weights = 0;
        for (f, _) in summary
            .files
            .iter()
            .filter(|(f, _)| f.starts_with("model/"))
        {
            let name = f.trim_start_matches("model/");
            if name.ends_with(".bin") || name.ends_with("weights_manifest.json") {
                faceapi_weights += file(models.join(name))?;
            }
        }
        let dist = bench.join("node_modules");
        Ok(Sizes {
            kao_wasm: size("kao_web_relaxed_bg.wasm"),
            kao_wasm_simd128: size("kao_web_bg.wasm"),
            kao_unfetched: size("kao_web_bg.wasm") + size("kao_web.js"),
            kao_js: size("kao.js") + size("kao_web_relaxed.js") + size("page.js"),
            kao_model: summary
                .files
                .iter()
                .filter(|(f, _)| f.starts_with("model/"))
                .map(|(_, n)| n)
                .sum(),
            kao_total: summary.total_bytes(),
            faceapi_js: file(dist.join("@vladmandic/face-api/dist/face-api.esm.js"))?,
            faceapi_wasm: file(
                dist.join("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm"),
            )?,
            faceapi_weights,
        })
    }
}

fn stats(ms: &[f64]) -> (f64, f64) {
    let mut sorted = ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mean = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    (mean, median)
}

fn report(t: &Timings, s: &Sizes, photos: usize) {
    println!(
        "{photos} held-back lfw5 photos, one at a time, each through both in turn, after \
         {WARMUP} warm-up photos; one pass per build of Kao's module"
    );
    println!(
        "face-api backend: {} (tfjs {})",
        t.load["backend"], t.load["tfjs"]
    );
    println!("| pass | | per photo, mean | median | faces | load |");
    println!("|---|---|---|---|---|---|");
    for (i, p) in t.passes.iter().enumerate() {
        let (kao_mean, kao_median) = stats(&p.kao);
        let (fa_mean, fa_median) = stats(&p.faceapi);
        let (kao_load, fa_load) = if i == 0 {
            (
                format!("{:.0} ms", t.load["kaoLoad"].as_f64().unwrap_or(0.0)),
                format!("{:.0} ms", t.load["faceapiLoad"].as_f64().unwrap_or(0.0)),
            )
        } else {
            (String::new(), String::new())
        };
        println!(
            "| {} | Kao page ({}) | {kao_mean:.1} ms | {kao_median:.1} ms | {} | {kao_load} |",
            i + 1,
            p.wasm,
            p.kao_faces
        );
        println!(
            "| {} | face-api 1.7.15, tfjs wasm | {fa_mean:.1} ms | {fa_median:.1} ms | {} | {fa_load} |",
            i + 1,
            p.faceapi_faces
        );
        println!(
            "pass {}: Kao ({}) is {:.2}x faster per photo (mean), {:.2}x (median); goal 2x",
            i + 1,
            p.wasm,
            fa_mean / kao_mean,
            fa_median / kao_median
        );
    }
    let mb = |n: u64| n as f64 / 1e6;
    println!("| download | Kao page | face-api |");
    println!("|---|---|---|");
    println!(
        "| code | {:.2} MB wasm ({:.2} MB for engines without relaxed SIMD) + {:.2} MB JS | \
         {:.2} MB wasm + {:.2} MB JS |",
        mb(s.kao_wasm),
        mb(s.kao_wasm_simd128),
        mb(s.kao_js),
        mb(s.faceapi_wasm),
        mb(s.faceapi_js)
    );
    println!(
        "| weights | {:.2} MB (with the head) | {:.2} MB (same networks) |",
        mb(s.kao_model),
        mb(s.faceapi_weights)
    );
    let faceapi_total = s.faceapi_js + s.faceapi_wasm + s.faceapi_weights;
    // Everything in the folder but the build this browser did not fetch (README included).
    let kao_download = s.kao_total - s.kao_unfetched;
    println!(
        "| total | {:.2} MB (the folder, with both builds: {:.2} MB) | {:.2} MB |",
        mb(kao_download),
        mb(s.kao_total),
        mb(faceapi_total)
    );
}
