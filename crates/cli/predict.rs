//! `kao predict`: tag probabilities of the faces in photos, with a trained iteration.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use image::RgbImage;
use kao_dataset::WorkDir;
use kao_infer::{FacePrediction, Predictor};
use serde_json::json;

use crate::args::Global;
use crate::draw::{self, Canvas};

#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    /// Photos to classify.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// An iteration folder (default: `--iteration` of the work dir, else its latest).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Iteration number in the work dir.
    #[arg(long)]
    pub iteration: Option<u32>,
    /// Every face, not only the picked (centre) one, found with the detector order that
    /// finds the most faces (SSD first; slower than the trained order on most photos).
    #[arg(long)]
    pub all_faces: bool,
    /// Write each photo with its faces boxed, named and their probability, unknown faces
    /// in orange; with several photos, OUT-1.png, OUT-2.png, …; the extension picks the format.
    #[arg(long, value_name = "OUT.png")]
    pub draw: Option<PathBuf>,
    /// One JSON line per photo instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &Global, args: PredictArgs) -> anyhow::Result<ExitCode> {
    let dir = match (&args.model, args.iteration) {
        (Some(m), _) => m.clone(),
        (None, n) => {
            let work = WorkDir::new(global.work());
            let n = n
                .or_else(|| kao_train::latest_iteration(&work))
                .with_context(|| format!("no trained iteration in {}", work.root().display()))?;
            work.iteration(n)
        }
    };
    let predictor =
        Predictor::load(&dir).with_context(|| format!("cannot load {}", dir.display()))?;
    let mut failed = false;
    for (i, path) in args.images.iter().enumerate() {
        let result = predict_one(&predictor, path, &args, i);
        let (faces, (w, h)) = match result {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {}: {e:#}", path.display());
                failed = true;
                continue;
            }
        };
        if args.json {
            let faces: Vec<_> = faces
                .iter()
                .map(|f| {
                    json!({
                        "box": {"x": f.bbox.x, "y": f.bbox.y, "width": f.bbox.width, "height": f.bbox.height},
                        "score": f.score,
                        "landmarks": f.landmarks,
                        "predictions": f.predictions,
                        "unknown": f.unknown,
                    })
                })
                .collect();
            println!(
                "{}",
                json!({"file": path.display().to_string(), "width": w, "height": h, "faces": faces})
            );
            continue;
        }
        if faces.is_empty() {
            println!("{}: no face", path.display());
        }
        for (i, f) in faces.iter().enumerate() {
            let best = f.predictions.first();
            println!(
                "{}  face {i} at {:.0},{:.0} {:.0}x{:.0}  {}  {:.3}{}",
                path.display(),
                f.bbox.x,
                f.bbox.y,
                f.bbox.width,
                f.bbox.height,
                best.map_or("-", |b| b.tag_name.as_str()),
                best.map_or(0.0, |b| b.probability),
                if f.unknown { "  (unknown)" } else { "" }
            );
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The faces of one photo that `args` asks for (and the photo's size), drawn when asked.
fn predict_one(
    predictor: &Predictor,
    path: &Path,
    args: &PredictArgs,
    index: usize,
) -> anyhow::Result<(Vec<FacePrediction>, (u32, u32))> {
    let image = kao_image::load(path, &kao_image::Limits::default())?.image;
    let started = Instant::now();
    let faces = if args.all_faces {
        predictor.predict_all_faces(&image)?
    } else {
        predictor.predict(&image)?
    };
    tracing::debug!(
        photo = %path.display(),
        faces = faces.len(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        "predicted"
    );
    let faces: Vec<FacePrediction> = faces
        .into_iter()
        .filter(|f| args.all_faces || f.picked)
        .collect();
    if let Some(out) = &args.draw {
        let out = draw::numbered(out, index, args.images.len());
        draw::save(&annotate(&image, &faces), &out)?;
    }
    Ok((faces, image.dimensions()))
}

/// A copy of `image` with each face boxed and labelled with its best tag and probability;
/// a face of nobody the model knows in orange, labelled `unknown` and its nearest tag.
fn annotate(image: &RgbImage, faces: &[FacePrediction]) -> RgbImage {
    let mut canvas = Canvas::new(image);
    for f in faces {
        let b = &f.bbox;
        let best = f.predictions.first();
        let named = best.map_or_else(
            || "?".to_string(),
            |p| format!("{} {:.1}%", p.tag_name, p.probability * 100.0),
        );
        let (colour, text) = if f.unknown {
            (draw::ORANGE, format!("unknown ({named})"))
        } else {
            (draw::GREEN, named)
        };
        canvas.rect(b.x, b.y, b.width, b.height, colour);
        canvas.label(b.x, b.y, &text, colour);
    }
    canvas.into_image()
}
