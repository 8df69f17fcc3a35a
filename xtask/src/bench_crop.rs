//! `cargo xtask bench crop`: the crop stage on `$KAO_SHARED/datasets/lfw5` into an empty work
//! dir (decode + detect + landmarks + align + write, default settings), then the descriptors
//! of every chip, as photos per second; the tiny-only and SSD-only settings in the same
//! command for comparison.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use kao_dataset::{read_current_chips, WorkDir};
use kao_facecrop::{crop_tree, CropConfig, Cropper, DetectorKind, FaceNets};
use kao_infer::Embedder;

struct Run {
    name: &'static str,
    photos: usize,
    chips: usize,
    crop_s: f64,
    describe_s: f64,
}

pub fn run() -> anyhow::Result<()> {
    let lfw5 = crate::datasets::dataset("lfw5")?;
    let nets = Arc::new(FaceNets::load(&candle_core::Device::Cpu)?);
    let embedder = Embedder::load_default()?;
    let default = CropConfig::default();
    let settings = [
        ("default (tiny → ssd)", default.clone()),
        (
            "tiny only",
            CropConfig {
                detector: DetectorKind::Tiny,
                fallback: None,
                ..default.clone()
            },
        ),
        (
            "ssd only",
            CropConfig {
                detector: DetectorKind::Ssd,
                fallback: None,
                ..default
            },
        ),
    ];
    let mut runs = Vec::new();
    for (name, config) in settings {
        let dir = tempfile::tempdir()?;
        let work = WorkDir::new(dir.path());
        let cropper = Cropper::new(Arc::clone(&nets), config);
        eprintln!("--- {name}");
        let t = Instant::now();
        let summary = crop_tree(
            &work,
            &lfw5,
            &cropper,
            &kao_image::Limits::default(),
            &|| {},
        )
        .with_context(|| format!("cropping {}", lfw5.display()))?;
        let crop_s = t.elapsed().as_secs_f64();
        let chips: Vec<image::RgbImage> =
            read_current_chips(&work, Some(&cropper.config().settings_hash()))?
                .into_iter()
                .filter_map(|c| {
                    image::open(work.faces().join(&c.chip))
                        .ok()
                        .map(|i| i.to_rgb8())
                })
                .collect();
        let t = Instant::now();
        for batch in chips.chunks(16) {
            embedder.embed(batch)?;
        }
        let describe_s = t.elapsed().as_secs_f64();
        runs.push(Run {
            name,
            photos: summary.photos(),
            chips: summary.chips(),
            crop_s,
            describe_s,
        });
    }
    println!("| settings | photos | chips | crop s | photos/s (crop) | + descriptors s | photos/s (crop + descriptors) |");
    println!("|---|---|---|---|---|---|---|");
    for r in &runs {
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            r.name,
            r.photos,
            r.chips,
            r.crop_s,
            r.photos as f64 / r.crop_s,
            r.describe_s,
            r.photos as f64 / (r.crop_s + r.describe_s)
        );
    }
    Ok(())
}
