use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Kao (顔): on-premises face identification, from photos to a prediction service.
#[derive(Debug, Parser)]
#[command(name = "kao", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Work directory holding a dataset's stages (raw/, faces/, splits.json, iterations/)
    /// [default: work; for `pipeline`, the config's `work`].
    #[arg(long, global = true, env = "KAO_WORK", value_name = "DIR")]
    pub work: Option<PathBuf>,
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors; no progress bars.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

impl Global {
    pub fn work(&self) -> PathBuf {
        self.work.clone().unwrap_or_else(|| PathBuf::from("work"))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Summarise a folder-per-tag image tree: counts, sizes, formats, unreadable files, duplicates.
    Inspect(InspectArgs),
    /// Collect images for a tag from search results, a site, a URL list, a folder or an archive into raw/.
    Crawl(crate::crawl::CrawlArgs),
    /// The pipeline's collect stage alone: every tag's sources into raw/ (or --shard I/N of the tags).
    Collect(crate::stage::Args),
    /// The pipeline's descriptor stage alone: the training chips' augmentations (and any chip not yet described) to descriptors (or --shard I/N).
    Embed(crate::stage::Args),
    /// Detect faces (and landmarks) in images and print or draw them.
    Detect(crate::detect::DetectArgs),
    /// Split the cropped faces into train/validation/test without leakage.
    Split(crate::split::SplitArgs),
    /// Write or preview the training augmentations.
    Augment(crate::augment::AugmentArgs),
    /// Detect, choose, align and crop every photo into 150x150 face chips (faces/).
    Crop(crate::crop::CropArgs),
    /// Train a head on face descriptors; writes a new iteration.
    Train(crate::train::TrainArgs),
    /// Evaluate an iteration on the validation or test split.
    Eval(crate::eval::EvalArgs),
    /// Predict the tags of the faces in images with a trained iteration.
    Predict(crate::predict::PredictArgs),
    /// List the trained iterations and their metrics.
    Iterations(crate::iterations::IterationsArgs),
    /// Publish an iteration under a name for the prediction service.
    Publish(crate::publish::PublishArgs),
    /// Run the Custom Vision-compatible prediction service and Quick Test page.
    Serve(crate::serve::ServeArgs),
    /// Export an iteration as a static web page (runs in the browser) or a container build context.
    Export(crate::export::ExportArgs),
    /// Run every stage: collect, crop, split, augment, train, evaluate, publish.
    Pipeline(crate::pipeline::Args),
    /// Copy a project (tags and tagged images) from a Custom Vision Training API into a local project store.
    Import(crate::import::ImportArgs),
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A folder with one sub-folder of images per tag.
    pub dir: PathBuf,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Perceptual-hash distance (bits of 64) at or below which photos are near-duplicates.
    #[arg(long, default_value_t = kao_image::NEAR_DUPLICATE_DISTANCE)]
    pub near_distance: u32,
}
