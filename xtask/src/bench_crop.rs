//! `cargo xtask bench crop`: the crop stage on `$KAO_SHARED/datasets/lfw5` into an empty work
//! dir in one pass (decode + detect + landmarks + align + write the chip + its descriptor
//! into the embedding cache, default settings), as photos per second; then the same without
//! descriptors, followed by the descriptors of the chips read back from disk (the two-pass
//! way), and tiny only (no SSD fallback), all in the same command. The in-run matmul
//! ceiling puts the arithmetic rate in proportion. (SSD alone is `bench models`' business:
//! as a crop setting it takes minutes on lfw5.)

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use kao_dataset::{chip_key, read_current_chips, EmbeddingCache, WorkDir};
use kao_facecrop::{crop_tree, ChipDescriber, CropConfig, Cropper, DetectorKind, FaceNets};
use kao_infer::Embedder;

use crate::usage::cpu_seconds;

/// Work per photo: the tiny detector at 256 (LFW's 250×250 photos) and the 68-point
/// landmark net, then the recognition net per chip.
const GFLOP_CROP: f64 = 0.15 + 0.10;
const GFLOP_DESCRIBE: f64 = 0.54;

struct Run {
    name: &'static str,
    photos: usize,
    chips: usize,
    /// Chips whose descriptor is in the embedding cache after the run.
    cached: usize,
    seconds: f64,
    cpu_seconds: f64,
    /// Arithmetic per photo.
    gflop: f64,
}

pub fn run() -> anyhow::Result<()> {
    let lfw5 = crate::datasets::dataset("lfw5")?;
    let threads = rayon::current_num_threads();
    let ceiling = crate::bench_models::Rate::matmul(&candle_core::Device::Cpu)?;
    let nets = Arc::new(FaceNets::load(&candle_core::Device::Cpu)?);
    let embedder = Arc::new(Embedder::load_default()?);
    let default = CropConfig::default();
    let tiny = CropConfig {
        detector: DetectorKind::Tiny,
        fallback: None,
        ..default.clone()
    };
    let mut runs = Vec::new();
    let one_pass = |name: &'static str,
                    config: CropConfig,
                    describe: bool,
                    gflop: f64|
     -> anyhow::Result<(Run, tempfile::TempDir)> {
        let dir = tempfile::tempdir()?;
        let work = WorkDir::new(dir.path());
        let mut cropper = Cropper::new(Arc::clone(&nets), config);
        if describe {
            cropper = cropper.with_describer(Arc::clone(&embedder) as Arc<dyn ChipDescriber>);
        }
        eprintln!("--- {name}");
        let (t, cpu) = (Instant::now(), cpu_seconds());
        let summary = crop_tree(
            &work,
            &lfw5,
            &cropper,
            &kao_image::Limits::default(),
            &|| {},
        )
        .with_context(|| format!("cropping {}", lfw5.display()))?;
        let run = Run {
            name,
            photos: summary.photos(),
            chips: summary.chips(),
            cached: cached_descriptors(&work, &embedder)?,
            seconds: t.elapsed().as_secs_f64(),
            cpu_seconds: cpu_seconds() - cpu,
            gflop,
        };
        Ok((run, dir))
    };
    let both = GFLOP_CROP + GFLOP_DESCRIBE;
    let (run, _) = one_pass(
        "default, one pass (chips + descriptors)",
        default.clone(),
        true,
        both,
    )?;
    runs.push(run);
    let (chips_only, dir) = one_pass("default, chips only", default, false, GFLOP_CROP)?;
    // The two-pass way: read the chips back and describe them afterwards.
    let work = WorkDir::new(dir.path());
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let chips: Vec<image::RgbImage> = read_current_chips(&work, None)?
        .into_iter()
        .filter_map(|c| {
            image::open(work.faces().join(&c.chip))
                .ok()
                .map(|i| i.to_rgb8())
        })
        .collect();
    for batch in chips.chunks(16) {
        embedder.embed(batch)?;
    }
    let describe = Run {
        name: "then descriptors of the chips read back",
        photos: chips_only.photos,
        chips: chips.len(),
        cached: 0,
        seconds: t.elapsed().as_secs_f64(),
        cpu_seconds: cpu_seconds() - cpu,
        gflop: GFLOP_DESCRIBE * chips.len() as f64 / chips_only.photos as f64,
    };
    runs.push(chips_only);
    runs.push(describe);
    runs.push(one_pass("tiny only, one pass", tiny, true, both)?.0);

    println!(
        "{threads} threads; candle f32 matmul 1024³: {:.1} GFLOP/s, {:.1} per CPU-s (the \
         ceiling); {:.2} GFLOP per photo (tiny detector at 256, landmarks, recognition)\n",
        ceiling.wall,
        ceiling.cpu,
        GFLOP_CROP + GFLOP_DESCRIBE
    );
    println!("| settings | photos | chips | descriptors cached | s | photos/s | CPU s | photos per CPU-s | GFLOP/s (% of matmul) | % of matmul per CPU-s |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in &runs {
        let rate = r.photos as f64 / r.seconds;
        let arithmetic = format!(
            "{:.1} ({:.0}%)",
            rate * r.gflop,
            100.0 * rate * r.gflop / ceiling.wall
        );
        let per_cpu = 100.0 * r.photos as f64 * r.gflop / r.cpu_seconds / ceiling.cpu;
        println!(
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {arithmetic} | {per_cpu:.0}% |",
            r.name,
            r.photos,
            r.chips,
            r.cached,
            r.seconds,
            rate,
            r.cpu_seconds,
            r.photos as f64 / r.cpu_seconds,
        );
    }
    Ok(())
}

/// Chips of the work dir whose descriptor the embedding cache holds under the key the
/// training stage looks up (the SHA-256 of the chip file).
fn cached_descriptors(work: &WorkDir, embedder: &Embedder) -> anyhow::Result<usize> {
    let cache = EmbeddingCache::open(work, embedder.id())?;
    let mut n = 0;
    for c in read_current_chips(work, None)? {
        let png = std::fs::read(work.faces().join(&c.chip))?;
        n += usize::from(cache.contains(&chip_key(&png)));
    }
    Ok(n)
}
