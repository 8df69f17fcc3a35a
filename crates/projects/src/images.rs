//! Images: uploads land in `raw/` as `kao crawl` puts them (`raw/<tag>/<sha256-16>.<ext>`,
//! or `raw/<sha256-16>.<ext>` while untagged, which the crop stage leaves alone), one file per
//! distinct content, with a `raw/manifest.jsonl` record each.
//!
//! Order of an upload: the file is written atomically and fsync'd, then the database row
//! is committed, then the answer goes out. A crash before the commit leaves a file no row
//! names, removed at the next open; a crash after it loses nothing that was acknowledged.
//! The database says where each file belongs; moves (a tag added, removed or renamed) update
//! it first and then the files, and [`Store::reconcile`] finishes any move a crash cut short.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use kao_crawl::{Outcome, RawRecord};
use kao_dataset::{Manifest, WorkDir};
use rayon::prelude::*;
use rusqlite::{params, params_from_iter, OptionalExtension};

use crate::error::{DbContext, ProjectError, Result};
use crate::model::{
    CreateResult, CreateStatus, ImageQuery, ImageRecord, ImageTag, NewImage, Tagging,
};
use crate::store::{new_id, now, Store, MAX_BATCH_IMAGES, MAX_BATCH_TAGS, MAX_IMAGE_BYTES};

/// A decoded, fingerprinted upload.
struct Analysed {
    bytes: Vec<u8>,
    content_id: String,
    phash: kao_image::PerceptualHash,
    format: kao_image::Format,
    width: u32,
    height: u32,
}

/// Where an upload's file went (relative path, whether this upload wrote it), or why not.
type Written = std::result::Result<(String, bool), String>;

struct Prepared {
    source: String,
    tag_ids: Vec<String>,
    result: std::result::Result<Analysed, (CreateStatus, String)>,
}

/// Where an image's file belongs, relative to the work dir.
pub(crate) fn image_rel(content_id: &str, ext: &str, folder: Option<&str>) -> String {
    let name = format!("{}.{ext}", WorkDir::short_id(content_id));
    match folder {
        Some(f) => format!("raw/{f}/{name}"),
        None => format!("raw/{name}"),
    }
}

fn looks_like_image_file(name: &str) -> bool {
    let Some((stem, ext)) = name.split_once('.') else {
        return false;
    };
    stem.len() == 16
        && stem
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && matches!(ext, "jpg" | "png" | "gif" | "bmp" | "webp")
}

fn analyse(bytes: Vec<u8>) -> std::result::Result<Analysed, (CreateStatus, String)> {
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err((
            CreateStatus::ErrorImageSize,
            format!(
                "{} bytes exceeds the limit of {MAX_IMAGE_BYTES} bytes",
                bytes.len()
            ),
        ));
    }
    let limits = kao_image::Limits {
        max_bytes: MAX_IMAGE_BYTES as u64,
        ..kao_image::Limits::default()
    };
    let decoded = kao_image::decode(&bytes, &limits).map_err(|e| {
        let status = match &e {
            kao_image::ImageError::TooLarge { what, .. } if what.contains("file size") => {
                CreateStatus::ErrorImageSize
            }
            kao_image::ImageError::TooLarge { .. } => CreateStatus::ErrorImageDimensions,
            _ => CreateStatus::ErrorImageFormat,
        };
        (status, e.reason())
    })?;
    let (width, height) = decoded.image.dimensions();
    Ok(Analysed {
        content_id: kao_image::content_id(&bytes),
        phash: kao_image::perceptual_hash(&decoded.image),
        format: decoded.format,
        width,
        height,
        bytes,
    })
}

const IMAGE_SELECT: &str =
    "SELECT i.id, i.created, i.width, i.height, i.content_id, i.ext FROM images i";

