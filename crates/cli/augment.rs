//! `kao augment`: preview or write the training augmentations (training itself augments
//! in memory with the same draws).

use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use kao_augment::{augment_context, sample, AugmentParams, Context, Draw, Preset, RgbImage};
use kao_dataset::{read_current_chips, write_atomic, ChipRecord, Splits, WorkDir};
use kao_image::Limits;
use rayon::prelude::*;

use crate::args::Global;
use crate::progress::Progress;

#[derive(Debug, clap::Args)]
pub struct AugmentArgs {
    /// Parameter set: `faces` (milder, with colour jitter) or `keras` (the classic config).
    #[arg(long, default_value = "faces")]
    pub preset: Preset,
    /// Seed of the draws: augmentation k of a chip depends only on (preset, seed, chip, k).
    #[arg(long, default_value_t = kao_augment::DEFAULT_SEED)]
    pub seed: u64,
    /// Sample the source photo around the chip (`source`, real pixels past the chip's
    /// border) or the bare chip (`chip`, fill pixels there).
    #[arg(long, default_value = "source", value_parser = ["source", "chip"])]
    pub from: String,
    /// Write augmentations of every training chip as PNGs under this folder.
    #[arg(long, requires = "per_image")]
    pub write: Option<PathBuf>,
    /// Augmentations per training chip.
    #[arg(long)]
    pub per_image: Option<u32>,
    /// Draw one chip and its variants (top row from the source photo, bottom row from the
    /// bare chip) into this PNG.
    #[arg(long)]
    pub contact_sheet: Option<PathBuf>,
    /// The chip for --contact-sheet (a path relative to faces/); default the first in train.
    #[arg(long)]
    pub item: Option<String>,
}

