//! `cargo xtask bench unknown`: every head, augmentation count and training-set size
//! against the unknown-face rule, on lfw5 and lfw_dev20, with lfw_strangers as the faces
//! of people who are none of the tags. docs/training.md's tables are this command's
//! output.
//!
//! Work dirs: `$KAO_BENCH_WORK/<dataset>` (default `work/bench-unknown/<dataset>`), cut
//! with the default crop settings and split 3:1:1 with seed 42 on first run. Every
//! setting is chosen on what validation and calibration see; the test split and the
//! strangers are only scored.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use kao_dataset::WorkDir;
use kao_infer::Classifier;
use kao_infer::{Embedder, EmbeddingInfo, HeadKind, Predictor, DIMENSION};
use kao_train::{
    calibrate_with, describe_split, evaluate_with, fit_head, score, scores, Dataset, EvalOptions,
    Evaluation, Rng, TrainConfig, UnknownFaces,
};

const DATASETS: [&str; 2] = ["lfw5", "lfw_dev20"];
const AUGMENTATIONS: [u32; 3] = [0, 2, 8];
/// Training photos kept per tag in the few-photos condition, and how many draws of them.
const FEW: [usize; 2] = [2, 5];
const DRAWS: u64 = 3;
/// Split seeds of the resplit section (seed 42, the tables', is not among them).
const RESPLITS: std::ops::RangeInclusive<u64> = 1..=20;
/// Where the radius may sit in the gap between the calibration populations.
const GAP_SHARES: [f64; 5] = [0.0, 0.25, 1.0 / 3.0, 0.5, 2.0 / 3.0];

/// One configuration's numbers.
#[derive(Default, Clone)]
struct Row {
    val_loss: f64,
    val_top1: f64,
    calibration_unknown: f64,
    test_top1: f64,
    test_map: f64,
    strangers: f64,
    known_rejected: f64,
    radius: f64,
}

impl Row {
    fn new(fit_val_loss: f64, cal_unknown: f64, val: &Evaluation, test: &Evaluation) -> Row {
        Row {
            val_loss: fit_val_loss,
            val_top1: val.metrics.top1,
            calibration_unknown: cal_unknown,
            test_top1: test.metrics.top1,
            test_map: test.metrics.average_precision,
            strangers: test.unknown.as_ref().map_or(f64::NAN, |u| u.rejected),
            known_rejected: test.operating_point.false_rejected,
            radius: test.operating_point.max_distance as f64,
        }
    }

    fn mean(rows: &[Row]) -> Row {
        let n = rows.len().max(1) as f64;
        let avg = |f: fn(&Row) -> f64| rows.iter().map(f).sum::<f64>() / n;
        Row {
            val_loss: avg(|r| r.val_loss),
            val_top1: avg(|r| r.val_top1),
            calibration_unknown: avg(|r| r.calibration_unknown),
            test_top1: avg(|r| r.test_top1),
            test_map: avg(|r| r.test_map),
            strangers: avg(|r| r.strangers),
            known_rejected: avg(|r| r.known_rejected),
            radius: avg(|r| r.radius),
        }
    }

    fn print(&self, label: &str) {
        println!(
            "| {label} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | **{:.4}** | {:.4} | {:.3} |",
            self.val_loss,
            self.val_top1,
            self.calibration_unknown,
            self.test_top1,
            self.test_map,
            self.strangers,
            self.known_rejected,
            self.radius
        );
    }
}

const HEADER: &str = "| val loss | val top-1 | calibration: others rejected | test top-1 | test mean AP | strangers rejected | known test faces rejected | radius |";
const RULE: &str = "|---|---|---|---|---|---|---|---|";

/// The work dir's split with `k` training photos per tag (a seeded draw); validation and
/// test stay whole.
fn few_per_tag(data: &Dataset, k: usize, draw: u64) -> Dataset {
    let mut by_tag: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for id in &data.splits.train {
        by_tag
            .entry(data.chips[id].source.tag.as_str())
            .or_default()
            .push(id.clone());
    }
    let mut rng = Rng::new(draw);
    let mut train = Vec::new();
    for ids in by_tag.values_mut() {
        rng.shuffle(ids);
        train.extend(ids.iter().take(k).cloned());
    }
    train.sort();
    let mut out = data.clone();
    out.splits.train = train;
    out
}

/// Fits `config` on `data` and scores validation, test and the strangers.
fn measure(
    work: &WorkDir,
    data: &Dataset,
    embedder: &Embedder,
    config: &TrainConfig,
    strangers: &UnknownFaces,
) -> anyhow::Result<Row> {
    Ok(fit_and_score(work, data, embedder, config, strangers)?.0)
}