fn image_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(ImageRecord, String)> {
    let content_id: String = r.get(4)?;
    let ext: String = r.get(5)?;
    Ok((
        ImageRecord {
            id: r.get(0)?,
            created: r.get(1)?,
            width: r.get::<_, i64>(2)? as u32,
            height: r.get::<_, i64>(3)? as u32,
            file: image_rel(&content_id, &ext, None),
            content_id,
            tags: Vec::new(),
        },
        ext,
    ))
}

impl Store {
    /// The project's tags by id: (name, type).
    fn tag_map(&self, project: &str) -> Result<HashMap<String, (String, String)>> {
        let db = self.db();
        let mut st = db
            .prepare("SELECT id, name, type FROM tags WHERE project_id = ?1")
            .db(&self.db_path)?;
        let rows = st
            .query_map([project], |r| {
                Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?)))
            })
            .db(&self.db_path)?
            .collect::<std::result::Result<HashMap<_, _>, _>>()
            .db(&self.db_path)?;
        Ok(rows)
    }

    fn manifest(&self, project: &str) -> Result<Arc<Manifest<RawRecord>>> {
        let locks = self.locks(project);
        let mut slot = locks.manifest.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = &*slot {
            return Ok(Arc::clone(m));
        }
        let m = Arc::new(Manifest::open(&self.work_dir(project).raw_manifest())?);
        *slot = Some(Arc::clone(&m));
        Ok(m)
    }

    /// Checks an image's tags against the project's: every id known, one tag per image
    /// (multiclass). `Err` is the per-image status and why.
    fn image_tags_ok(
        tags: &HashMap<String, (String, String)>,
        ids: &[String],
    ) -> std::result::Result<Option<String>, (CreateStatus, String)> {
        let mut folder = None;
        for id in ids {
            let Some((name, kind)) = tags.get(id) else {
                return Err((
                    CreateStatus::ErrorInvalidTag,
                    format!("tag {id} is not a tag of the project"),
                ));
            };
            folder = Some(Store::tag_folder(name, kind));
        }
        if ids.len() > 1 {
            let negative = ids.iter().any(|id| tags[id].1 == "Negative");
            return Err(if negative {
                (
                    CreateStatus::ErrorNegativeAndRegularTagOnSameImage,
                    "an image cannot have the Negative tag and a regular tag".into(),
                )
            } else {
                (
                    CreateStatus::ErrorTagLimitExceed,
                    "a multiclass project's image has one tag (one person per photo)".into(),
                )
            });
        }
        Ok(folder)
    }

    /// Adds a batch of images (at most 64, each with at most 20 tags; `batch_tags` apply to
    /// every image). An image whose bytes are already in the project is `OKDuplicate` and
    /// keeps its tags; one that cannot be used gets its error status, and the rest go on.
    pub fn add_images(
        &self,
        project: &str,
        images: Vec<NewImage>,
        batch_tags: &[String],
    ) -> Result<Vec<CreateResult>> {
        let project = self.check_project(project)?;
        if images.len() > MAX_BATCH_IMAGES {
            return Err(ProjectError::rejected(
                "BadRequestImageBatch",
                format!(
                    "A batch holds at most {MAX_BATCH_IMAGES} images and {MAX_BATCH_TAGS} tags; this one has {} images",
                    images.len()
                ),
            ));
        }
        if images.is_empty() {
            return Err(ProjectError::rejected(
                "BadRequestImageBatch",
                "The batch has no images",
            ));
        }
        if batch_tags.len() > MAX_BATCH_TAGS
            || images.iter().any(|i| i.tag_ids.len() > MAX_BATCH_TAGS)
        {
            return Err(ProjectError::rejected(
                "BadRequestImageBatch",
                format!(
                    "A batch holds at most {MAX_BATCH_IMAGES} images and {MAX_BATCH_TAGS} tags"
                ),
            ));
        }
        let tags = self.tag_map(&project)?;
        let lower = |ids: &[String]| -> Vec<String> {
            ids.iter().map(|t| t.trim().to_ascii_lowercase()).collect()
        };
        let batch_tags = lower(batch_tags);
        let prepared: Vec<Prepared> = images
            .into_par_iter()
            .map(|img| {
                let mut tag_ids = batch_tags.clone();
                for t in lower(&img.tag_ids) {
                    if !tag_ids.contains(&t) {
                        tag_ids.push(t);
                    }
                }
                let result = match Self::image_tags_ok(&tags, &tag_ids) {
                    Err(e) => Err(e),
                    Ok(_) => img.bytes.and_then(analyse),
                };
                Prepared {
                    source: img.source,
                    tag_ids,
                    result,
                }
            })
            .collect();
        let work = self.work_dir(&project);

        // Files first, in parallel (each write is fsync'd), then one transaction for the rows.
        let mut first_of: HashMap<String, usize> = HashMap::new();
        let mut written: Vec<Option<Written>> = (0..prepared.len()).map(|_| None).collect();
        let to_write: Vec<(usize, String)> = prepared
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let a = p.result.as_ref().ok()?;
                if first_of.contains_key(&a.content_id) {
                    return None;
                }
                first_of.insert(a.content_id.clone(), i);
                let folder = Self::image_tags_ok(&tags, &p.tag_ids).ok().flatten();
                Some((
                    i,
                    image_rel(&a.content_id, a.format.extension(), folder.as_deref()),
                ))
            })
            .collect();
        let results: Vec<(usize, Written)> = to_write
            .into_par_iter()
            .map(|(i, rel)| {
                let a = prepared[i].result.as_ref().expect("analysed");
                let path = work.root().join(&rel);
                let present =
                    std::fs::metadata(&path).is_ok_and(|m| m.len() == a.bytes.len() as u64);
                if present {
                    return (i, Ok((rel, false)));
                }
                match kao_dataset::write_atomic(&path, &a.bytes) {
                    Ok(()) => (i, Ok((rel, true))),
                    Err(e) => (i, Err(e.to_string())),
                }
            })
            .collect();
        for (i, r) in results {
            written[i] = Some(r);
        }

        enum Row {
            New(String),
            Existing(String),
        }
        let mut rows: HashMap<usize, Row> = HashMap::new();
        let created = now();
        {
            let db = self.db();
            let tx = db.unchecked_transaction().db(&self.db_path)?;
            for (i, p) in prepared.iter().enumerate() {
                let (Ok(a), Some(Ok(_))) = (&p.result, &written[i]) else {
                    continue;
                };
                let existing: Option<String> = tx
                    .query_row(
                        "SELECT id FROM images WHERE project_id = ?1 AND content_id = ?2",
                        params![project, a.content_id],
                        |r| r.get(0),
                    )
                    .optional()
                    .db(&self.db_path)?;
                if let Some(id) = existing {
                    rows.insert(i, Row::Existing(id));
                    continue;
                }
                let id = new_id();
                tx.execute(
                    "INSERT INTO images (id, project_id, content_id, ext, width, height, bytes, source, created)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        id,
                        project,
                        a.content_id,
                        a.format.extension(),
                        a.width,
                        a.height,
                        a.bytes.len() as i64,
                        p.source,
                        created
                    ],
                )
                .db(&self.db_path)?;
                for t in &p.tag_ids {
                    tx.execute(
                        "INSERT OR IGNORE INTO image_tags (image_id, tag_id, created) VALUES (?1, ?2, ?3)",
                        params![id, t, created],
                    )
                    .db(&self.db_path)?;
                }
                rows.insert(i, Row::New(id));
            }
            tx.commit().db(&self.db_path)?;
        }

        // A file written for content the project already had elsewhere (another tag) is
        // not the image's: remove it unless the image now lives there.
        let strays: Vec<(String, String)> = rows
            .iter()
            .filter_map(|(i, r)| match (r, &written[*i]) {
                (Row::Existing(id), Some(Ok((rel, true)))) => Some((id.clone(), rel.clone())),
                _ => None,
            })
            .collect();
        if !strays.is_empty() {
            let ids: Vec<String> = strays.iter().map(|(id, _)| id.clone()).collect();
            self.place_images(&project, &ids)?;
        }

        let ids: Vec<String> = rows
            .values()
            .map(|r| match r {
                Row::New(id) | Row::Existing(id) => id.clone(),
            })
            .collect();
        let records: HashMap<String, ImageRecord> = self
            .images_by_ids(&project, &ids)?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let mut out = Vec::with_capacity(prepared.len());
        let mut manifest_records = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for (i, p) in prepared.into_iter().enumerate() {
            let r = match (p.result, written[i].take()) {
                (Err((status, reason)), _) => CreateResult {
                    source: p.source,
                    status,
                    reason: Some(reason),
                    image: None,
                },
                (Ok(a), None) => {
                    // The same bytes earlier in this batch.
                    let first = first_of[&a.content_id];
                    let image = match rows.get(&first) {
                        Some(Row::New(id) | Row::Existing(id)) => records.get(id).cloned(),
                        None => None,
                    };
                    CreateResult {
                        source: p.source,
                        status: if image.is_some() {
                            CreateStatus::OkDuplicate
                        } else {
                            CreateStatus::ErrorStorage
                        },
                        reason: image.is_none().then(|| {
                            "the same image earlier in the batch could not be stored".into()
                        }),
                        image,
                    }
                }
                (Ok(_), Some(Err(e))) => CreateResult {
                    source: p.source,
                    status: CreateStatus::ErrorStorage,
                    reason: Some(e),
                    image: None,
                },
                (Ok(a), Some(Ok(_))) => {
                    let (status, id) = match &rows[&i] {
                        Row::New(id) => (CreateStatus::Ok, id),
                        Row::Existing(id) => (CreateStatus::OkDuplicate, id),
                    };
                    let image = records.get(id).cloned();
                    if let Some(img) = &image {
                        if seen.insert(img.id.clone()) {
                            manifest_records.push(raw_record(&p.source, &a, img, status));
                        }
                    }
                    CreateResult {
                        source: p.source,
                        status,
                        reason: None,
                        image,
                    }
                }
            };
            out.push(r);
        }
        self.manifest(&project)?.append_all(&manifest_records)?;
        Ok(out)
    }

    /// Images of a listing, each with its tags.
    pub fn images(&self, project: &str, q: &ImageQuery) -> Result<Vec<ImageRecord>> {
        let project = self.check_project(project)?;
        let (filter, args) = Self::filter(&project, q.tagging, &q.tag_ids);
        let order = if q.newest_first { "DESC" } else { "ASC" };
        let sql = format!(
            "{IMAGE_SELECT} WHERE {filter} ORDER BY i.seq {order} LIMIT {} OFFSET {}",
            q.take.min(i64::MAX as u64),
            q.skip.min(i64::MAX as u64)
        );
        let found = {
            let db = self.db();
            let mut st = db.prepare(&sql).db(&self.db_path)?;
            let rows = st
                .query_map(params_from_iter(args.iter()), image_row)
                .db(&self.db_path)?
                .collect::<std::result::Result<Vec<_>, _>>()
                .db(&self.db_path)?;
            rows
        };
        self.with_tags(found)
    }

    /// How many images a listing would have without paging.
    pub fn image_count(&self, project: &str, tagging: Tagging, tag_ids: &[String]) -> Result<u64> {
        let project = self.check_project(project)?;
        let (filter, args) = Self::filter(&project, tagging, tag_ids);
        let n: i64 = self
            .db()
            .query_row(
                &format!("SELECT COUNT(*) FROM images i WHERE {filter}"),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )
            .db(&self.db_path)?;
        Ok(n as u64)
    }

    fn filter(project: &str, tagging: Tagging, tag_ids: &[String]) -> (String, Vec<String>) {
        let mut args = vec![project.to_string()];
        let tag_clause = if tag_ids.is_empty() {
            String::new()
        } else {
            let marks: Vec<String> = tag_ids
                .iter()
                .map(|t| {
                    args.push(t.trim().to_ascii_lowercase());
                    format!("?{}", args.len())
                })
                .collect();
            format!(" AND it.tag_id IN ({})", marks.join(","))
        };
        let exists =
            format!("EXISTS (SELECT 1 FROM image_tags it WHERE it.image_id = i.id{tag_clause})");
        let filter = match (tagging, tag_ids.is_empty()) {
            (Tagging::Untagged, _) => "i.project_id = ?1 AND NOT EXISTS (SELECT 1 FROM image_tags it WHERE it.image_id = i.id)".to_string(),
            (Tagging::Tagged, _) | (Tagging::All, false) => format!("i.project_id = ?1 AND {exists}"),
            (Tagging::All, true) => "i.project_id = ?1".to_string(),
        };
        let args = if tagging == Tagging::Untagged {
            vec![project.to_string()]
        } else {
            args
        };
        (filter, args)
    }

    /// Fills in each image's tags and its file's place.
    fn with_tags(&self, found: Vec<(ImageRecord, String)>) -> Result<Vec<ImageRecord>> {
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let db = self.db();
        let mut tags: HashMap<String, Vec<(ImageTag, String, String)>> = HashMap::new();
        for chunk in found.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let mut st = db
                .prepare(&format!(
                    "SELECT it.image_id, t.id, t.name, it.created, t.type FROM image_tags it
                     JOIN tags t ON t.id = it.tag_id WHERE it.image_id IN ({marks}) ORDER BY t.name"
                ))
                .db(&self.db_path)?;
            let rows = st
                .query_map(params_from_iter(chunk.iter().map(|(r, _)| &r.id)), |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        ImageTag {
                            tag_id: r.get(1)?,
                            tag_name: r.get(2)?,
                            created: r.get(3)?,
                        },
                        r.get::<_, String>(4)?,
                    ))
                })
                .db(&self.db_path)?;
            for row in rows {
                let (image, tag, kind) = row.db(&self.db_path)?;
                let folder = Store::tag_folder(&tag.tag_name, &kind);
                tags.entry(image).or_default().push((tag, folder, kind));
            }
        }
        Ok(found
            .into_iter()
            .map(|(mut r, ext)| {
                let t = tags.remove(&r.id).unwrap_or_default();
                r.file = image_rel(&r.content_id, &ext, t.first().map(|(_, f, _)| f.as_str()));
                r.tags = t.into_iter().map(|(t, _, _)| t).collect();
                r
            })
            .collect())
    }

    /// The images with these ids (unknown ids are left out), in the order asked.
    pub fn images_by_ids(&self, project: &str, ids: &[String]) -> Result<Vec<ImageRecord>> {
        let project = self.check_project(project)?;
        let mut found = Vec::new();
        {
            let db = self.db();
            for chunk in ids.chunks(500) {
                let marks = vec!["?"; chunk.len()].join(",");
                let mut st = db
                    .prepare(&format!(
                        "{IMAGE_SELECT} WHERE i.project_id = ? AND i.id IN ({marks})"
                    ))
                    .db(&self.db_path)?;
                let args = std::iter::once(project.clone())
                    .chain(chunk.iter().map(|s| s.trim().to_ascii_lowercase()));
                let rows = st
                    .query_map(params_from_iter(args), image_row)
                    .db(&self.db_path)?
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .db(&self.db_path)?;
                found.extend(rows);
            }
        }
        let mut by_id: HashMap<String, ImageRecord> = self
            .with_tags(found)?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        Ok(ids
            .iter()
            .filter_map(|id| by_id.remove(&id.trim().to_ascii_lowercase()))
            .collect())
    }

    /// Every image of the project as (id, content id), newest first.
    pub(crate) fn image_ids_newest_first(&self, project: &str) -> Result<Vec<(String, String)>> {
        let db = self.db();
        let mut st = db
            .prepare("SELECT id, content_id FROM images WHERE project_id = ?1 ORDER BY seq DESC")
            .db(&self.db_path)?;
        let rows = st
            .query_map([project], |r| Ok((r.get(0)?, r.get(1)?)))
            .db(&self.db_path)?
            .collect::<std::result::Result<Vec<_>, _>>()
            .db(&self.db_path)?;
        Ok(rows)
    }

    /// One image, or `NotFoundImage`.
    pub fn image(&self, project: &str, id: &str) -> Result<ImageRecord> {
        self.images_by_ids(project, &[id.to_string()])?
            .pop()
            .ok_or_else(|| ProjectError::not_found_image(id))
    }

    /// The image file's path on disk.
    pub fn image_path(&self, project: &str, id: &str) -> Result<PathBuf> {
        let image = self.image(project, id)?;
        Ok(self
            .work_dir(&project.to_ascii_lowercase())
            .root()
            .join(image.file))
    }

    /// Deletes images (`None`: all of the project's); returns how many there were.
    pub fn delete_images(&self, project: &str, ids: Option<&[String]>) -> Result<usize> {
        let project = self.check_project(project)?;
        let ids: Vec<String> = match ids {
            Some(ids) => ids.iter().map(|s| s.trim().to_ascii_lowercase()).collect(),
            None => {
                let db = self.db();
                let mut st = db
                    .prepare("SELECT id FROM images WHERE project_id = ?1")
                    .db(&self.db_path)?;
                let rows = st
                    .query_map([&project], |r| r.get::<_, String>(0))
                    .db(&self.db_path)?
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .db(&self.db_path)?;
                rows
            }
        };
        let existing = self.images_by_ids(&project, &ids)?;
        {
            let db = self.db();
            let tx = db.unchecked_transaction().db(&self.db_path)?;
            for img in &existing {
                tx.execute(
                    "DELETE FROM images WHERE id = ?1 AND project_id = ?2",
                    params![img.id, project],
                )
                .db(&self.db_path)?;
            }
            tx.commit().db(&self.db_path)?;
        }
        // Rows first: a crash now leaves files no row names, removed at the next open.
        let locks = self.locks(&project);
        let _files = locks.files.lock().unwrap_or_else(|p| p.into_inner());
        let work = self.work_dir(&project);
        for img in &existing {
            for path in self.candidates(&work, &img.content_id, &img.file) {
                if path.is_file() {
                    std::fs::remove_file(&path).map_err(ProjectError::io(&path))?;
                }
            }
        }
        Ok(existing.len())
    }

    /// Adds image–tag pairs; returns (created, duplicated, exceeded) as Custom Vision's
    /// `ImageTagCreateSummary` (exceeded: a second tag on a multiclass image).
    #[allow(clippy::type_complexity)]
    pub fn add_image_tags(
        &self,
        project: &str,
        pairs: &[(String, String)],
    ) -> Result<(
        Vec<(String, String)>,
        Vec<(String, String)>,
        Vec<(String, String)>,
    )> {
        let project = self.check_project(project)?;
        if pairs.len() > MAX_BATCH_IMAGES * MAX_BATCH_TAGS {
            return Err(ProjectError::rejected(
                "BadRequestExceededBatchSize",
                "Too many image-tag pairs in one request",
            ));
        }
        let tags = self.tag_map(&project)?;
        let (mut created, mut duplicated, mut exceeded) = (Vec::new(), Vec::new(), Vec::new());
        let mut moved = Vec::new();
        {
            let db = self.db();
            let tx = db.unchecked_transaction().db(&self.db_path)?;
            for (image, tag) in pairs {
                let (image, tag) = (
                    image.trim().to_ascii_lowercase(),
                    tag.trim().to_ascii_lowercase(),
                );
                if !tags.contains_key(&tag) {
                    return Err(ProjectError::not_found_tag(&tag));
                }
                let known: Option<i64> = tx
                    .query_row(
                        "SELECT 1 FROM images WHERE id = ?1 AND project_id = ?2",
                        params![image, project],
                        |r| r.get(0),
                    )
                    .optional()
                    .db(&self.db_path)?;
                if known.is_none() {
                    return Err(ProjectError::not_found_image(&image));
                }
                let current: Vec<String> = {
                    let mut st = tx
                        .prepare("SELECT tag_id FROM image_tags WHERE image_id = ?1")
                        .db(&self.db_path)?;
                    let rows = st
                        .query_map([&image], |r| r.get::<_, String>(0))
                        .db(&self.db_path)?
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .db(&self.db_path)?;
                    rows
                };
                if current.contains(&tag) {
                    duplicated.push((image, tag));
                } else if !current.is_empty() {
                    exceeded.push((image, tag));
                } else {
                    tx.execute(
                        "INSERT INTO image_tags (image_id, tag_id, created) VALUES (?1, ?2, ?3)",
                        params![image, tag, now()],
                    )
                    .db(&self.db_path)?;
                    moved.push(image.clone());
                    created.push((image, tag));
                }
            }
            tx.commit().db(&self.db_path)?;
        }
        self.place_images(&project, &moved)?;
        Ok((created, duplicated, exceeded))
    }

    /// Removes the tags from the images (pairs that are not there are ignored).
    pub fn remove_image_tags(
        &self,
        project: &str,
        images: &[String],
        tags: &[String],
    ) -> Result<()> {
        let project = self.check_project(project)?;
        let mut moved = Vec::new();
        {
            let db = self.db();
            let tx = db.unchecked_transaction().db(&self.db_path)?;
            for image in images {
                let image = image.trim().to_ascii_lowercase();
                for tag in tags {
                    let n = tx
                        .execute(
                            "DELETE FROM image_tags WHERE image_id = ?1 AND tag_id = ?2
                             AND image_id IN (SELECT id FROM images WHERE project_id = ?3)",
                            params![image, tag.trim().to_ascii_lowercase(), project],
                        )
                        .db(&self.db_path)?;
                    if n > 0 {
                        moved.push(image.clone());
                    }
                }
            }
            tx.commit().db(&self.db_path)?;
        }
        self.place_images(&project, &moved)
    }

    /// Every place an image's file may be: where its record says, untagged, or in any tag
    /// folder of `raw/` (an old name's folder included).
    fn candidates(&self, work: &WorkDir, content_id: &str, expected: &str) -> Vec<PathBuf> {
        let name = expected.rsplit('/').next().unwrap_or(expected).to_string();
        let _ = content_id;
        let mut out = vec![work.root().join(expected), work.raw().join(&name)];
        if let Ok(entries) = std::fs::read_dir(work.raw()) {
            for e in entries.flatten() {
                if e.path().is_dir() {
                    out.push(e.path().join(&name));
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Moves the images' files to where their records say (one copy each); a deleted
    /// image's files go.
    pub(crate) fn place_images(&self, project: &str, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let locks = self.locks(project);
        let _files = locks.files.lock().unwrap_or_else(|p| p.into_inner());
        let work = self.work_dir(project);
        let records = self.images_by_ids(project, ids)?;
        for r in &records {
            self.place_one(&work, r)?;
        }
        Ok(())
    }

    fn place_one(&self, work: &WorkDir, r: &ImageRecord) -> Result<()> {
        let target = work.root().join(&r.file);
        let others: Vec<PathBuf> = self
            .candidates(work, &r.content_id, &r.file)
            .into_iter()
            .filter(|p| *p != target && p.is_file())
            .collect();
        if !target.is_file() {
            let Some(from) = others.first() else {
                tracing::warn!(image = %r.id, file = %target.display(), "the image's file is missing");
                return Ok(());
            };
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir).map_err(ProjectError::io(dir))?;
            }
            std::fs::rename(from, &target).map_err(ProjectError::io(&target))?;
        }
        for p in others {
            if p.is_file() {
                std::fs::remove_file(&p).map_err(ProjectError::io(&p))?;
            }
        }
        Ok(())
    }

    /// Brings `raw/` in line with the records: temp files and image files no record names
    /// are removed, a move a crash cut short is finished.
    pub(crate) fn reconcile(&self, project: &str) -> Result<()> {
        let locks = self.locks(project);
        let _files = locks.files.lock().unwrap_or_else(|p| p.into_inner());
        let work = self.work_dir(project);
        let ids: Vec<String> = {
            let db = self.db();
            let mut st = db
                .prepare("SELECT id FROM images WHERE project_id = ?1")
                .db(&self.db_path)?;
            let rows = st
                .query_map([project], |r| r.get::<_, String>(0))
                .db(&self.db_path)?
                .collect::<std::result::Result<Vec<_>, _>>()
                .db(&self.db_path)?;
            rows
        };
        let records = self.images_by_ids(project, &ids)?;
        let expected: HashMap<String, &ImageRecord> = records
            .iter()
            .map(|r| (r.file.rsplit('/').next().unwrap_or(&r.file).to_string(), r))
            .collect();
        let raw = work.raw();
        let mut files = Vec::new();
        for entry in walk(&raw, 2) {
            files.push(entry);
        }
        for path in files {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') && name.ends_with(".tmp") {
                std::fs::remove_file(&path).map_err(ProjectError::io(&path))?;
            } else if looks_like_image_file(&name) && !expected.contains_key(&name) {
                tracing::warn!(file = %path.display(), "removing an image file no record names (left by an interrupted upload or delete)");
                std::fs::remove_file(&path).map_err(ProjectError::io(&path))?;
            }
        }
        for r in &records {
            self.place_one(&work, r)?;
        }
        Ok(())
    }
}

