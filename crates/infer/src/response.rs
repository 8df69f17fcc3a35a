//! The JSON of a prediction: Custom Vision's `ImagePrediction`, plus Kao's `faces`. The
//! prediction service and the exported browser page both answer with it.

use crate::{FacePrediction, TagProbability};
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagePrediction {
    pub id: String,
    pub project: String,
    pub iteration: String,
    pub created: String,
    /// The picked face's tags (Custom Vision's field); empty when there is no face.
    pub predictions: Vec<Prediction>,
    /// Whether the picked face belongs to nobody the model knows; false without a face.
    pub unknown: bool,
    /// Every face, in the detector's order.
    pub faces: Vec<Face>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prediction {
    pub probability: f32,
    pub tag_id: String,
    pub tag_name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Face {
    pub bounding_box: BoundingBox,
    pub predictions: Vec<Prediction>,
    pub unknown: bool,
    /// The face the top-level `predictions` describe (the one nearest the image centre).
    pub picked: bool,
}

/// Fractions of the image's width and height, as Custom Vision's detection boxes.
#[derive(Debug, Serialize)]
pub struct BoundingBox {
    pub left: f32,
    pub top: f32,
    pub width: f32,
    pub height: f32,
}

fn predictions(tags: &[TagProbability]) -> Vec<Prediction> {
    let mut out: Vec<Prediction> = tags
        .iter()
        .map(|t| Prediction {
            probability: t.probability,
            tag_id: t.tag_id.clone(),
            tag_name: t.tag_name.clone(),
        })
        .collect();
    // Already sorted by the Predictor; sorting again keeps the documented order a promise
    // of this crate rather than of another.
    out.sort_by(|a, b| b.probability.total_cmp(&a.probability));
    out
}

/// Detector boxes may run past the photo's edge; clamp so the fractions stay within 0–1.
fn bounding_box(f: &FacePrediction, width: u32, height: u32) -> BoundingBox {
    let (w, h) = (width.max(1) as f32, height.max(1) as f32);
    let left = (f.bbox.x / w).clamp(0.0, 1.0);
    let top = (f.bbox.y / h).clamp(0.0, 1.0);
    let right = ((f.bbox.x + f.bbox.width) / w).clamp(0.0, 1.0);
    let bottom = ((f.bbox.y + f.bbox.height) / h).clamp(0.0, 1.0);
    BoundingBox {
        left,
        top,
        width: right - left,
        height: bottom - top,
    }
}

pub struct Context<'a> {
    pub project: &'a str,
    pub iteration: &'a str,
    pub width: u32,
    pub height: u32,
}

/// The answer for `faces`, with a fresh random id and the current time.
pub fn build(ctx: &Context<'_>, faces: &[FacePrediction]) -> ImagePrediction {
    let created = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    build_at(ctx, faces, uuid::Uuid::new_v4().to_string(), created)
}

/// [`build`] with the id and the RFC 3339 creation time given: where the platform has no
/// clock or random source of its own (WebAssembly in a browser, whose page supplies both).
pub fn build_at(
    ctx: &Context<'_>,
    faces: &[FacePrediction],
    id: String,
    created: String,
) -> ImagePrediction {
    let picked = faces.iter().find(|f| f.picked);
    ImagePrediction {
        id,
        project: ctx.project.to_string(),
        iteration: ctx.iteration.to_string(),
        created,
        predictions: picked.map_or_else(Vec::new, |f| predictions(&f.predictions)),
        unknown: picked.is_some_and(|f| f.unknown),
        faces: faces
            .iter()
            .map(|f| Face {
                bounding_box: bounding_box(f, ctx.width, ctx.height),
                predictions: predictions(&f.predictions),
                unknown: f.unknown,
                picked: f.picked,
            })
            .collect(),
    }
}
