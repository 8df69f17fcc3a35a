//! Files the API hands out by URI: images and stored prediction photos (original, or a
//! JPEG made smaller once and cached in `cache/thumbnails/`), face chips, and what the crop
//! stage made of an image.

use std::io::Cursor;

use kao_dataset::{read_manifest, BoxF, FaceRecord};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use crate::error::{DbContext, ProjectError, Result};
use crate::store::Store;

/// One face the crop stage cut from an image.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaceChip {
    pub face_index: u32,
    /// The detector's box, as fractions of the image's width and height.
    pub bounding_box: Fraction,
    pub score: f32,
    /// The chip, relative to `faces/`.
    pub chip: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fraction {
    pub left: f32,
    pub top: f32,
    pub width: f32,
    pub height: f32,
}

/// What the crop stage (with the project's settings) made of an image; `cropped` is false
/// until a training has run on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageFaces {
    pub image_id: String,
    pub cropped: bool,
    pub faces: Vec<FaceChip>,
    /// `no_face`, `low_score`, `face_too_small`, `ambiguous`, `unreadable: …` when rejected.
    pub reject_reason: Option<String>,
    /// What was found against which limit (`largest face 31 px, the minimum is 40 px`).
    pub reject_detail: Option<String>,
}

fn fraction(b: &BoxF, w: u32, h: u32) -> Fraction {
    let (w, h) = (w.max(1) as f32, h.max(1) as f32);
    let left = (b.x / w).clamp(0.0, 1.0);
    let top = (b.y / h).clamp(0.0, 1.0);
    Fraction {
        left,
        top,
        width: ((b.x + b.width) / w).clamp(0.0, 1.0) - left,
        height: ((b.y + b.height) / h).clamp(0.0, 1.0) - top,
    }
}

/// A crop reject's reason and detail.
type Reject = (String, Option<String>);

/// An image the crop stage made no chip of, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedImage {
    #[serde(skip)]
    pub image: crate::model::ImageRecord,
    pub reject_reason: String,
    pub reject_detail: Option<String>,
}

impl Store {
    /// The crop settings hash every API training uses.
    fn crop_settings(&self, work: &kao_dataset::WorkDir) -> String {
        kao_pipeline::PipelineConfig::for_tags(work.root(), &[])
            .crop_config()
            .settings_hash()
    }

