//! `cargo xtask bench augment`: augmentations per second on 150×150 chips, and how much of
//! each augmented chip is fill rather than real pixels, bare chip versus source context.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use kao_augment::{augment_context, fill_fraction, sample, Context, Draw, Preset, RgbImage};
use rayon::prelude::*;

const CHIP: u32 = 150;
/// The central 150×150 of a 250×250 LFW photo, where LFW's face sits.
const CENTRE: [f32; 6] = [1.0, 0.0, 50.0, 0.0, 1.0, 50.0];
const PHOTOS: usize = 64;
const PER_PHOTO: u32 = 64;

pub fn run() -> anyhow::Result<()> {
    let photos = load_photos()?;
    let threads = rayon::current_num_threads();
    println!(
        "{} LFW photos × {PER_PHOTO} augmentations, 150×150 output, {threads} threads\n",
        photos.len()
    );
    println!("| preset | sampled from | fill pixels (mean) | chips with any fill | aug/s, 1 thread | aug per CPU-second | aug/s, {threads} threads |");
    println!("|---|---|---|---|---|---|---|");
    for preset in [Preset::Faces, Preset::Keras] {
        let params = preset.params();
        let draws: Vec<(usize, Draw)> = (0..photos.len())
            .flat_map(|i| (0..PER_PHOTO).map(move |k| (i, k)))
            .map(|(i, k)| (i, sample(&params, 1, &format!("lfw/{i}"), k)))
            .collect();
        for source in [false, true] {
            let contexts: Vec<Context> = photos
                .iter()
                .map(|p| {
                    if source {
                        Context::from_source(p, CENTRE, CHIP)
                    } else {
                        Context::from_chip(augment_context(
                            &Context::from_source(p, CENTRE, CHIP),
                            &Draw::IDENTITY,
                        ))
                    }
                })
                .collect();
            let fills: Vec<f64> = draws
                .iter()
                .map(|(i, d)| {
                    let c = &contexts[*i];
                    fill_fraction(c.image.width(), c.image.height(), c.chip_to_image, CHIP, d)
                })
                .collect();
            let mean_fill = fills.iter().sum::<f64>() / fills.len() as f64;
            let any_fill = fills.iter().filter(|&&f| f > 0.0).count() as f64 / fills.len() as f64;

            let cpu0 = cpu_seconds();
            let one = time(|| {
                draws
                    .iter()
                    .map(|(i, d)| checksum(&augment_context(&contexts[*i], d)))
                    .sum()
            });
            let cpu = (cpu_seconds() - cpu0) / 3.0;
            let all = time(|| {
                draws
                    .par_iter()
                    .map(|(i, d)| checksum(&augment_context(&contexts[*i], d)))
                    .sum()
            });
            let n = draws.len() as f64;
            println!(
                "| {} | {} | {:.1} % | {:.0} % | {:.0} | {:.0} | {:.0} |",
                preset.name(),
                if source {
                    "source photo (context)"
                } else {
                    "bare chip"
                },
                100.0 * mean_fill,
                100.0 * any_fill,
                n / one,
                n / cpu.max(1e-9),
                n / all,
            );
        }
    }
    Ok(())
}

/// Best of three wall-clock runs, in seconds; the checksum keeps the work from being optimised away.
fn time(f: impl Fn() -> u64) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// CPU time of this process (user + system), from /proc: on a shared machine it counts the
/// work done, not the time spent waiting for a core. NaN where /proc is missing.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok());
    // Clock ticks of 1/100 s (USER_HZ on Linux).
    tick(11)
        .zip(tick(12))
        .map_or(f64::NAN, |(u, s)| (u + s) / 100.0)
}

fn checksum(img: &RgbImage) -> u64 {
    let raw = std::hint::black_box(img.as_raw());
    u64::from(raw[raw.len() / 2])
}

fn load_photos() -> anyhow::Result<Vec<RgbImage>> {
    let dir = crate::datasets::dataset("lfw5")?.join("George_W_Bush");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {} (set KAO_SHARED)", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files
        .iter()
        .take(PHOTOS)
        .map(|f| {
            kao_image::load(f, &kao_image::Limits::default())
                .map(|d| d.image)
                .with_context(|| format!("cannot read {}", f.display()))
        })
        .collect()
}
