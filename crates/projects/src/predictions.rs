//! Stored predictions (Custom Vision's Predictions tab): the photo in
//! `predictions/<sha256-16>.<ext>` and the answer in the database; chosen ones become tagged
//! training images.

use rusqlite::{params, params_from_iter};
use serde::Serialize;

use crate::error::{DbContext, ProjectError, Result};
use crate::model::{CreateResult, CreateStatus, NewImage};
use crate::store::{new_id, now, Store};

/// One stored prediction.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredPrediction {
    pub id: String,
    pub project: String,
    pub iteration: String,
    pub created: String,
    pub width: u32,
    pub height: u32,
    /// The photo, relative to the work dir.
    pub file: String,
    /// The prediction answer as it was sent (Custom Vision's `ImagePrediction`, Kao's `faces`).
    pub result: serde_json::Value,
}

impl Store {
    /// Keeps a prediction's photo and answer; returns its id.
    pub fn store_prediction(
        &self,
        project: &str,
        iteration: &str,
        bytes: &[u8],
        width: u32,
        height: u32,
        result: &serde_json::Value,
    ) -> Result<String> {
        let project = self.check_project(project)?;
        let format = kao_image::probe(
            bytes,
            std::path::Path::new("<prediction>"),
            &kao_image::Limits::default(),
        )
        .map(|p| p.format.extension())
        .unwrap_or("jpg");
        let content = kao_image::content_id(bytes);
        let file = format!(
            "predictions/{}.{format}",
            kao_dataset::WorkDir::short_id(&content)
        );
        let path = self.work_dir(&project).root().join(&file);
        if !path.is_file() {
            kao_dataset::write_atomic(&path, bytes)?;
        }
        let id = result
            .get("id")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .unwrap_or_else(new_id);
        self.db()
            .execute(
                "INSERT OR REPLACE INTO predictions (id, project_id, iteration_id, file, width, height, result, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![id, project, iteration, file, width, height, result.to_string(), now()],
            )
            .db(&self.db_path)?;
        Ok(id)
    }

    /// Stored predictions, newest first, optionally of one iteration; and how many in all.
    pub fn predictions(
        &self,
        project: &str,
        iteration: Option<&str>,
        skip: u64,
        take: u64,
    ) -> Result<(Vec<StoredPrediction>, u64)> {
        let project = self.check_project(project)?;
        let mut args = vec![project.clone()];
        let mut filter = "project_id = ?1".to_string();
        if let Some(it) = iteration {
            args.push(it.trim().to_ascii_lowercase());
            filter.push_str(" AND iteration_id = ?2");
        }
        let db = self.db();
        let total: i64 = db
            .query_row(
                &format!("SELECT COUNT(*) FROM predictions WHERE {filter}"),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )
            .db(&self.db_path)?;
        let mut st = db
            .prepare(&format!(
                "SELECT id, project_id, iteration_id, created, width, height, file, result FROM predictions
                 WHERE {filter} ORDER BY seq DESC LIMIT {} OFFSET {}",
                take.min(i64::MAX as u64),
                skip.min(i64::MAX as u64)
            ))
            .db(&self.db_path)?;
        let rows = st
            .query_map(params_from_iter(args.iter()), |r| {
                Ok(StoredPrediction {
                    id: r.get(0)?,
                    project: r.get(1)?,
                    iteration: r.get(2)?,
                    created: r.get(3)?,
                    width: r.get::<_, i64>(4)? as u32,
                    height: r.get::<_, i64>(5)? as u32,
                    file: r.get(6)?,
                    result: serde_json::from_str(&r.get::<_, String>(7)?)
                        .unwrap_or(serde_json::Value::Null),
                })
            })
            .db(&self.db_path)?
            .collect::<std::result::Result<Vec<_>, _>>()
            .db(&self.db_path)?;
        Ok((rows, total as u64))
    }

    pub fn delete_predictions(&self, project: &str, ids: &[String]) -> Result<()> {
        let project = self.check_project(project)?;
        let db = self.db();
        for id in ids {
            db.execute(
                "DELETE FROM predictions WHERE project_id = ?1 AND id = ?2",
                params![project, id.trim().to_ascii_lowercase()],
            )
            .db(&self.db_path)?;
        }
        Ok(())
    }

    /// Turns stored predictions into training images with the given tags.
    pub fn add_images_from_predictions(
        &self,
        project: &str,
        entries: &[(String, Vec<String>)],
        batch_tags: &[String],
    ) -> Result<Vec<CreateResult>> {
        let project = self.check_project(project)?;
        let work = self.work_dir(&project);
        let mut images = Vec::with_capacity(entries.len());
        for (id, tags) in entries {
            let file: Option<String> = rusqlite::OptionalExtension::optional(self.db().query_row(
                "SELECT file FROM predictions WHERE project_id = ?1 AND id = ?2",
                params![project, id.trim().to_ascii_lowercase()],
                |r| r.get(0),
            ))
            .db(&self.db_path)?;
            let bytes = match file {
                None => Err((
                    CreateStatus::ErrorSource,
                    format!("no stored prediction {id}"),
                )),
                Some(f) => std::fs::read(work.root().join(&f))
                    .map_err(|e| (CreateStatus::ErrorSource, format!("{f}: {e}"))),
            };
            images.push(NewImage {
                source: format!("prediction:{id}"),
                bytes,
                tag_ids: tags.clone(),
            });
        }
        if images.is_empty() {
            return Err(ProjectError::rejected(
                "BadRequestImageBatch",
                "The batch has no images",
            ));
        }
        self.add_images(&project, images, batch_tags)
    }
}
