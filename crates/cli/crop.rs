//! `kao crop`: photos to aligned 150×150 face chips.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use kao_dataset::{read_current_chips, ShardDir, WorkDir};
use kao_facecrop::{
    crop_tree_shard, shard_photos, Alignment, CropConfig, CropSummary, Cropper, DetectorKind,
    FaceNets, Pick,
};
use kao_image::Limits;
use kao_pipeline::{ShardReport, Stage, StageArgs, StageReport};

use crate::args::Global;
use crate::progress::Progress;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "The pipeline's crop stage, with the [crop] settings of a pipeline file:
  kao crop --config pipeline.toml [--shard I/N]"
)]
pub struct CropArgs {
    /// A folder with one sub-folder of photos per tag; default: the work dir's raw/.
    #[arg(conflicts_with_all = PIPELINE)]
    pub src: Option<PathBuf>,
    /// Face detector [default: tiny, or ssd with --pick all: it finds more faces in group
    /// photos].
    #[arg(long, value_enum, conflicts_with_all = PIPELINE)]
    pub detector: Option<DetectorArg>,
    /// Which face(s) of a photo become chips.
    #[arg(long, value_enum, default_value = "center", conflicts_with_all = PIPELINE)]
    pub pick: PickArg,
    /// Second detector, run only on photos where the first finds no face above the
    /// threshold (`none`: never) [default: the other detector].
    #[arg(long, value_enum, conflicts_with_all = PIPELINE)]
    pub fallback: Option<FallbackArg>,
    /// Chip placement convention.
    #[arg(long, value_enum, default_value = "dlib", conflicts_with_all = PIPELINE)]
    pub align: AlignArg,
    /// Minimum detector score.
    #[arg(long, default_value_t = CropConfig::default().score_threshold, conflicts_with_all = PIPELINE)]
    pub score_threshold: f32,
    /// Minimum face box side in source pixels.
    #[arg(long, default_value_t = CropConfig::default().min_face, conflicts_with_all = PIPELINE)]
    pub min_face: u32,
    /// Also write a grid of the first chips of each tag to this PNG.
    #[arg(long, conflicts_with_all = PIPELINE)]
    pub contact_sheet: Option<PathBuf>,
    /// Chips per tag on the contact sheet.
    #[arg(long, default_value_t = 12)]
    pub sheet_per_tag: usize,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub pipeline: StageArgs,
}

