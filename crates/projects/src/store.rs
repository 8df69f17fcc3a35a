//! The project store: `ROOT/kao.db` for the bookkeeping, `ROOT/projects/<id>/` as each
//! project's work dir (the layout `kao_dataset::WorkDir` describes, so every `kao` stage
//! and `kao pipeline` work on it), projects and tags.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use kao_dataset::{Manifest, WorkDir};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{DbContext, ProjectError, Result};
use crate::model::{
    Project, ProjectSettings, ProjectUpdate, Tag, FACE_DOMAIN_ID, GENERAL_DOMAIN_ID,
};
use crate::training::Trainer;

/// Name of the database file in the root.
pub const DB_FILE: &str = "kao.db";

/// Custom Vision's limits, kept by Kao too.
pub const MAX_BATCH_IMAGES: usize = 64;
pub const MAX_BATCH_TAGS: usize = 20;
/// Largest training image (Custom Vision's 6 MB).
pub const MAX_IMAGE_BYTES: usize = 6 * 1024 * 1024;
/// Fewest images a tag needs to be trained on.
pub const MIN_IMAGES_PER_TAG: u64 = 5;

/// Per-project state that lives only in memory.
#[derive(Default)]
pub(crate) struct ProjectLocks {
    /// Held by whoever moves or removes image files in `raw/`, and by the crop stage while
    /// it reads `raw/`: a training sees one consistent tree.
    pub files: Mutex<()>,
    /// `raw/manifest.jsonl`, opened once.
    pub manifest: Mutex<Option<Arc<Manifest<kao_crawl::RawRecord>>>>,
}

/// (project id, iteration number in its work dir).
type IterationKey = (String, u32);

/// Every project under one root. Cheap to share (`Arc`); every method is blocking and
/// thread-safe.
pub struct Store {
    pub(crate) root: PathBuf,
    pub(crate) db_path: PathBuf,
    conn: Mutex<Connection>,
    locks: Mutex<HashMap<String, Arc<ProjectLocks>>>,
    pub(crate) trainer: Trainer,
    scores: Mutex<HashMap<(String, u32), Arc<crate::performance::Scored>>>,
    predictors: Mutex<Vec<(IterationKey, Arc<kao_infer::Predictor>)>>,
    /// Per project, the crop stage's records indexed by photo.
    pub(crate) crops: Mutex<HashMap<String, Arc<crate::files::CropIndex>>>,
}

/// How [`Store::open`] starts.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Run queued trainings in a background thread (off for tools that only read or import).
    pub train: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { train: true }
    }
}

