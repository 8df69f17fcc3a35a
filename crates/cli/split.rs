//! `kao split`: faces/manifest.jsonl → splits.json, leakage-free.

use std::process::ExitCode;

use anyhow::Context;
use kao_dataset::{current_chips, read_manifest, FaceRecord, WorkDir};
use kao_split::{parse_ratios, split_chips, SplitOptions};

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct SplitArgs {
    /// Seed of the shuffle: the same chips and seed always give the same split.
    #[arg(long, default_value_t = kao_split::DEFAULT_SEED)]
    pub seed: u64,
    /// Relative sizes of train:val:test.
    #[arg(long, default_value = "3:1:1", value_parser = ratios)]
    pub ratios: [u32; 3],
    /// Source photos whose perceptual hashes are at most this many bits apart stay in one split.
    #[arg(long, default_value_t = kao_image::NEAR_DUPLICATE_DISTANCE)]
    pub near_distance: u32,
}

fn ratios(s: &str) -> Result<[u32; 3], String> {
    parse_ratios(s).map_err(|e| e.to_string())
}

pub fn run(global: &Global, args: SplitArgs) -> anyhow::Result<ExitCode> {
    let work = WorkDir::new(global.work());
    crate::stage::merge_finished_shards(&work)?;
    let manifest = work.faces_manifest();
    let read = read_manifest::<FaceRecord>(&manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    // The manifest is append-only: a rerun of `kao crop` with other settings leaves the old
    // records behind. Split what the latest run cut.
    let settings = read
        .records
        .last()
        .map(|r| r.settings().to_string())
        .unwrap_or_default();
    let chips = current_chips(read.records, Some(&settings), &work.faces());
    if chips.is_empty() {
        anyhow::bail!("{} has no chips: run `kao crop` first", manifest.display());
    }
    let options = SplitOptions {
        seed: args.seed,
        ratios: args.ratios,
        near_distance: args.near_distance,
    };
    let out = split_chips(&chips, &options)
        .with_context(|| format!("cannot split the chips of {}", manifest.display()))?;
    for w in &out.warnings {
        tracing::warn!("{w}");
    }
    let path = work.splits();
    out.splits
        .write(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;

    if !global.quiet {
        println!("{:<32} {:>7} {:>7} {:>7}", "tag", "train", "val", "test");
        let mut total = [0usize; 3];
        for (tag, c) in &out.counts {
            println!("{tag:<32} {:>7} {:>7} {:>7}", c[0], c[1], c[2]);
            for (t, n) in total.iter_mut().zip(c) {
                *t += n;
            }
        }
        println!(
            "{:<32} {:>7} {:>7} {:>7}",
            format!("total ({} tags)", out.counts.len()),
            total[0],
            total[1],
            total[2]
        );
        println!(
            "\n{} groups kept whole (same photo or near-duplicates); seed {}, ratios {}:{}:{}\nwrote {}",
            out.splits.groups.len(),
            args.seed,
            args.ratios[0],
            args.ratios[1],
            args.ratios[2],
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