/// Files under `dir`, at most `depth` levels down.
fn walk(dir: &std::path::Path, depth: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if depth > 1 {
                out.extend(walk(&p, depth - 1));
            }
        } else {
            out.push(p);
        }
    }
    out
}

fn raw_record(source: &str, a: &Analysed, img: &ImageRecord, status: CreateStatus) -> RawRecord {
    let folder = img
        .file
        .strip_prefix("raw/")
        .and_then(|f| f.rsplit_once('/'))
        .map(|(tag, _)| tag.to_string())
        .unwrap_or_default();
    RawRecord {
        tag: folder,
        source: source.to_string(),
        outcome: if status == CreateStatus::Ok {
            Outcome::Kept
        } else {
            Outcome::Duplicate
        },
        reason: (status != CreateStatus::Ok).then(|| format!("duplicate_of image {}", img.id)),
        detail: Some(format!("Training API image {}", img.id)),
        referrer: None,
        page: false,
        file: img.file.strip_prefix("raw/").map(str::to_string),
        duplicate_of: None,
        content_id: Some(a.content_id.clone()),
        phash: Some(a.phash),
        format: Some(a.format),
        width: Some(a.width),
        height: Some(a.height),
        bytes: Some(a.bytes.len() as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_files_are_named_by_content() {
        assert_eq!(
            image_rel("0123456789abcdef99", "jpg", Some("Ann")),
            "raw/Ann/0123456789abcdef.jpg"
        );
        assert_eq!(
            image_rel("0123456789abcdef99", "png", None),
            "raw/0123456789abcdef.png"
        );
        assert!(looks_like_image_file("0123456789abcdef.jpg"));
        assert!(!looks_like_image_file("manifest.jsonl"));
    }
}