pub fn run(global: &Global, args: AugmentArgs) -> anyhow::Result<ExitCode> {
    let work = WorkDir::new(global.work());
    let splits_path = work.splits();
    let splits = Splits::read(&splits_path).with_context(|| {
        format!(
            "cannot read {} (run `kao split` first)",
            splits_path.display()
        )
    })?;
    let chips = read_chips(&work)?;
    let params = args.preset.params();
    let mut failed = 0;

    if let Some(dir) = &args.write {
        failed += write_all(global, &args, &work, &splits, &chips, &params, dir)?;
    }
    if let Some(out) = &args.contact_sheet {
        let id = match &args.item {
            Some(id) => id.clone(),
            None => splits
                .train
                .first()
                .cloned()
                .context("the training split is empty")?,
        };
        let chip = chips.get(id.as_str()).with_context(|| {
            format!("{id} is not a chip of {}", work.faces_manifest().display())
        })?;
        let n = args.per_image.unwrap_or(8);
        let sheet = contact_sheet(&work, chip, &params, args.seed, n)?;
        write_png(out, &sheet)?;
        if !global.quiet {
            println!("wrote {} ({id}, {n} variants)", out.display());
        }
    }
    if args.write.is_none() && args.contact_sheet.is_none() && !global.quiet {
        println!(
            "{} training chips; preset {}:\n{}",
            splits.train.len(),
            args.preset.name(),
            serde_json::to_string_pretty(&params)?
        );
        println!("(use --write DIR --per-image N, or --contact-sheet OUT.png)");
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn read_chips(work: &WorkDir) -> anyhow::Result<HashMap<String, ChipRecord>> {
    // The split names chips, whatever settings cut them.
    Ok(read_current_chips(work, None)
        .with_context(|| format!("cannot read {}", work.faces_manifest().display()))?
        .into_iter()
        .map(|c| (c.chip.clone(), c))
        .collect())
}

/// The pixels to augment for a chip: its source photo (through the chip transform), or
/// the chip file; a missing source photo falls back to the chip with a warning.
fn load_context(work: &WorkDir, chip: &ChipRecord, from_source: bool) -> anyhow::Result<Context> {
    if from_source {
        let path = Path::new(&chip.source.path);
        match kao_image::load(path, &Limits::default()) {
            Ok(d) => return Ok(Context::from_source(&d.image, chip.transform, chip.size)),
            Err(e) => tracing::warn!("{}: {e}; augmenting the bare chip instead", path.display()),
        }
    }
    let path = work.faces().join(&chip.chip);
    let d = kao_image::load(&path, &Limits::default())
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Context::from_chip(d.image))
}

fn write_all(
    global: &Global,
    args: &AugmentArgs,
    work: &WorkDir,
    splits: &Splits,
    chips: &HashMap<String, ChipRecord>,
    params: &AugmentParams,
    dir: &Path,
) -> anyhow::Result<usize> {
    let per_image = args.per_image.unwrap_or(4);
    let progress = Progress::new(splits.train.len() as u64, "augment", global.quiet);
    let results: Vec<anyhow::Result<Vec<String>>> = splits
        .train
        .par_iter()
        .map(|id| {
            let r = (|| {
                let chip = chips.get(id.as_str()).with_context(|| {
                    format!("{id} is in splits.json but not in faces/manifest.jsonl")
                })?;
                let ctx = load_context(work, chip, args.from == "source")?;
                let stem = id.strip_suffix(".png").unwrap_or(id);
                let mut lines = Vec::new();
                for k in 0..per_image {
                    let draw = sample(params, args.seed, id, k);
                    let file = format!("{stem}_aug{k}.png");
                    write_png(&dir.join(&file), &augment_context(&ctx, &draw))?;
                    lines.push(serde_json::to_string(&serde_json::json!({
                        "item": id, "k": k, "file": file, "key": draw.key(), "draw": draw,
                    }))?);
                }
                Ok(lines)
            })();
            progress.inc();
            r
        })
        .collect();
    progress.finish();
    let mut lines = Vec::new();
    let mut failed = 0;
    for r in results {
        match r {
            Ok(l) => lines.extend(l),
            Err(e) => {
                failed += 1;
                eprintln!("error: {e:#}");
            }
        }
    }
    let index = dir.join("draws.jsonl");
    let mut text = lines.join("\n");
    text.push('\n');
    write_atomic(&index, text.as_bytes())
        .with_context(|| format!("cannot write {}", index.display()))?;
    if !global.quiet {
        println!(
            "wrote {} augmentations of {} training chips to {} (index: draws.jsonl){}",
            lines.len(),
            splits.train.len() - failed,
            dir.display(),
            if failed > 0 {
                format!("; {failed} chips failed")
            } else {
                String::new()
            }
        );
    }
    Ok(failed)
}

/// Two rows: the chip and `n` variants sampled from the source photo, then the same draws
/// on the bare chip, so fill at the borders is easy to compare.
fn contact_sheet(
    work: &WorkDir,
    chip: &ChipRecord,
    params: &AugmentParams,
    seed: u64,
    n: u32,
) -> anyhow::Result<RgbImage> {
    let source = load_context(work, chip, true)?;
    let bare = Context::from_chip(augment_context(&source, &Draw::IDENTITY));
    let size = source.chip_size;
    let gap = 4;
    let cols = n + 1;
    let mut sheet = RgbImage::from_pixel(
        cols * (size + gap) + gap,
        2 * (size + gap) + gap,
        [255, 255, 255].into(),
    );
    for (row, ctx) in [&source, &bare].into_iter().enumerate() {
        for col in 0..cols {
            let draw = if col == 0 {
                Draw::IDENTITY
            } else {
                sample(params, seed, &chip.chip, col - 1)
            };
            let img = augment_context(ctx, &draw);
            let (x0, y0) = (gap + col * (size + gap), gap + row as u32 * (size + gap));
            for (x, y, p) in img.enumerate_pixels() {
                sheet.put_pixel(x0 + x, y0 + y, *p);
            }
        }
    }
    Ok(sheet)
}

fn write_png(path: &Path, img: &RgbImage) -> anyhow::Result<()> {
    if path
        .extension()
        .is_none_or(|e| !e.eq_ignore_ascii_case("png"))
    {
        bail!("{}: only .png output is supported", path.display());
    }
    let mut bytes = Vec::new();
    img.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .with_context(|| format!("cannot encode {}", path.display()))?;
    write_atomic(path, &bytes).with_context(|| format!("cannot write {}", path.display()))
}