    /// Images whose latest crop (with the project's settings) was a reject, in upload
    /// order, and how many there are in all.
    pub fn rejected_images(
        &self,
        project: &str,
        skip: usize,
        take: usize,
    ) -> Result<(Vec<RejectedImage>, usize)> {
        let project = self.check_project(project)?;
        let work = self.work_dir(&project);
        let settings = self.crop_settings(&work);
        // Per photo, the outcome of its last crop (a move to another tag crops it again).
        let mut last: std::collections::HashMap<String, Option<Reject>> =
            std::collections::HashMap::new();
        for r in read_manifest::<FaceRecord>(&work.faces_manifest())?.records {
            if r.settings() != settings {
                continue;
            }
            match r {
                FaceRecord::Chip(c) => {
                    last.insert(c.source.content_id, None);
                }
                FaceRecord::Reject(r) => {
                    last.insert(r.source.content_id, Some((r.reason.to_string(), r.detail)));
                }
            }
        }
        let rejected: std::collections::HashMap<String, Reject> = last
            .into_iter()
            .filter_map(|(content, reject)| Some((content, reject?)))
            .collect();
        let mut all = Vec::new();
        {
            let db = self.db();
            let mut st = db
                .prepare("SELECT id, content_id FROM images WHERE project_id = ?1 ORDER BY seq")
                .db(&self.db_path)?;
            let rows = st
                .query_map([&project], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .db(&self.db_path)?;
            for row in rows {
                let (id, content) = row.db(&self.db_path)?;
                if let Some(reason) = rejected.get(&content) {
                    all.push((id, reason.clone()));
                }
            }
        }
        let total = all.len();
        let page: Vec<(String, Reject)> = all.into_iter().skip(skip).take(take).collect();
        let ids: Vec<String> = page.iter().map(|(id, _)| id.clone()).collect();
        let mut records: std::collections::HashMap<String, crate::model::ImageRecord> = self
            .images_by_ids(&project, &ids)?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let out = page
            .into_iter()
            .filter_map(|(id, (reason, detail))| {
                Some(RejectedImage {
                    image: records.remove(&id)?,
                    reject_reason: reason,
                    reject_detail: detail,
                })
            })
            .collect();
        Ok((out, total))
    }

    /// The crop stage's records for an image (the latest run with the project's settings).
    pub fn image_faces(&self, project: &str, image: &str) -> Result<ImageFaces> {
        let img = self.image(project, image)?;
        let project = project.to_ascii_lowercase();
        let work = self.work_dir(&project);
        let settings = self.crop_settings(&work);
        let records = read_manifest::<FaceRecord>(&work.faces_manifest())?.records;
        let mine: Vec<FaceRecord> = records
            .into_iter()
            .filter(|r| {
                r.settings() == settings
                    && match r {
                        FaceRecord::Chip(c) => c.source.content_id == img.content_id,
                        FaceRecord::Reject(r) => r.source.content_id == img.content_id,
                    }
            })
            .collect();
        // Only the last run over the photo (its file name changes with its tag).
        let last_rel = mine.last().map(|r| match r {
            FaceRecord::Chip(c) => c.source.rel.clone(),
            FaceRecord::Reject(r) => r.source.rel.clone(),
        });
        let mut out = ImageFaces {
            image_id: img.id.clone(),
            cropped: last_rel.is_some(),
            faces: Vec::new(),
            reject_reason: None,
            reject_detail: None,
        };
        for r in mine {
            match r {
                FaceRecord::Chip(c) if Some(&c.source.rel) == last_rel.as_ref() => {
                    out.faces.retain(|f| f.face_index != c.face_index);
                    out.faces.push(FaceChip {
                        face_index: c.face_index,
                        bounding_box: fraction(&c.bbox, img.width, img.height),
                        score: c.score,
                        chip: c.chip,
                    });
                    out.reject_reason = None;
                    out.reject_detail = None;
                }
                FaceRecord::Reject(r) if Some(&r.source.rel) == last_rel.as_ref() => {
                    out.faces.clear();
                    out.reject_reason = Some(r.reason.to_string());
                    out.reject_detail = r.detail;
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// A file by kind (`images`, `predictions`, `chips` — id `<image>_<face>`) and id; with
    /// `side`, a JPEG at most that many pixels a side. Returns the bytes and their extension.
    pub fn file(
        &self,
        project: &str,
        kind: &str,
        id: &str,
        side: Option<u32>,
    ) -> Result<(Vec<u8>, String)> {
        let project = self.check_project(project)?;
        let work = self.work_dir(&project);
        let path = match kind {
            "images" => self.image_path(&project, id)?,
            "predictions" => {
                let file: Option<String> = self
                    .db()
                    .query_row(
                        "SELECT file FROM predictions WHERE project_id = ?1 AND id = ?2",
                        params![project, id],
                        |r| r.get(0),
                    )
                    .optional()
                    .db(&self.db_path)?;
                work.root().join(file.ok_or_else(|| {
                    ProjectError::rejected("NotFound", format!("no stored prediction {id}"))
                })?)
            }
            "chips" => {
                let (image, index) = id.rsplit_once('_').unwrap_or((id, "0"));
                let faces = self.image_faces(&project, image)?;
                let chip = faces
                    .faces
                    .iter()
                    .find(|f| f.face_index.to_string() == index)
                    .ok_or_else(|| {
                        ProjectError::rejected("NotFound", format!("no face chip {id}"))
                    })?;
                work.faces().join(&chip.chip)
            }
            _ => {
                return Err(ProjectError::rejected(
                    "NotFound",
                    format!("no {kind} files"),
                ))
            }
        };
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(side) = side else {
            let bytes = std::fs::read(&path).map_err(ProjectError::io(&path))?;
            return Ok((bytes, ext));
        };
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cached = work
            .root()
            .join("cache")
            .join("thumbnails")
            .join(format!("{name}_{side}.jpg"));
        if let Ok(bytes) = std::fs::read(&cached) {
            return Ok((bytes, "jpg".into()));
        }
        let decoded = kao_image::load(&path, &kao_image::Limits::default())
            .map_err(|e| ProjectError::rejected("BadRequestImageFormat", e.to_string()))?;
        let image = image::DynamicImage::ImageRgb8(decoded.image);
        let small = if image.width().max(image.height()) > side {
            image.thumbnail(side, side)
        } else {
            image
        };
        let mut bytes = Vec::new();
        small
            .to_rgb8()
            .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Jpeg)
            .map_err(|e| {
                ProjectError::rejected("ErrorUnknown", format!("encoding a thumbnail: {e}"))
            })?;
        kao_dataset::write_atomic(&cached, &bytes)?;
        Ok((bytes, "jpg".into()))
    }
}