pub(crate) fn now() -> String {
    kao_infer::now_rfc3339()
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Store {
    /// Opens the store under `root` (created if missing), brings every project's files in
    /// line with the database (an interrupted move finished, files no record names removed),
    /// and, with `options.train`, starts the training thread, which first resumes the
    /// trainings a stop interrupted.
    pub fn open(root: &Path, options: StoreOptions) -> Result<Arc<Store>> {
        std::fs::create_dir_all(root.join("projects"))
            .map_err(ProjectError::io(root.join("projects")))?;
        let db_path = root.join(DB_FILE);
        let conn = crate::db::open(&db_path)?;
        let store = Arc::new(Store {
            root: root.to_path_buf(),
            db_path,
            conn: Mutex::new(conn),
            locks: Mutex::new(HashMap::new()),
            trainer: Trainer::new(),
            scores: Mutex::new(HashMap::new()),
            predictors: Mutex::new(Vec::new()),
            crops: Mutex::new(HashMap::new()),
        });
        store.remove_deleted_projects()?;
        for p in store.project_ids()? {
            store.reconcile(&p)?;
        }
        if options.train {
            crate::training::start(&store)?;
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn db(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn scores_cache(
        &self,
    ) -> MutexGuard<'_, HashMap<(String, u32), Arc<crate::performance::Scored>>> {
        self.scores.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The Predictor of a trained iteration, loaded once; the last few stay loaded.
    pub fn predictor(&self, project: &str, n: u32) -> Result<Arc<kao_infer::Predictor>> {
        const KEEP: usize = 4;
        let key = (project.to_string(), n);
        if let Some((_, p)) = self
            .predictors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(k, _)| *k == key)
        {
            return Ok(Arc::clone(p));
        }
        let p = Arc::new(kao_infer::Predictor::load(
            &self.work_dir(project).iteration(n),
        )?);
        let mut all = self.predictors.lock().unwrap_or_else(|p| p.into_inner());
        all.push((key, Arc::clone(&p)));
        if all.len() > KEEP {
            all.remove(0);
        }
        Ok(p)
    }

    pub(crate) fn locks(&self, project: &str) -> Arc<ProjectLocks> {
        let mut all = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(all.entry(project.to_string()).or_default())
    }

    /// The work dir of a project (whether or not it exists).
    pub fn work_dir(&self, project: &str) -> WorkDir {
        WorkDir::new(self.root.join("projects").join(project))
    }

    pub(crate) fn project_ids(&self) -> Result<Vec<String>> {
        let db = self.db();
        let mut st = db
            .prepare("SELECT id FROM projects ORDER BY created")
            .db(&self.db_path)?;
        let ids = st
            .query_map([], |r| r.get::<_, String>(0))
            .db(&self.db_path)?
            .collect::<std::result::Result<Vec<_>, _>>()
            .db(&self.db_path)?;
        Ok(ids)
    }

    /// Folders under `projects/` that no project owns: a delete that stopped half-way.
    fn remove_deleted_projects(&self) -> Result<()> {
        let known: std::collections::HashSet<String> = self.project_ids()?.into_iter().collect();
        let dir = self.root.join("projects");
        for entry in std::fs::read_dir(&dir)
            .map_err(ProjectError::io(&dir))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir()
                && uuid::Uuid::parse_str(&name).is_ok()
                && !known.contains(&name)
            {
                tracing::warn!(dir = %entry.path().display(), "removing the folder of a deleted project");
                std::fs::remove_dir_all(entry.path()).map_err(ProjectError::io(entry.path()))?;
            }
        }
        Ok(())
    }

    // ---- projects ----

    fn check_domain(domain: &str) -> Result<()> {
        if domain.eq_ignore_ascii_case(FACE_DOMAIN_ID)
            || domain.eq_ignore_ascii_case(GENERAL_DOMAIN_ID)
        {
            Ok(())
        } else {
            Err(ProjectError::rejected(
                "BadRequestProjectUnknownDomain",
                format!(
                    "Unknown domain {domain}: Kao has one domain, Faces ({FACE_DOMAIN_ID}); \
                     Custom Vision's General classification domain is accepted as the same"
                ),
            ))
        }
    }

    fn check_classification(kind: &str) -> Result<&'static str> {
        if kind.eq_ignore_ascii_case("multiclass") {
            Ok("Multiclass")
        } else if kind.eq_ignore_ascii_case("multilabel") {
            Err(ProjectError::rejected(
                "BadRequestProjectUnknownClassification",
                "Multilabel projects are not supported: Kao identifies one person per photo \
                 (classificationType Multiclass)",
            ))
        } else {
            Err(ProjectError::rejected(
                "BadRequestProjectUnknownClassification",
                format!("Unknown classificationType {kind:?}: Kao supports Multiclass"),
            ))
        }
    }

    fn check_name(name: &str) -> Result<()> {
        if name.trim().is_empty() || name.len() > 256 {
            return Err(ProjectError::rejected(
                "BadRequestProjectName",
                "A project name must be 1 to 256 characters",
            ));
        }
        Ok(())
    }

    pub fn create_project(
        &self,
        name: &str,
        description: Option<&str>,
        domain_id: Option<&str>,
        classification_type: Option<&str>,
    ) -> Result<Project> {
        self.insert_project(&new_id(), name, description, domain_id, classification_type)
    }

    /// A project with a given id (a UUID): `kao import` keeps the remote project's.
    pub fn create_project_with_id(
        &self,
        id: &str,
        name: &str,
        description: Option<&str>,
    ) -> Result<Project> {
        let id = uuid::Uuid::parse_str(id)
            .map_err(|e| ProjectError::rejected("BadRequestInvalidIds", format!("{id}: {e}")))?
            .to_string();
        self.insert_project(&id, name, description, None, None)
    }

    fn insert_project(
        &self,
        id: &str,
        name: &str,
        description: Option<&str>,
        domain_id: Option<&str>,
        classification_type: Option<&str>,
    ) -> Result<Project> {
        Self::check_name(name)?;
        let domain = domain_id.unwrap_or(FACE_DOMAIN_ID);
        Self::check_domain(domain)?;
        let classification =
            Self::check_classification(classification_type.unwrap_or("Multiclass"))?;
        let id = id.to_string();
        let now = now();
        {
            let db = self.db();
            db.execute(
                "INSERT INTO projects (id, name, description, domain_id, classification_type, created, last_modified)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![id, name, description.unwrap_or(""), FACE_DOMAIN_ID, classification, now],
            )
            .db(&self.db_path)?;
        }
        let work = self.work_dir(&id);
        std::fs::create_dir_all(work.raw()).map_err(ProjectError::io(work.raw()))?;
        // The work dir's own project id is the API's, so `kao serve --work` on it answers
        // the same prediction URLs.
        kao_dataset::write_atomic_json(
            &work.project_id(),
            &kao_infer::Project {
                id: id.clone(),
                created_at: now,
            },
        )?;
        self.project(&id)
    }

    fn project_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Project> {
        Ok(Project {
            id: r.get(0)?,
            name: r.get(1)?,
            description: r.get(2)?,
            settings: ProjectSettings {
                domain_id: r.get(3)?,
                classification_type: r.get(4)?,
                target_export_platforms: Vec::new(),
                use_negative_set: true,
                store_predictions: r.get::<_, i64>(5)? != 0,
            },
            created: r.get(6)?,
            last_modified: r.get(7)?,
            thumbnail_uri: None,
            dr_mode_enabled: false,
            status: "Succeeded".into(),
            image_count: r.get::<_, i64>(8)? as u64,
            tag_count: r.get::<_, i64>(9)? as u64,
        })
    }

    const PROJECT_SELECT: &'static str =
        "SELECT p.id, p.name, p.description, p.domain_id, p.classification_type,
            p.store_predictions, p.created, p.last_modified,
            (SELECT COUNT(*) FROM images i WHERE i.project_id = p.id),
            (SELECT COUNT(*) FROM tags t WHERE t.project_id = p.id)
         FROM projects p";

    pub fn projects(&self) -> Result<Vec<Project>> {
        let db = self.db();
        let mut st = db
            .prepare(&format!("{} ORDER BY p.created", Self::PROJECT_SELECT))
            .db(&self.db_path)?;
        let rows = st
            .query_map([], Self::project_row)
            .db(&self.db_path)?
            .collect::<std::result::Result<Vec<_>, _>>()
            .db(&self.db_path)?;
        Ok(rows)
    }

    pub fn project(&self, id: &str) -> Result<Project> {
        let db = self.db();
        db.query_row(
            &format!("{} WHERE p.id = ?1", Self::PROJECT_SELECT),
            [id.to_ascii_lowercase()],
            Self::project_row,
        )
        .optional()
        .db(&self.db_path)?
        .ok_or_else(|| ProjectError::not_found_project(id))
    }

    /// The project's canonical id (lower case), or `NotFoundProject`.
    pub(crate) fn check_project(&self, id: &str) -> Result<String> {
        let id = id.to_ascii_lowercase();
        let found: Option<i64> = self
            .db()
            .query_row("SELECT 1 FROM projects WHERE id = ?1", [&id], |r| r.get(0))
            .optional()
            .db(&self.db_path)?;
        found
            .map(|_| id.clone())
            .ok_or_else(|| ProjectError::not_found_project(&id))
    }

    pub fn update_project(&self, id: &str, update: &ProjectUpdate) -> Result<Project> {
        let id = self.check_project(id)?;
        if let Some(n) = &update.name {
            Self::check_name(n)?;
        }
        if let Some(d) = &update.domain_id {
            Self::check_domain(d)?;
        }
        let classification = update
            .classification_type
            .as_deref()
            .map(Self::check_classification)
            .transpose()?;
        {
            let db = self.db();
            db.execute(
                "UPDATE projects SET name = COALESCE(?2, name), description = COALESCE(?3, description),
                    classification_type = COALESCE(?4, classification_type),
                    store_predictions = COALESCE(?5, store_predictions), last_modified = ?6
                 WHERE id = ?1",
                params![
                    id,
                    update.name,
                    update.description,
                    classification,
                    update.store_predictions.map(i64::from),
                    now()
                ],
            )
            .db(&self.db_path)?;
        }
        self.project(&id)
    }

    /// Deletes a project, its records and its work dir. Refused while it trains.
    pub fn delete_project(&self, id: &str) -> Result<()> {
        let id = self.check_project(id)?;
        if self.trainer.is_training_project(&id) {
            return Err(ProjectError::rejected(
                "BadRequestTrainingAlreadyInProgress",
                "The project is training; delete it once the iteration has completed",
            ));
        }
        self.db()
            .execute("DELETE FROM projects WHERE id = ?1", [&id])
            .db(&self.db_path)?;
        // Records first: a crash now leaves a folder no project owns, removed at the next open.
        let work = self.work_dir(&id);
        if work.root().exists() {
            std::fs::remove_dir_all(work.root()).map_err(ProjectError::io(work.root()))?;
        }
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        self.crops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        Ok(())
    }

    // ---- tags ----

    /// The folder of `raw/` a tag's images live in: the tag's name, or `Negative` for the
    /// Negative tag whatever it is called (the name kao-train gives "none of these people").
    pub(crate) fn tag_folder(name: &str, kind: &str) -> String {
        if kind == "Negative" {
            "Negative".to_string()
        } else {
            name.to_string()
        }
    }

    fn check_tag_name(name: &str, kind: &str) -> Result<()> {
        kao_dataset::validate_tag(name)
            .map_err(|e| ProjectError::rejected("BadRequestTagName", e.to_string()))?;
        if kind == "Regular" && kao_train::is_negative(name) {
            return Err(ProjectError::rejected(
                "BadRequestTagName",
                format!("{name:?} is reserved for the Negative tag: create it with type Negative"),
            ));
        }
        Ok(())
    }

    fn tag_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Tag> {
        Ok(Tag {
            id: r.get(0)?,
            name: r.get(1)?,
            description: r.get(2)?,
            kind: r.get(3)?,
            image_count: r.get::<_, i64>(4)? as u64,
        })
    }

    const TAG_SELECT: &'static str = "SELECT t.id, t.name, t.description, t.type,
            (SELECT COUNT(*) FROM image_tags it WHERE it.tag_id = t.id) FROM tags t";

    pub fn create_tag(
        &self,
        project: &str,
        name: &str,
        description: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Tag> {
        self.insert_tag(project, &new_id(), name, description, kind)
    }

    /// A tag with a given id (a UUID): `kao import` keeps the remote tags'.
    pub fn create_tag_with_id(
        &self,
        project: &str,
        id: &str,
        name: &str,
        kind: Option<&str>,
    ) -> Result<Tag> {
        let id = uuid::Uuid::parse_str(id)
            .map_err(|e| ProjectError::rejected("BadRequestInvalidIds", format!("{id}: {e}")))?
            .to_string();
        self.insert_tag(project, &id, name, None, kind)
    }

    fn insert_tag(
        &self,
        project: &str,
        id: &str,
        name: &str,
        description: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Tag> {
        let id = id.to_string();
        let project = self.check_project(project)?;
        let kind = match kind.unwrap_or("Regular") {
            k if k.eq_ignore_ascii_case("regular") => "Regular",
            k if k.eq_ignore_ascii_case("negative") => "Negative",
            k => {
                return Err(ProjectError::rejected(
                    "BadRequestTagType",
                    format!("Tag type {k:?} is not supported: Regular or Negative"),
                ))
            }
        };
        Self::check_tag_name(name, kind)?;
        let db = self.db();
        let tx = db.unchecked_transaction().db(&self.db_path)?;
        let clash: Option<String> = tx
            .query_row(
                "SELECT name FROM tags WHERE project_id = ?1 AND name = ?2 COLLATE NOCASE",
                params![project, name],
                |r| r.get(0),
            )
            .optional()
            .db(&self.db_path)?;
        if clash.is_some() {
            return Err(ProjectError::rejected(
                "BadRequestTagNameNotUnique",
                format!("The project already has a tag named {name:?}"),
            ));
        }
        if kind == "Negative" {
            let negatives: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM tags WHERE project_id = ?1 AND type = 'Negative'",
                    [&project],
                    |r| r.get(0),
                )
                .db(&self.db_path)?;
            if negatives > 0 {
                return Err(ProjectError::rejected(
                    "BadRequestMultipleNegativeTag",
                    "The project already has a Negative tag",
                ));
            }
        }
        tx.execute(
            "INSERT INTO tags (id, project_id, name, description, type, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, project, name, description.unwrap_or(""), kind, now()],
        )
        .db(&self.db_path)?;
        tx.commit().db(&self.db_path)?;
        Ok(Tag {
            id,
            name: name.to_string(),
            description: description.unwrap_or("").to_string(),
            kind: kind.to_string(),
            image_count: 0,
        })
    }

    pub fn tags(&self, project: &str) -> Result<Vec<Tag>> {
        let project = self.check_project(project)?;
        let db = self.db();
        let mut st = db
            .prepare(&format!(
                "{} WHERE t.project_id = ?1 ORDER BY t.created, t.name",
                Self::TAG_SELECT
            ))
            .db(&self.db_path)?;
        let rows = st
            .query_map([&project], Self::tag_row)
            .db(&self.db_path)?
            .collect::<std::result::Result<Vec<_>, _>>()
            .db(&self.db_path)?;
        Ok(rows)
    }

    pub fn tag(&self, project: &str, tag: &str) -> Result<Tag> {
        let project = self.check_project(project)?;
        self.db()
            .query_row(
                &format!("{} WHERE t.project_id = ?1 AND t.id = ?2", Self::TAG_SELECT),
                params![project, tag.to_ascii_lowercase()],
                Self::tag_row,
            )
            .optional()
            .db(&self.db_path)?
            .ok_or_else(|| ProjectError::not_found_tag(tag))
    }

    /// Renames a tag or changes its description or type; a changed folder name moves the
    /// tag's images in `raw/` (chips are cut again at the next training).
    pub fn update_tag(
        &self,
        project: &str,
        tag: &str,
        name: Option<&str>,
        description: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Tag> {
        let old = self.tag(project, tag)?;
        let project = self.check_project(project)?;
        let kind = match kind {
            None => old.kind.clone(),
            Some(k) if k.eq_ignore_ascii_case("regular") => "Regular".into(),
            Some(k) if k.eq_ignore_ascii_case("negative") => "Negative".into(),
            Some(k) => {
                return Err(ProjectError::rejected(
                    "BadRequestTagType",
                    format!("Tag type {k:?} is not supported: Regular or Negative"),
                ))
            }
        };
        let name = name.unwrap_or(&old.name).to_string();
        Self::check_tag_name(&name, &kind)?;
        {
            let db = self.db();
            let clash: Option<String> = db
                .query_row(
                    "SELECT id FROM tags WHERE project_id = ?1 AND name = ?2 COLLATE NOCASE AND id <> ?3",
                    params![project, name, old.id],
                    |r| r.get(0),
                )
                .optional()
                .db(&self.db_path)?;
            if clash.is_some() {
                return Err(ProjectError::rejected(
                    "BadRequestTagNameNotUnique",
                    format!("The project already has a tag named {name:?}"),
                ));
            }
            if kind == "Negative" && old.kind != "Negative" {
                let negatives: i64 = db
                    .query_row(
                        "SELECT COUNT(*) FROM tags WHERE project_id = ?1 AND type = 'Negative'",
                        [&project],
                        |r| r.get(0),
                    )
                    .db(&self.db_path)?;
                if negatives > 0 {
                    return Err(ProjectError::rejected(
                        "BadRequestMultipleNegativeTag",
                        "The project already has a Negative tag",
                    ));
                }
            }
            db.execute(
                "UPDATE tags SET name = ?2, description = COALESCE(?3, description), type = ?4 WHERE id = ?1",
                params![old.id, name, description, kind],
            )
            .db(&self.db_path)?;
        }
        if Self::tag_folder(&name, &kind) != Self::tag_folder(&old.name, &old.kind) {
            let images = self.image_ids_with_tag(&old.id)?;
            self.place_images(&project, &images)?;
        }
        self.tag(&project, &old.id)
    }

    /// Deletes a tag; its images stay, untagged.
    pub fn delete_tag(&self, project: &str, tag: &str) -> Result<()> {
        let old = self.tag(project, tag)?;
        let project = self.check_project(project)?;
        let images = self.image_ids_with_tag(&old.id)?;
        self.db()
            .execute("DELETE FROM tags WHERE id = ?1", [&old.id])
            .db(&self.db_path)?;
        self.place_images(&project, &images)
    }

    fn image_ids_with_tag(&self, tag: &str) -> Result<Vec<String>> {
        let db = self.db();
        let mut st = db
            .prepare("SELECT image_id FROM image_tags WHERE tag_id = ?1")
            .db(&self.db_path)?;
        let ids = st
            .query_map([tag], |r| r.get::<_, String>(0))
            .db(&self.db_path)?
            .collect::<std::result::Result<Vec<_>, _>>()
            .db(&self.db_path)?;
        Ok(ids)
    }
}
