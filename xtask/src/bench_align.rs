//! `cargo xtask bench align`: the two chip alignments (`dlib`, `faceapi`) compared with the
//! recognition net on lfw5's validation split (`kao split --seed 42` on each crop): over all
//! pairs of validation chips, the mean descriptor distance of same-person and
//! different-person pairs, their separation d′, and the share of pairs on the right side of
//! face-api's 0.6 threshold. Both alignments reach top-1 1.000 on this split, so the
//! classifier cannot tell them apart; the descriptors can.

use std::sync::Arc;

use anyhow::Context;
use kao_dataset::{read_current_chips, WorkDir};
use kao_facecrop::{crop_tree, Alignment, CropConfig, Cropper, FaceNets};
use kao_infer::Embedder;
use kao_split::{split_chips, SplitOptions};

/// face-api's default match threshold on descriptor distance.
const MATCH_DISTANCE: f32 = 0.6;

pub fn run() -> anyhow::Result<()> {
    let lfw5 = crate::datasets::dataset("lfw5")?;
    let nets = Arc::new(FaceNets::load(&candle_core::Device::Cpu)?);
    let embedder = Embedder::load_default()?;
    println!("| alignment | validation chips | same person, mean | different people, mean | d′ | pairs right at {MATCH_DISTANCE} |");
    println!("|---|---|---|---|---|---|");
    for (name, alignment) in [("dlib", Alignment::Dlib), ("faceapi", Alignment::FaceApi)] {
        let dir = tempfile::tempdir()?;
        let work = WorkDir::new(dir.path());
        let config = CropConfig {
            alignment,
            ..CropConfig::default()
        };
        let settings = config.settings_hash();
        let cropper = Cropper::new(Arc::clone(&nets), config);
        crop_tree(
            &work,
            &lfw5,
            &cropper,
            &kao_image::Limits::default(),
            &|| {},
        )
        .with_context(|| format!("cropping {}", lfw5.display()))?;
        let chips = read_current_chips(&work, Some(&settings))?;
        let options = SplitOptions {
            seed: 42,
            ..SplitOptions::default()
        };
        let val = split_chips(&chips, &options)?.splits.val;
        let images = val
            .iter()
            .map(|c| Ok(image::open(work.faces().join(c))?.to_rgb8()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let tags: Vec<&str> = val
            .iter()
            .map(|c| c.split('/').next().unwrap_or(""))
            .collect();
        let descriptors = embedder.embed(&images)?;
        let (same, different) = pair_distances(&descriptors, &tags);
        let (ms, md) = (mean(&same), mean(&different));
        let d_prime = (md - ms) / ((variance(&same, ms) + variance(&different, md)) / 2.0).sqrt();
        let right = same.iter().filter(|&&d| d < MATCH_DISTANCE).count()
            + different.iter().filter(|&&d| d >= MATCH_DISTANCE).count();
        println!(
            "| {name} | {} | {ms:.3} | {md:.3} | {d_prime:.2} | {:.2} % |",
            val.len(),
            100.0 * right as f64 / (same.len() + different.len()) as f64
        );
    }
    Ok(())
}

/// Euclidean distances of every pair, split into same-tag and different-tag pairs.
fn pair_distances(descriptors: &[Vec<f32>], tags: &[&str]) -> (Vec<f32>, Vec<f32>) {
    let (mut same, mut different) = (Vec::new(), Vec::new());
    for i in 0..descriptors.len() {
        for j in i + 1..descriptors.len() {
            let d = descriptors[i]
                .iter()
                .zip(&descriptors[j])
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f32>()
                .sqrt();
            if tags[i] == tags[j] {
                same.push(d);
            } else {
                different.push(d);
            }
        }
    }
    (same, different)
}

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len().max(1) as f32
}

fn variance(v: &[f32], mean: f32) -> f32 {
    v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / v.len().max(1) as f32
}