fn fit_and_score(
    work: &WorkDir,
    data: &Dataset,
    embedder: &Embedder,
    config: &TrainConfig,
    strangers: &UnknownFaces,
) -> anyhow::Result<(Row, kao_train::Fitted, kao_train::DescribedSplit)> {
    let described = describe_split(work, data, embedder, config, &mut |_| {})?;
    let tag_ids = kao_infer::tag_ids(work, &data.tags)?;
    let info = EmbeddingInfo {
        id: embedder.id().into(),
        sha256: embedder.sha256().into(),
        dimension: DIMENSION,
    };
    let f = fit_head(data, &described, info, &tag_ids, config, 0)?;
    let threshold = config.threshold as f64;
    let val = score(&f.classifier, "val", &described.val, None, threshold);
    let test = score(
        &f.classifier,
        "test",
        &described.test,
        Some(strangers),
        threshold,
    );
    let row = Row::new(f.fit.val_loss, f.calibration.unknown_rejected, &val, &test);
    Ok((row, f, described))
}

/// The work dir's chips split again with `seed` (3:1:1, near-duplicates together).
fn resplit(data: &Dataset, seed: u64) -> anyhow::Result<Dataset> {
    let mut chips: Vec<_> = data
        .splits
        .train
        .iter()
        .chain(&data.splits.val)
        .chain(&data.splits.test)
        .map(|id| data.chips[id].clone())
        .collect();
    chips.sort_by(|a, b| a.chip.cmp(&b.chip));
    let options = kao_split::SplitOptions {
        seed,
        ratios: [3, 1, 1],
        near_distance: kao_image::NEAR_DUPLICATE_DISTANCE,
    };
    let mut out = data.clone();
    out.splits = kao_split::split_chips(&chips, &options)?.splits;
    Ok(out)
}

/// Sums over resplits: how often both targets were met, and the rates' means.
#[derive(Default)]
struct Tally {
    runs: usize,
    passed: usize,
    known_rejected: f64,
    strangers: f64,
    top1: f64,
    map: f64,
    val_loss: f64,
    calibration_unknown: f64,
}

impl Tally {
    fn add(&mut self, row: &Row, target: f64) {
        self.runs += 1;
        self.passed += usize::from(row.known_rejected <= target && row.strangers >= 0.98);
        self.known_rejected += row.known_rejected;
        self.strangers += row.strangers;
        self.top1 += row.test_top1;
        self.map += row.test_map;
        self.val_loss += row.val_loss;
        self.calibration_unknown += row.calibration_unknown;
    }

    fn cells(&self) -> String {
        let n = self.runs.max(1) as f64;
        format!(
            "{:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {} of {}",
            self.val_loss / n,
            self.calibration_unknown / n,
            self.top1 / n,
            self.map / n,
            self.strangers / n,
            self.known_rejected / n,
            self.passed,
            self.runs
        )
    }
}

/// Every head (no augmentations) and every gap share (the default head) on each resplit.
fn resplits(
    work: &WorkDir,
    data: &Dataset,
    embedder: &Embedder,
    strangers: &UnknownFaces,
) -> anyhow::Result<()> {
    let defaults = TrainConfig {
        augmentations: 0,
        ..TrainConfig::default()
    };
    let target = defaults.unknown_false_reject;
    let mut heads: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut shares: Vec<Tally> = GAP_SHARES.iter().map(|_| Tally::default()).collect();
    for seed in RESPLITS {
        let data = resplit(data, seed)?;
        for head in HeadKind::ALL {
            let config = TrainConfig {
                head,
                ..defaults.clone()
            };
            let (row, fitted, described) =
                fit_and_score(work, &data, embedder, &config, strangers)?;
            heads.entry(head.name()).or_default().add(&row, target);
            if head != defaults.head {
                continue;
            }
            let set = scores(
                &fitted.classifier,
                &described.train,
                &described.val,
                &data.splits.groups,
            );
            for (share, tally) in GAP_SHARES.iter().zip(&mut shares) {
                let (rule, calibration) = calibrate_with(&set, target, *share);
                let mut artifact = fitted.classifier.artifact().clone();
                artifact.unknown = rule;
                let classifier = Classifier::new(
                    artifact,
                    fitted.classifier.head().clone(),
                    fitted.classifier.gallery().clone(),
                )
                .map_err(anyhow::Error::msg)?;
                let threshold = config.threshold as f64;
                let val = score(&classifier, "val", &described.val, None, threshold);
                let test = score(
                    &classifier,
                    "test",
                    &described.test,
                    Some(strangers),
                    threshold,
                );
                tally.add(
                    &Row::new(
                        fitted.fit.val_loss,
                        calibration.unknown_rejected,
                        &val,
                        &test,
                    ),
                    target,
                );
            }
        }
    }
    println!(
        "| head | val loss | calibration: others rejected | test top-1 | test mean AP | strangers rejected | known test faces rejected | both targets met |\n|---|---|---|---|---|---|---|---|"
    );
    for (head, t) in &heads {
        println!("| {head} | {} |", t.cells());
    }
    println!(
        "\nWhere the radius sits in the gap ({} head):\n\n| gap share | val loss | calibration: others rejected | test top-1 | test mean AP | strangers rejected | known test faces rejected | both targets met |\n|---|---|---|---|---|---|---|---|",
        defaults.head.name()
    );
    for (share, t) in GAP_SHARES.iter().zip(&shares) {
        println!("| {share:.3} | {} |", t.cells());
    }
    Ok(())
}

