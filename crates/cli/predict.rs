//! `kao predict`: tag probabilities of the faces in photos, with a trained iteration.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kao_dataset::WorkDir;
use kao_infer::Predictor;
use serde_json::json;

use crate::args::Global;

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
    /// Every face, not only the picked (centre) one.
    #[arg(long)]
    pub all_faces: bool,
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
    for path in &args.images {
        let result = kao_image::load(path, &kao_image::Limits::default())
            .map_err(anyhow::Error::from)
            .and_then(|d| Ok((predictor.predict(&d.image)?, d.image.dimensions())));
        let (faces, (w, h)) = match result {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {}: {e:#}", path.display());
                failed = true;
                continue;
            }
        };
        let faces: Vec<_> = faces
            .into_iter()
            .filter(|f| args.all_faces || f.picked)
            .collect();
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
