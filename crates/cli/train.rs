//! `kao train`: the work dir's split → a new iteration (head, unknown rule, metrics, report).

use std::process::ExitCode;

use anyhow::Context;
use kao_dataset::WorkDir;
use kao_infer::HeadKind;
use kao_train::{Event, TrainConfig};

use crate::args::Global;
use crate::eval::print_summary;
use crate::progress::Progress;

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Head: knn (default), logreg, mlp or centroid.
    #[arg(long)]
    pub head: Option<HeadKind>,
    /// Seed of weight initialisation, batch order and augmentation draws.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Augmented copies of each training chip (default 0).
    #[arg(long)]
    pub augmentations: Option<u32>,
    /// Probability threshold for precision and recall.
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Share of known faces the unknown-face rule may reject (its operating point).
    #[arg(long, value_parser = share)]
    pub unknown_false_reject: Option<f64>,
}

fn share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v < 1.0 => Ok(v),
        _ => Err(format!("{s:?} is not a share between 0 and 1 (e.g. 0.01)")),
    }
}

/// Bridges library progress events to one bar per phase.
pub fn progress_sink(quiet: bool) -> impl FnMut(Event) {
    let mut bar: Option<(Progress, &'static str)> = None;
    move |event| {
        let (msg, done, total) = match event {
            Event::Embedding { done, total } => ("embedding", done, total),
            Event::Predicting { done, total } => ("predicting", done, total),
            Event::Fitting { .. } | Event::Evaluating => {
                if let Some((b, _)) = bar.take() {
                    b.finish();
                }
                return;
            }
        };
        if bar.as_ref().is_none_or(|(_, m)| *m != msg) {
            if let Some((b, _)) = bar.take() {
                b.finish();
            }
            bar = Some((Progress::new(total as u64, msg, quiet), msg));
        }
        if let Some((b, _)) = &bar {
            b.inc();
            if done == total {
                b.finish();
            }
        }
    }
}

pub fn run(global: &Global, args: TrainArgs) -> anyhow::Result<ExitCode> {
    let work = WorkDir::new(global.work());
    crate::stage::merge_finished_shards(&work)?;
    let mut config = TrainConfig::default();
    if let Some(h) = args.head {
        config.head = h;
    }
    if let Some(s) = args.seed {
        config.seed = s;
    }
    if let Some(a) = args.augmentations {
        config.augmentations = a;
    }
    if let Some(t) = args.threshold {
        config.threshold = t;
    }
    if let Some(v) = args.unknown_false_reject {
        config.unknown_false_reject = v;
    }
    let mut sink = progress_sink(global.quiet);
    let out = kao_train::train(&work, &config, &mut sink)
        .with_context(|| format!("cannot train on {}", work.root().display()))?;
    for s in &out.skipped {
        eprintln!("warning: {}: {}", s.path.display(), s.reason);
    }
    if !global.quiet {
        let m = &out.metrics;
        println!(
            "iteration {} ({} head, {} training descriptors of {} faces; fit {:.2}s, embedding {:.1}s with {} computed)",
            out.iteration,
            m.head.name(),
            m.train_descriptors,
            m.train_faces,
            m.timings.fit_s,
            m.timings.describe_s,
            m.timings.computed
        );
        println!(
            "unknown rule: {}",
            kao_train::describe_rule(&m.unknown_rule)
        );
        let c = &m.calibration;
        if c.known_faces > 0 {
            println!(
                "calibration: {:.2}% of {} known faces and {:.2}% of {} faces of other people rejected",
                c.known_rejected * 100.0,
                c.known_faces,
                c.unknown_rejected * 100.0,
                c.unknown_faces
            );
        }
        println!();
        print_summary(&[&m.validation, &m.test]);
        println!("\nreport: {}", out.report.display());
    }
    Ok(ExitCode::SUCCESS)
}