pub fn run() -> anyhow::Result<()> {
    let root = std::env::var_os("KAO_BENCH_WORK")
        .map(PathBuf::from)
        .unwrap_or_else(|| "work/bench-unknown".into());
    let strangers_dir = crate::datasets::dataset("lfw_strangers")?;
    let embedder = Embedder::load_default()?;
    let defaults = TrainConfig::default();
    let mut strangers: Option<UnknownFaces> = None;
    for name in DATASETS {
        let work = WorkDir::new(root.join(name));
        crate::bench_train::prepare(&work, name)?;
        let data = Dataset::load(&work)
            .with_context(|| format!("{}: needs faces/ and splits.json", work.root().display()))?;

        // The defaults end to end, through what `kao train` and `kao eval --unknown` run.
        let start = Instant::now();
        let out = kao_train::train(&work, &defaults, &mut |_| {})?;
        let train_s = start.elapsed().as_secs_f64();
        if strangers.is_none() {
            let predictor = Predictor::load(&out.dir)?;
            let (faces, skipped) =
                kao_train::unknown_faces(&predictor, &strangers_dir, &mut |_| {})?;
            anyhow::ensure!(skipped.is_empty(), "unreadable strangers: {skipped:?}");
            strangers = Some(faces);
        }
        let strangers = strangers.as_ref().expect("described above");
        let options = EvalOptions {
            iteration: Some(out.iteration),
            ..EvalOptions::default()
        };
        let (test, _) = evaluate_with(&work, &options, Some(strangers), &mut |_| {})?;
        let m = &out.metrics;
        println!(
            "\n## {name}: {} tags, {} train / {} val / {} test faces; {} strangers' faces\n",
            data.tags.len(),
            m.train_faces,
            m.validation.metrics.faces,
            test.metrics.faces,
            strangers.descriptors.len()
        );
        println!(
            "defaults ({} head, {} augmentations, unknown_false_reject {}): `kao train` {:.1} s (descriptors {:.1} s, {} computed)\n",
            defaults.head.name(),
            defaults.augmentations,
            defaults.unknown_false_reject,
            train_s,
            m.timings.describe_s,
            m.timings.computed
        );
        println!("| head | augmentations {HEADER}\n|---|---{RULE}");
        Row::new(
            m.fit.val_loss,
            m.calibration.unknown_rejected,
            &m.validation,
            &test,
        )
        .print(&format!(
            "{} (defaults, `kao eval`) | {}",
            defaults.head.name(),
            defaults.augmentations
        ));
        for aug in AUGMENTATIONS {
            for head in HeadKind::ALL {
                let config = TrainConfig {
                    head,
                    augmentations: aug,
                    ..defaults.clone()
                };
                measure(&work, &data, &embedder, &config, strangers)?
                    .print(&format!("{} | {aug}", head.name()));
            }
        }

        println!(
            "\nFew photos per tag (means of {DRAWS} draws of the training photos; validation and test whole):\n"
        );
        println!("| photos per tag | head | augmentations {HEADER}\n|---|---|---{RULE}");
        for k in FEW {
            for head in [HeadKind::Logreg, HeadKind::Knn] {
                for aug in AUGMENTATIONS {
                    let config = TrainConfig {
                        head,
                        augmentations: aug,
                        ..defaults.clone()
                    };
                    let rows = (0..DRAWS)
                        .map(|draw| {
                            let few = few_per_tag(&data, k, draw);
                            measure(&work, &few, &embedder, &config, strangers)
                        })
                        .collect::<anyhow::Result<Vec<_>>>()?;
                    Row::mean(&rows).print(&format!("{k} | {} | {aug}", head.name()));
                }
            }
        }

        println!(
            "\nResplits: means over `kao split` seeds {}..={} (no augmentations; targets: at most {} of known test faces and at least 98 % of strangers rejected):\n",
            RESPLITS.start(),
            RESPLITS.end(),
            defaults.unknown_false_reject
        );
        resplits(&work, &data, &embedder, strangers)?;
    }
    Ok(())
}
