//! Files the API hands out by URI: images and stored prediction photos (original, or a
//! JPEG made smaller once and cached in `cache/thumbnails/`), face chips, and what the crop
//! stage made of an image.

use std::collections::HashMap;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use kao_dataset::{read_manifest, BoxF, FaceRecord};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use crate::error::{DbContext, ProjectError, Result};
use crate::model::ImageRecord;
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

/// What the latest crop run (with the project's settings) made of one photo.
#[derive(Debug, Clone, Default)]
pub(crate) struct PhotoCrop {
    rel: String,
    faces: Vec<(u32, BoxF, f32, String)>,
    reject: Option<(String, Option<String>)>,
}

/// The faces manifest read once and indexed by content id; read again when the file
/// changes (length or modification time) or the crop settings do.
pub(crate) struct CropIndex {
    stamp: (u64, Option<std::time::SystemTime>, String),
    by_content: HashMap<String, PhotoCrop>,
}

impl CropIndex {
    fn read(path: &Path, settings: &str) -> Result<CropIndex> {
        let stamp = Self::stamp(path, settings);
        let records = read_manifest::<FaceRecord>(path)?.records;
        let mut by_content: HashMap<String, PhotoCrop> = HashMap::new();
        for r in records {
            if r.settings() != settings {
                continue;
            }
            let source = match &r {
                FaceRecord::Chip(c) => &c.source,
                FaceRecord::Reject(r) => &r.source,
            };
            let entry = by_content.entry(source.content_id.clone()).or_default();
            // Only the last run over the photo counts (its file name changes with its tag).
            if entry.rel != source.rel {
                *entry = PhotoCrop {
                    rel: source.rel.clone(),
                    ..PhotoCrop::default()
                };
            }
            match r {
                FaceRecord::Chip(c) => {
                    entry.faces.retain(|f| f.0 != c.face_index);
                    entry.faces.push((c.face_index, c.bbox, c.score, c.chip));
                    entry.reject = None;
                }
                FaceRecord::Reject(r) => {
                    entry.faces.clear();
                    entry.reject = Some((r.reason.to_string(), r.detail));
                }
            }
        }
        Ok(CropIndex { stamp, by_content })
    }

    fn stamp(path: &Path, settings: &str) -> (u64, Option<std::time::SystemTime>, String) {
        let meta = std::fs::metadata(path).ok();
        (
            meta.as_ref().map_or(0, |m| m.len()),
            meta.and_then(|m| m.modified().ok()),
            settings.to_string(),
        )
    }
}

/// A photo the crop stage rejected, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedImage {
    pub image: ImageRecord,
    /// `no_face`, `low_score`, `face_too_small`, `ambiguous`, `unreadable: …`.
    pub reason: String,
    pub detail: Option<String>,
}

impl Store {
    /// The project's crop index, read again only when the faces manifest has changed.
    fn crop_index(&self, project: &str) -> Result<Arc<CropIndex>> {
        let work = self.work_dir(project);
        let settings = kao_pipeline::PipelineConfig::for_tags(work.root(), &[])
            .crop_config()
            .settings_hash();
        let path = work.faces_manifest();
        let stamp = CropIndex::stamp(&path, &settings);
        if let Some(hit) = self
            .crops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(project)
            .filter(|c| c.stamp == stamp)
        {
            return Ok(Arc::clone(hit));
        }
        let index = Arc::new(CropIndex::read(&path, &settings)?);
        self.crops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(project.to_string(), Arc::clone(&index));
        Ok(index)
    }

    /// The crop stage's records for an image (the latest run with the project's settings).
    pub fn image_faces(&self, project: &str, image: &str) -> Result<ImageFaces> {
        let img = self.image(project, image)?;
        let project = project.to_ascii_lowercase();
        let index = self.crop_index(&project)?;
        let mut out = ImageFaces {
            image_id: img.id.clone(),
            cropped: false,
            faces: Vec::new(),
            reject_reason: None,
            reject_detail: None,
        };
        if let Some(c) = index.by_content.get(&img.content_id) {
            out.cropped = true;
            out.faces = c
                .faces
                .iter()
                .map(|(face_index, bbox, score, chip)| FaceChip {
                    face_index: *face_index,
                    bounding_box: fraction(bbox, img.width, img.height),
                    score: *score,
                    chip: chip.clone(),
                })
                .collect();
            out.faces.sort_by_key(|f| f.face_index);
            if let Some((reason, detail)) = &c.reject {
                out.reject_reason = Some(reason.clone());
                out.reject_detail = detail.clone();
            }
        }
        Ok(out)
    }

    /// The images the latest crop run rejected, newest first, and how many there are.
    pub fn rejected_images(
        &self,
        project: &str,
        skip: u64,
        take: u64,
    ) -> Result<(Vec<RejectedImage>, u64)> {
        let project = self.check_project(project)?;
        let index = self.crop_index(&project)?;
        let rejected: HashMap<&str, &(String, Option<String>)> = index
            .by_content
            .iter()
            .filter_map(|(content, c)| c.reject.as_ref().map(|r| (content.as_str(), r)))
            .collect();
        let ids = self.image_ids_newest_first(&project)?;
        let matching: Vec<&(String, String)> = ids
            .iter()
            .filter(|(_, content)| rejected.contains_key(content.as_str()))
            .collect();
        let total = matching.len() as u64;
        let page: Vec<String> = matching
            .into_iter()
            .skip(skip.min(usize::MAX as u64) as usize)
            .take(take.min(usize::MAX as u64) as usize)
            .map(|(id, _)| id.clone())
            .collect();
        let images = self.images_by_ids(&project, &page)?;
        let out = images
            .into_iter()
            .map(|image| {
                let (reason, detail) = rejected[image.content_id.as_str()].clone();
                RejectedImage {
                    image,
                    reason,
                    detail,
                }
            })
            .collect();
        Ok((out, total))
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