/// The options that make `kao crop` the pipeline's crop stage, with its file's settings.
const PIPELINE: [&str; 2] = ["config", "source_dir"];

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DetectorArg {
    Tiny,
    Ssd,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FallbackArg {
    Tiny,
    Ssd,
    None,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PickArg {
    Center,
    Largest,
    All,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AlignArg {
    Dlib,
    Faceapi,
}

impl CropArgs {
    pub fn config(&self) -> CropConfig {
        let pick = match self.pick {
            PickArg::Center => Pick::Center,
            PickArg::Largest => Pick::Largest,
            PickArg::All => Pick::All,
        };
        let d = CropConfig::for_pick(pick);
        let detector = match self.detector {
            None => d.detector,
            Some(DetectorArg::Tiny) => DetectorKind::Tiny,
            Some(DetectorArg::Ssd) => DetectorKind::Ssd,
        };
        CropConfig {
            detector,
            fallback: match self.fallback {
                None => Some(detector.other()),
                Some(FallbackArg::Tiny) => Some(DetectorKind::Tiny),
                Some(FallbackArg::Ssd) => Some(DetectorKind::Ssd),
                Some(FallbackArg::None) => None,
            },
            alignment: match self.align {
                AlignArg::Dlib => Alignment::Dlib,
                AlignArg::Faceapi => Alignment::FaceApi,
            },
            score_threshold: self.score_threshold,
            min_face: self.min_face,
            ..d
        }
    }
}

pub fn run(global: &Global, args: CropArgs) -> anyhow::Result<ExitCode> {
    if args.pipeline.is_pipeline() {
        return crate::stage::run(global, Stage::Crop, &args.pipeline, args.json);
    }
    let work = WorkDir::new(global.work());
    let src = args.src.clone().unwrap_or_else(|| work.raw());
    let shard = args
        .pipeline
        .shard
        .map(|s| ShardDir::new(&work, Stage::Crop.name(), s));
    let running = match &shard {
        Some(dir) => Some(dir.begin()?),
        // A whole run reuses what finished shards cropped.
        None => {
            crate::stage::merge_finished_shards(&work)?;
            None
        }
    };
    let nets =
        FaceNets::load(&candle_core::Device::Cpu).context("cannot load the face networks")?;
    // Descriptors are computed with the chips, into the cache `kao train` reads.
    let embedder =
        kao_infer::Embedder::load_default().context("cannot load the recognition network")?;
    let cropper = Cropper::new(Arc::new(nets), args.config()).with_describer(Arc::new(embedder));
    let total = shard_photos(&src, shard.as_ref())
        .with_context(|| format!("cannot list {}", src.display()))?
        .len();
    let progress = Progress::new(total as u64, "crop", global.quiet || args.json);
    let started = std::time::Instant::now();
    let summary = crop_tree_shard(
        &work,
        &src,
        &cropper,
        &Limits::default(),
        shard.as_ref(),
        &|| progress.inc(),
    )
    .with_context(|| format!("cropping {}", src.display()))?;
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    if let Some(running) = running {
        let mut row = StageReport::new(Stage::Crop);
        row.wall_s = seconds;
        row.items_in = summary.photos();
        row.items_out = summary.chips();
        // Not the pipeline's crop (its own settings, any source folder): no fingerprint, so
        // `kao pipeline` merges these chips and reuses them but runs its crop stage itself.
        let shard = running.dir().shard();
        running.finish(&ShardReport {
            stage: Stage::Crop,
            shard,
            fingerprint: String::new(),
            report: row,
            cpu_s: 0.0,
            host: String::new(),
        })?;
    }
    if let Some(sheet) = &args.contact_sheet {
        let settings = cropper.config().settings_hash();
        let chips = read_current_chips(&work, Some(&settings))?;
        kao_facecrop::contact_sheet(&work, &chips, args.sheet_per_tag, 75)
            .save(sheet)
            .with_context(|| format!("cannot write {}", sheet.display()))?;
    }
    if args.json {
        let mut v = serde_json::to_value(&summary)?;
        v["seconds"] = seconds.into();
        v["photosPerSecond"] = (summary.photos() as f64 / seconds.max(1e-9)).into();
        println!("{v}");
    } else {
        print_summary(&summary, seconds);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(s: &CropSummary, seconds: f64) {
    println!(
        "{:<28} {:>7} {:>7} {:>7}  rejects",
        "tag", "photos", "chips", "reused"
    );
    for (tag, t) in &s.tags {
        let rejects: Vec<String> = t.rejects.iter().map(|(r, n)| format!("{r} {n}")).collect();
        println!(
            "{:<28} {:>7} {:>7} {:>7}  {}",
            tag,
            t.photos,
            t.chips,
            t.reused,
            if rejects.is_empty() {
                "-".into()
            } else {
                rejects.join(", ")
            }
        );
    }
    println!(
        "{:<28} {:>7} {:>7} {:>7}  {}",
        "total",
        s.photos(),
        s.chips(),
        s.tags.values().map(|t| t.reused).sum::<usize>(),
        s.rejects()
    );
    if !s.unreadable.is_empty() {
        println!("unreadable files:");
        for (file, reason) in &s.unreadable {
            println!("  {file}: {reason}");
        }
    }
    println!(
        "{:.1} photos/s ({:.1} s)",
        s.photos() as f64 / seconds.max(1e-9),
        seconds
    );
}
