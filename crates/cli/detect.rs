//! `kao detect`: faces (and optionally 68 landmarks) in images, as a table, JSON lines, or
//! drawn onto copies of the images.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use candle_core::Device;
use image::RgbImage;
use kao_models::reference_pipeline::face_landmarks;
use kao_models::{
    Detection, FaceLandmark68Net, SsdMobilenetV1, SsdOptions, TinyFaceDetector, TinyOptions,
};
use serde::Serialize;

use crate::args::Global;
use crate::draw::{self, Canvas};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DetectorKind {
    /// TinyFaceDetector: fast, misses small and profile faces more often.
    Tiny,
    /// SSD MobileNet v1: the accurate one.
    Ssd,
}

#[derive(Debug, clap::Args)]
pub struct DetectArgs {
    /// Images to look at (JPEG, PNG, GIF, BMP, WebP).
    #[arg(required = true, value_name = "IMG")]
    pub images: Vec<PathBuf>,
    /// Which face detector to run.
    #[arg(long, value_enum, default_value_t = DetectorKind::Ssd)]
    pub detector: DetectorKind,
    /// Also locate 68 facial landmarks per face.
    #[arg(long)]
    pub landmarks: bool,
    /// One JSON object per image per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write the image with boxes, scores (and points) drawn; with several images, OUT-1.png,
    /// OUT-2.png, …; the extension picks the format.
    #[arg(long, value_name = "OUT.png")]
    pub draw: Option<PathBuf>,
    /// Keep faces scoring above this (0–1).
    #[arg(long, default_value_t = 0.5)]
    pub min_score: f64,
    /// TinyFaceDetector input side (a multiple of 32; larger finds smaller faces).
    #[arg(long, default_value_t = 416)]
    pub input_size: usize,
}

enum Detector {
    Tiny(Box<TinyFaceDetector>, TinyOptions),
    // Boxed so the enum stays small; only one detector is ever built.
    Ssd(Box<SsdMobilenetV1>, SsdOptions),
}

impl Detector {
    fn detect(&self, image: &RgbImage) -> kao_models::Result<Vec<Detection>> {
        match self {
            Detector::Tiny(net, opts) => net.detect(image, opts),
            Detector::Ssd(net, opts) => net.detect(image, opts),
        }
    }
}

#[derive(Debug, Serialize)]
struct ImageFaces {
    file: String,
    width: u32,
    height: u32,
    faces: Vec<Face>,
}

#[derive(Debug, Serialize)]
struct Face {
    #[serde(rename = "box")]
    bbox: kao_models::BBox,
    score: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    landmarks: Option<Vec<[f64; 2]>>,
}

pub fn run(_global: &Global, args: DetectArgs) -> anyhow::Result<ExitCode> {
    let device = Device::Cpu;
    let detector = match args.detector {
        DetectorKind::Tiny => {
            let opts = TinyOptions {
                input_size: args.input_size,
                score_threshold: args.min_score,
            };
            anyhow::ensure!(
                opts.input_size > 0 && opts.input_size % 32 == 0,
                "--input-size {} is not a positive multiple of 32",
                opts.input_size
            );
            Detector::Tiny(
                Box::new(
                    TinyFaceDetector::load_default(&device).context("loading TinyFaceDetector")?,
                ),
                opts,
            )
        }
        DetectorKind::Ssd => Detector::Ssd(
            Box::new(SsdMobilenetV1::load_default(&device).context("loading SSD MobileNet v1")?),
            SsdOptions {
                min_confidence: args.min_score,
                ..SsdOptions::default()
            },
        ),
    };
    let landmark_net = if args.landmarks {
        Some(FaceLandmark68Net::load_default(&device).context("loading the landmark net")?)
    } else {
        None
    };
    let mut failures = 0;
    if !args.json {
        println!(
            "{:<40} {:>11} {:>4} {:>8} {:>8} {:>8} {:>8} {:>6}",
            "file", "size", "face", "x", "y", "width", "height", "score"
        );
    }
    for (i, path) in args.images.iter().enumerate() {
        let result = detect_one(path, &detector, landmark_net.as_ref(), &device).and_then(
            |(image, faces)| {
                if let Some(out) = &args.draw {
                    let out = draw::numbered(out, i, args.images.len());
                    draw::save(&annotate(&image, &faces.faces), &out)?;
                }
                Ok(faces)
            },
        );
        match result {
            Ok(faces) if args.json => println!("{}", serde_json::to_string(&faces)?),
            Ok(faces) => print_rows(&faces),
            Err(e) => {
                failures += 1;
                eprintln!("error: {e:#}");
            }
        }
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn detect_one(
    path: &Path,
    detector: &Detector,
    landmark_net: Option<&FaceLandmark68Net>,
    device: &Device,
) -> anyhow::Result<(RgbImage, ImageFaces)> {
    let decoded = kao_image::load(path, &kao_image::Limits::default())
        .with_context(|| format!("cannot read image {}", path.display()))?;
    let image = decoded.image;
    let detections = detector
        .detect(&image)
        .with_context(|| format!("face detection failed on {}", path.display()))?;
    let landmarks = match landmark_net {
        Some(net) => face_landmarks(net, &image, &detections, device)
            .with_context(|| format!("landmarks failed on {}", path.display()))?
            .into_iter()
            .map(|found| Some(found.map(|(_, points)| points).unwrap_or_default()))
            .collect(),
        None => vec![None; detections.len()],
    };
    let faces = detections
        .iter()
        .zip(landmarks)
        .map(|(d, landmarks)| Face {
            bbox: d.bbox,
            score: d.score,
            landmarks,
        })
        .collect();
    let record = ImageFaces {
        file: path.display().to_string(),
        width: image.width(),
        height: image.height(),
        faces,
    };
    Ok((image, record))
}

fn print_rows(faces: &ImageFaces) {
    let size = format!("{}x{}", faces.width, faces.height);
    if faces.faces.is_empty() {
        println!("{:<40} {size:>11} {:>4}", faces.file, "-");
    }
    for (i, f) in faces.faces.iter().enumerate() {
        let b = &f.bbox;
        println!(
            "{:<40} {size:>11} {:>4} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>6.3}",
            faces.file,
            i + 1,
            b.x,
            b.y,
            b.width,
            b.height,
            f.score
        );
    }
}

/// A copy of `image` with each box outlined and labelled with its score, and each landmark
/// a dot.
fn annotate(image: &RgbImage, faces: &[Face]) -> RgbImage {
    let mut canvas = Canvas::new(image);
    for f in faces {
        let b = &f.bbox;
        let (x, y) = (b.x as f32, b.y as f32);
        canvas.rect(x, y, b.width as f32, b.height as f32, draw::GREEN);
        for p in f.landmarks.iter().flatten() {
            canvas.point(p[0], p[1], draw::RED);
        }
        canvas.label(x, y, &format!("{:.2}", f.score), draw::GREEN);
    }
    canvas.into_image()
}
