//! `cargo xtask bench train`: descriptor throughput and head training time on lfw5.
//!
//! The work dir (`$KAO_BENCH_WORK`, default `work/lfw5`) is prepared on first run as
//! `kao crop` and `kao split --seed 42` would (default crop settings, 3:1:1).

use std::time::Instant;

use anyhow::Context;
use kao_dataset::{SplitPart, WorkDir};
use kao_infer::{Embedder, EmbeddingInfo, HeadKind, DIMENSION};
use kao_train::{describe_split, fit_head, Dataset, TrainConfig};

/// Crops `$KAO_SHARED/datasets/<dataset>` and splits it with seed 42, unless already done.
pub fn prepare(work: &WorkDir, dataset: &str) -> anyhow::Result<()> {
    if work.splits().exists() {
        return Ok(());
    }
    let source = crate::datasets::dataset(dataset)?;
    let nets = kao_facecrop::FaceNets::load(&candle_core::Device::Cpu)?;
    let cropper = kao_facecrop::Cropper::new(std::sync::Arc::new(nets), Default::default());
    let start = Instant::now();
    let summary = kao_facecrop::crop_tree(
        work,
        &source,
        &cropper,
        &kao_image::Limits::default(),
        &|| {},
    )
    .with_context(|| format!("cannot crop {}", source.display()))?;
    println!(
        "cropped {} in {:.1} s: {summary:?}",
        source.display(),
        start.elapsed().as_secs_f64()
    );
    let chips = kao_dataset::read_current_chips(work, Some(&cropper.config().settings_hash()))?;
    let options = kao_split::SplitOptions {
        seed: 42,
        ratios: [3, 1, 1],
        near_distance: kao_image::NEAR_DUPLICATE_DISTANCE,
    };
    kao_split::split_chips(&chips, &options)?
        .splits
        .write(&work.splits())?;
    Ok(())
}

pub fn run() -> anyhow::Result<()> {
    let root = std::env::var_os("KAO_BENCH_WORK").unwrap_or_else(|| "work/lfw5".into());
    let work = WorkDir::new(&root);
    prepare(&work, "lfw5")?;
    let data = Dataset::load(&work).with_context(|| {
        format!(
            "{}: needs faces/ and splits.json (kao crop, kao split) — set KAO_BENCH_WORK",
            work.root().display()
        )
    })?;
    let embedder = Embedder::load_default()?;

    // Throughput: the network on real chips, cache bypassed.
    let items = data.items(SplitPart::Train);
    let chips: Vec<_> = items
        .iter()
        .take(64)
        .map(|(c, _)| {
            let path = work.faces().join(&c.chip);
            image::open(&path)
                .with_context(|| format!("cannot read {}", path.display()))
                .map(|i| i.to_rgb8())
        })
        .collect::<anyhow::Result<_>>()?;
    embedder.embed(&chips[..4.min(chips.len())])?; // warm-up
    for batch in [1usize, 16] {
        let start = Instant::now();
        for c in chips.chunks(batch) {
            embedder.embed(c)?;
        }
        let s = start.elapsed().as_secs_f64();
        println!(
            "descriptors: {} chips, batch {batch}: {:.1} faces/s ({:.1} ms/face, {} rayon threads)",
            chips.len(),
            chips.len() as f64 / s,
            s * 1000.0 / chips.len() as f64,
            rayon::current_num_threads()
        );
    }

    // Training with a warm cache: what `kao train` costs once descriptors exist.
    let config = TrainConfig::default();
    let start = Instant::now();
    let described = describe_split(&work, &data, &embedder, &config, &mut |_| {})?;
    println!(
        "descriptors from cache: {} train + {} augmented + {} val + {} test in {:.2} s ({} computed)",
        described.train.samples.len(),
        described.augmented.len(),
        described.val.samples.len(),
        described.test.samples.len(),
        start.elapsed().as_secs_f64(),
        described.computed
    );
    let tag_ids = kao_infer::tag_ids(&work, &data.tags)?;
    let info = EmbeddingInfo {
        id: embedder.id().into(),
        sha256: embedder.sha256().into(),
        dimension: DIMENSION,
    };
    for head in HeadKind::ALL {
        let config = TrainConfig {
            head,
            ..TrainConfig::default()
        };
        let start = Instant::now();
        let f = fit_head(&data, &described, info.clone(), &tag_ids, &config, 0)?;
        println!(
            "head {:<8} fit {:.3} s ({} steps), calibrate {:.3} s, total {:.3} s",
            head.name(),
            f.fit_s,
            f.fit.steps,
            f.calibrate_s,
            start.elapsed().as_secs_f64()
        );
    }

    // Accuracy of each head through the same calls as `kao train` and `kao eval`.
    let multiface = crate::datasets::dataset("multiface")?;
    for head in HeadKind::ALL {
        let config = TrainConfig {
            head,
            ..TrainConfig::default()
        };
        let out = kao_train::train(&work, &config, &mut |_| {})?;
        let m = &out.metrics;
        println!(
            "head {:<8} iteration {}: val top1 {:.4} mAP {:.4} | test top1 {:.4} P {:.4} R {:.4} mAP {:.4} | rule p<{} or d>{:.3} | fit {:.3} s",
            head.name(),
            out.iteration,
            m.validation.metrics.top1,
            m.validation.metrics.average_precision,
            m.test.metrics.top1,
            m.test.metrics.precision,
            m.test.metrics.recall,
            m.test.metrics.average_precision,
            m.unknown_rule.min_probability,
            m.unknown_rule.max_distance,
            m.timings.fit_s
        );
        let options = kao_train::EvalOptions {
            iteration: Some(out.iteration),
            unknown: Some(multiface.clone()),
            ..Default::default()
        };
        let (e, _) = kao_train::evaluate(&work, &options, &mut |_| {})?;
        if let Some(u) = &e.unknown {
            println!(
                "head {:<8} unknown (multiface): {} faces, rejected {:.4}; known test faces rejected {:.4}",
                head.name(),
                u.faces,
                u.rejected,
                u.false_rejected
            );
        }
    }
    Ok(())
}
