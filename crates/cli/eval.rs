//! `kao eval`: an iteration's metrics on the validation or test split.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kao_dataset::{SplitPart, WorkDir};
use kao_train::{EvalOptions, Evaluation};

use crate::args::Global;
use crate::train::progress_sink;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Iteration to evaluate (default: the latest).
    #[arg(long)]
    pub iteration: Option<u32>,
    /// Split to score: val or test.
    #[arg(long, default_value = "test", value_parser = split_part)]
    pub split: SplitPart,
    /// Probability threshold for precision and recall (default: the iteration's).
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Folder of photos of people who are none of the tags; every face should come back unknown.
    #[arg(long)]
    pub unknown: Option<PathBuf>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

fn split_part(s: &str) -> Result<SplitPart, String> {
    match s {
        "val" | "validation" => Ok(SplitPart::Val),
        "test" => Ok(SplitPart::Test),
        "train" => Ok(SplitPart::Train),
        _ => Err(format!("unknown split {s:?} (val or test)")),
    }
}

fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

/// The summary table, one row per evaluation.
pub fn print_summary(evaluations: &[&Evaluation]) {
    println!(
        "{:<6} {:>6} {:>8} {:>10} {:>8} {:>8} {:>16} {:>18}",
        "split",
        "faces",
        "top-1",
        "precision",
        "recall",
        "mean AP",
        "known rejected",
        "unknown rejected"
    );
    for e in evaluations {
        let m = &e.metrics;
        let op = &e.operating_point;
        let unknown = match &e.unknown {
            Some(u) => format!("{} of {}", pct(u.rejected), u.faces),
            None => "-".into(),
        };
        println!(
            "{:<6} {:>6} {:>8} {:>10} {:>8} {:>8} {:>16} {:>18}",
            e.split,
            m.faces,
            pct(m.top1),
            pct(m.precision),
            pct(m.recall),
            pct(m.average_precision),
            format!("{} ({})", op.known_rejected, pct(op.false_rejected)),
            unknown
        );
    }
}

/// The unknown rule's operating point in one line.
fn print_operating_point(e: &Evaluation) {
    let op = &e.operating_point;
    let target = op
        .target_false_reject
        .map_or("uncalibrated".to_string(), |t| {
            format!("calibrated to reject at most {} of known faces", pct(t))
        });
    println!(
        "operating point: radius {:.3} ({} distance), {target}; here {} of {} known faces rejected{}",
        op.max_distance,
        op.space.name(),
        op.known_rejected,
        e.metrics.faces,
        e.unknown.as_ref().map_or(String::new(), |u| format!(
            ", {} of {} unknown faces ({})",
            pct(u.rejected),
            u.faces,
            u.source
        ))
    );
}

pub fn run(global: &Global, args: EvalArgs) -> anyhow::Result<ExitCode> {
    let work = WorkDir::new(global.work());
    crate::stage::merge_finished_shards(&work)?;
    let options = EvalOptions {
        iteration: args.iteration,
        split: args.split,
        threshold: args.threshold,
        unknown: args.unknown,
    };
    let mut sink = progress_sink(global.quiet || args.json);
    let (e, skipped) = kao_train::evaluate(&work, &options, &mut sink)
        .with_context(|| format!("cannot evaluate {}", work.root().display()))?;
    for s in &skipped {
        eprintln!("warning: {}: {}", s.path.display(), s.reason);
    }
    if args.json {
        let mut v = serde_json::to_value(&e)?;
        if let Some(o) = v.as_object_mut() {
            // The curves are for the report; they would swamp a terminal.
            o.remove("curves");
            if let Some(u) = o.get_mut("unknown").and_then(|u| u.as_object_mut()) {
                u.remove("curve");
            }
        }
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    print_summary(&[&e]);
    print_operating_point(&e);
    println!(
        "\n{:<32} {:>6} {:>10} {:>8} {:>8}",
        "tag", "faces", "precision", "recall", "AP"
    );
    for t in &e.metrics.per_tag_performance {
        println!(
            "{:<32} {:>6} {:>10} {:>8} {:>8}",
            t.name,
            t.count,
            pct(t.precision),
            pct(t.recall),
            pct(t.average_precision)
        );
    }
    Ok(ExitCode::SUCCESS)
}
