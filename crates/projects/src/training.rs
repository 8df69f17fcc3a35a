//! Training: `train` checks the project, records a new iteration as `Training` and queues
//! it; one background thread runs the queue in order, each training through the pipeline's
//! own stages (crop → split → augment → train → evaluate, `kao_pipeline::run`) on the
//! project's work dir. Every state change is committed to the database, so a stop at any
//! point leaves each iteration `Completed`, `Failed` with its reason, or `Training` — and
//! those are queued again at the next start (the stages resume where they stopped), at most
//! [`MAX_ATTEMPTS`] times.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Instant;

use kao_pipeline::{Event, PipelineConfig, RunOptions, Stage};
use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::error::{DbContext, ProjectError, Result};
use crate::model::{Iteration, IterationStatus, TrainProgress, EXPORT_PLATFORMS};
use crate::store::{new_id, now, Store, MIN_IMAGES_PER_TAG};

/// Starts of one training before it is given up as failing (a crash it causes itself
/// would otherwise repeat at every start).
pub const MAX_ATTEMPTS: i64 = 3;

/// The per-face scores of an iteration's test split, beside its model.
pub const SCORES_FILE: &str = "scores.json";

#[derive(Default)]
struct Queue {
    waiting: VecDeque<(String, String)>,
    /// (project, iteration) being trained.
    running: Option<(String, String)>,
    progress: HashMap<String, TrainProgress>,
    closed: bool,
}

pub(crate) struct Trainer {
    queue: Mutex<Queue>,
    wake: Condvar,
}

impl Trainer {
    pub fn new() -> Self {
        Trainer {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, project: &str, iteration: &str) {
        let mut q = self.lock();
        q.waiting
            .push_back((project.to_string(), iteration.to_string()));
        q.progress.insert(
            iteration.to_string(),
            TrainProgress {
                stage: "queued".into(),
                ..TrainProgress::default()
            },
        );
        self.wake.notify_all();
    }

    pub fn is_training_project(&self, project: &str) -> bool {
        let q = self.lock();
        q.running.as_ref().is_some_and(|(p, _)| p == project)
            || q.waiting.iter().any(|(p, _)| p == project)
    }

    pub fn progress(&self, iteration: &str) -> Option<TrainProgress> {
        self.lock().progress.get(iteration).cloned()
    }

    fn update(&self, iteration: &str, f: impl FnOnce(&mut TrainProgress)) {
        if let Some(p) = self.lock().progress.get_mut(iteration) {
            f(p);
        }
    }

    /// Ends the thread once the training in progress (if any) is done.
    pub fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_all();
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.trainer.close();
    }
}

/// Queues the trainings a stop interrupted and starts the thread.
pub(crate) fn start(store: &Arc<Store>) -> Result<()> {
    let interrupted: Vec<(String, String, i64)> = {
        let db = store.db();
        let mut st = db
            .prepare("SELECT project_id, id, attempts FROM iterations WHERE status = 'Training' ORDER BY seq")
            .db(&store.db_path)?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .db(&store.db_path)?
            .collect::<std::result::Result<Vec<_>, _>>()
            .db(&store.db_path)?;
        rows
    };
    for (project, iteration, attempts) in interrupted {
        if attempts >= MAX_ATTEMPTS {
            store.finish_failed(
                &iteration,
                &format!(
                    "the server stopped during this training {attempts} times; it is not tried again (train again to retry)"
                ),
            )?;
        } else {
            tracing::info!(%project, %iteration, "resuming a training the last stop interrupted");
            store.trainer.push(&project, &iteration);
        }
    }
    let weak = Arc::downgrade(store);
    std::thread::Builder::new()
        .name("kao-trainer".into())
        .spawn(move || worker(weak))
        .map_err(ProjectError::io("kao-trainer thread"))?;
    Ok(())
}

fn worker(store: Weak<Store>) {
    loop {
        let next = {
            let Some(s) = store.upgrade() else { return };
            let mut q = s.trainer.lock();
            loop {
                if q.closed {
                    return;
                }
                if let Some(job) = q.waiting.pop_front() {
                    q.running = Some(job.clone());
                    break job;
                }
                // Wait without keeping the store alive: a dropped store ends the thread.
                let (guard, _) = s
                    .trainer
                    .wake
                    .wait_timeout(q, std::time::Duration::from_millis(500))
                    .unwrap_or_else(|p| p.into_inner());
                q = guard;
                if Arc::strong_count(&s) == 1 {
                    return;
                }
            }
        };
        let Some(s) = store.upgrade() else { return };
        let (project, iteration) = next;
        if let Err(e) = s.run_training(&project, &iteration) {
            tracing::error!(%project, %iteration, error = %chain(&e), "training failed");
            if let Err(e2) = s.finish_failed(&iteration, &chain(&e)) {
                tracing::error!(error = %e2, "recording the failed training failed");
            }
        }
        let mut q = s.trainer.lock();
        q.running = None;
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn stage_name(stage: Stage) -> &'static str {
    stage.name()
}

/// What a training would learn from: each tag folder with its tag id, image count and type.
struct Snapshot {
    /// folder → (tag id, images, type)
    tags: BTreeMap<String, (String, u64, String)>,
    signature: String,
}

impl Store {
    fn snapshot(&self, project: &str) -> Result<Snapshot> {
        let db = self.db();
        let mut st = db
            .prepare(
                "SELECT t.id, t.name, t.type, i.content_id FROM image_tags it
                 JOIN tags t ON t.id = it.tag_id JOIN images i ON i.id = it.image_id
                 WHERE t.project_id = ?1 ORDER BY t.id, i.content_id",
            )
            .db(&self.db_path)?;
        let rows = st
            .query_map([project], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .db(&self.db_path)?
            .collect::<std::result::Result<Vec<_>, _>>()
            .db(&self.db_path)?;
        let mut h = Sha256::new();
        let mut tags: BTreeMap<String, (String, u64, String)> = BTreeMap::new();
        for (id, name, kind, content) in rows {
            let folder = Store::tag_folder(&name, &kind);
            h.update(folder.as_bytes());
            h.update([0]);
            h.update(content.as_bytes());
            h.update([0]);
            tags.entry(folder).or_insert((id, 0, kind)).1 += 1;
        }
        Ok(Snapshot {
            tags,
            signature: hex::encode(&h.finalize()[..16]),
        })
    }

    /// Starts training the project: checks that it can be trained and that something
    /// changed since the last iteration (unless `force`), records an iteration with status
    /// `Training`, queues it and returns it at once.
    pub fn train(&self, project: &str, force: bool) -> Result<Iteration> {
        let project = self.check_project(project)?;
        let snap = self.snapshot(&project)?;
        if snap.tags.is_empty() {
            return Err(ProjectError::rejected(
                "BadRequestTrainingValidationFailed",
                "Nothing to train on: the project has no tagged images",
            ));
        }
        let few: Vec<String> = {
            let names = self.tag_map_names(&project)?;
            snap.tags
                .values()
                .filter(|(_, n, _)| *n < MIN_IMAGES_PER_TAG)
                .map(|(id, n, _)| {
                    format!("{:?} has {n}", names.get(id).cloned().unwrap_or_default())
                })
                .collect()
        };
        if !few.is_empty() {
            return Err(ProjectError::rejected(
                "BadRequestTrainingValidationFailed",
                format!(
                    "Every tag needs at least {MIN_IMAGES_PER_TAG} images to be trained: {}",
                    few.join(", ")
                ),
            ));
        }
        let regular = snap
            .tags
            .values()
            .filter(|(_, _, k)| k != "Negative")
            .count();
        if regular < 2 {
            return Err(ProjectError::rejected(
                "BadRequestTrainingValidationFailed",
                "Training needs at least two regular tags with images (two people to tell apart)",
            ));
        }
        let db = self.db();
        let last: Option<String> = db
            .query_row(
                "SELECT signature FROM iterations WHERE project_id = ?1 AND status <> 'Failed' ORDER BY seq DESC LIMIT 1",
                [&project],
                |r| r.get(0),
            )
            .optional()
            .db(&self.db_path)?;
        if !force && last.as_deref() == Some(snap.signature.as_str()) {
            return Err(ProjectError::rejected(
                "BadRequestTrainingNotNeeded",
                "Nothing changed since the last training: no image or tag was added, removed or changed",
            ));
        }
        let count: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM iterations WHERE project_id = ?1",
                [&project],
                |r| r.get(0),
            )
            .db(&self.db_path)?;
        let id = new_id();
        let now = now();
        db.execute(
            "INSERT INTO iterations (id, project_id, name, status, created, last_modified, signature)
             VALUES (?1, ?2, ?3, 'Training', ?4, ?4, ?5)",
            params![id, project, format!("Iteration {}", count + 1), now, snap.signature],
        )
        .db(&self.db_path)?;
        drop(db);
        self.trainer.push(&project, &id);
        self.iteration(&project, &id)
    }

    fn tag_map_names(&self, project: &str) -> Result<HashMap<String, String>> {
        let db = self.db();
        let mut st = db
            .prepare("SELECT id, name FROM tags WHERE project_id = ?1")
            .db(&self.db_path)?;
        let rows = st
            .query_map([project], |r| Ok((r.get(0)?, r.get(1)?)))
            .db(&self.db_path)?
            .collect::<std::result::Result<HashMap<_, _>, _>>()
            .db(&self.db_path)?;
        Ok(rows)
    }

    fn finish_failed(&self, iteration: &str, reason: &str) -> Result<()> {
        self.db()
            .execute(
                "UPDATE iterations SET status = 'Failed', error = ?2, last_modified = ?3 WHERE id = ?1",
                params![iteration, reason, now()],
            )
            .db(&self.db_path)?;
        self.trainer
            .update(iteration, |p| p.stage = "failed".into());
        Ok(())
    }

    /// One training, start to end (called by the training thread).
    fn run_training(&self, project: &str, iteration: &str) -> Result<()> {
        let started = Instant::now();
        self.db()
            .execute(
                "UPDATE iterations SET attempts = attempts + 1, last_modified = ?2 WHERE id = ?1",
                params![iteration, now()],
            )
            .db(&self.db_path)?;
        let work = self.work_dir(project);
        let events = |e: Event| match e {
            Event::Started { stage } => self.trainer.update(iteration, |p| {
                p.stage = stage_name(stage).into();
                p.phase.clear();
                p.done = 0;
                p.total = 0;
            }),
            Event::Progress {
                stage,
                phase,
                done,
                total,
            } => self.trainer.update(iteration, |p| {
                p.stage = stage_name(stage).into();
                p.phase = phase.into();
                p.done = done;
                p.total = total;
            }),
            Event::Finished { report } => self.trainer.update(iteration, |p| {
                if report.status == kao_pipeline::Status::Ran {
                    p.stages.push(report);
                }
            }),
            Event::Warning { stage, message } => {
                tracing::warn!(%project, %iteration, "{stage}: {message}");
            }
        };
        // The crop stage reads raw/ while nothing moves in it; later stages read only what
        // the crop wrote.
        let config = {
            let locks = self.locks(project);
            let _files = locks.files.lock().unwrap_or_else(|p| p.into_inner());
            let snap = self.snapshot(project)?;
            self.write_tag_ids(&work, &snap)?;
            let folders: Vec<String> = snap.tags.keys().cloned().collect();
            let config = PipelineConfig::for_tags(work.root(), &folders);
            kao_pipeline::run(
                &config,
                &RunOptions {
                    from: Some(Stage::Crop),
                    until: Some(Stage::Crop),
                    force: false,
                },
                &events,
            )?;
            config
        };
        let report = kao_pipeline::run(
            &config,
            &RunOptions {
                from: Some(Stage::Split),
                until: Some(Stage::Evaluate),
                force: false,
            },
            &events,
        )?;
        let n = report.iteration.ok_or_else(|| {
            ProjectError::rejected("ErrorUnknown", "the pipeline ran but trained no iteration")
        })?;
        let scores = crate::performance::stored_faces(&work, n)?;
        kao_dataset::write_atomic_json(&work.iteration(n).join(SCORES_FILE), &scores)?;
        self.trainer.update(iteration, |p| {
            p.stage = "done".into();
            p.phase.clear();
        });
        let progress = self.trainer.progress(iteration);
        let seconds = started.elapsed().as_secs_f64();
        self.db()
            .execute(
                "UPDATE iterations SET status = 'Completed', number = ?2, trained_at = ?3, last_modified = ?3,
                    training_seconds = ?4, progress = ?5 WHERE id = ?1",
                params![
                    iteration,
                    n,
                    now(),
                    seconds,
                    progress.map(|p| serde_json::to_string(&p).unwrap_or_default())
                ],
            )
            .db(&self.db_path)?;
        Ok(())
    }

    /// `tags.json` (tag folder → tag id), so the model's tags carry the API's ids.
    fn write_tag_ids(&self, work: &kao_dataset::WorkDir, snap: &Snapshot) -> Result<()> {
        let path = work.tags();
        let mut ids: BTreeMap<String, String> = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        for (folder, (id, _, _)) in &snap.tags {
            ids.insert(folder.clone(), id.clone());
        }
        kao_dataset::write_atomic_json(&path, &ids)?;
        Ok(())
    }

    // ---- iterations ----

    fn iteration_row(&self, r: &rusqlite::Row<'_>) -> rusqlite::Result<Iteration> {
        let id: String = r.get(0)?;
        let status = IterationStatus::parse(&r.get::<_, String>(3)?);
        let stored: Option<String> = r.get(11)?;
        let progress = match status {
            IterationStatus::Training => self.trainer.progress(&id),
            _ => stored.and_then(|s| serde_json::from_str(&s).ok()),
        };
        let seconds: Option<f64> = r.get(8)?;
        Ok(Iteration {
            name: r.get(2)?,
            status: status.as_str().into(),
            created: r.get(4)?,
            last_modified: r.get(5)?,
            trained_at: r.get(6)?,
            project_id: r.get(1)?,
            // What the Training API's export route makes of a trained iteration.
            exportable: status == IterationStatus::Completed,
            exportable_to: if status == IterationStatus::Completed {
                EXPORT_PLATFORMS.iter().map(|p| p.to_string()).collect()
            } else {
                Vec::new()
            },
            domain_id: crate::model::FACE_DOMAIN_ID.into(),
            classification_type: "Multiclass".into(),
            training_type: "Regular".into(),
            reserved_budget_in_hours: 0,
            training_time_in_minutes: seconds.map_or(0, |s| (s / 60.0).ceil() as u32),
            publish_name: r.get(9)?,
            original_publish_resource_id: r.get(10)?,
            training_error_details: r.get(7)?,
            kao_iteration: r.get::<_, Option<i64>>(12)?.map(|n| n as u32),
            kao_progress: progress,
            id,
        })
    }

    const ITERATION_SELECT: &'static str = "SELECT id, project_id, name, status, created, last_modified, trained_at,
            error, training_seconds, publish_name, prediction_resource_id, progress, number FROM iterations";

    pub fn iterations(&self, project: &str) -> Result<Vec<Iteration>> {
        let project = self.check_project(project)?;
        let db = self.db();
        let mut st = db
            .prepare(&format!(
                "{} WHERE project_id = ?1 ORDER BY seq DESC",
                Self::ITERATION_SELECT
            ))
            .db(&self.db_path)?;
        let rows = st
            .query_map([&project], |r| self.iteration_row(r))
            .db(&self.db_path)?
            .collect::<std::result::Result<Vec<_>, _>>()
            .db(&self.db_path)?;
        Ok(rows)
    }

    pub fn iteration(&self, project: &str, id: &str) -> Result<Iteration> {
        let project = self.check_project(project)?;
        self.db()
            .query_row(
                &format!(
                    "{} WHERE project_id = ?1 AND id = ?2",
                    Self::ITERATION_SELECT
                ),
                params![project, id.trim().to_ascii_lowercase()],
                |r| self.iteration_row(r),
            )
            .optional()
            .db(&self.db_path)?
            .ok_or_else(|| ProjectError::not_found_iteration(id))
    }

    pub fn rename_iteration(&self, project: &str, id: &str, name: &str) -> Result<Iteration> {
        let it = self.iteration(project, id)?;
        if name.trim().is_empty() {
            return Err(ProjectError::rejected(
                "BadRequestIterationName",
                "An iteration name cannot be empty",
            ));
        }
        self.db()
            .execute(
                "UPDATE iterations SET name = ?2, last_modified = ?3 WHERE id = ?1",
                params![it.id, name, now()],
            )
            .db(&self.db_path)?;
        self.iteration(project, id)
    }

    /// Deletes an iteration and its folder; refused while it trains or is published.
    pub fn delete_iteration(&self, project: &str, id: &str) -> Result<()> {
        let it = self.iteration(project, id)?;
        if it.status == "Training" {
            return Err(ProjectError::rejected(
                "BadRequestTrainingAlreadyInProgress",
                "The iteration is training; delete it once it has completed",
            ));
        }
        if it.publish_name.is_some() {
            return Err(ProjectError::rejected(
                "BadRequestIterationIsPublished",
                "The iteration is published: unpublish it first",
            ));
        }
        self.db()
            .execute("DELETE FROM iterations WHERE id = ?1", [&it.id])
            .db(&self.db_path)?;
        if let Some(n) = it.kao_iteration {
            let dir = self.work_dir(&it.project_id).iteration(n);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(ProjectError::io(&dir))?;
            }
        }
        Ok(())
    }

    /// A completed iteration's number in the work dir, or the error Custom Vision gives.
    pub fn trained_number(&self, project: &str, id: &str) -> Result<(String, u32)> {
        let it = self.iteration(project, id)?;
        match (it.status.as_str(), it.kao_iteration) {
            ("Completed", Some(n)) => Ok((it.project_id, n)),
            _ => Err(ProjectError::rejected(
                "BadRequestIterationIsNotTrained",
                format!("Iteration {} is {}, not trained", it.id, it.status),
            )),
        }
    }

    /// Publishes a completed iteration under `name` on this server's Prediction API.
    pub fn publish(
        &self,
        project: &str,
        id: &str,
        name: &str,
        prediction_id: &str,
    ) -> Result<Iteration> {
        let (project, n) = self.trained_number(project, id)?;
        if name.trim().is_empty() || name.contains('/') {
            return Err(ProjectError::rejected(
                "BadRequestInvalidPublishName",
                format!("Publish name {name:?} is empty or has a '/'"),
            ));
        }
        let work = self.work_dir(&project);
        kao_infer::publish(&work, n, name)?;
        {
            let db = self.db();
            // A name points at one iteration, and an iteration has one name (Custom Vision's rule,
            // kept by kao_infer::publish for published.json).
            db.execute(
                "UPDATE iterations SET publish_name = NULL, prediction_resource_id = NULL
                 WHERE project_id = ?1 AND publish_name = ?2",
                params![project, name],
            )
            .db(&self.db_path)?;
            db.execute(
                "UPDATE iterations SET publish_name = ?2, prediction_resource_id = ?3, last_modified = ?4 WHERE id = ?1",
                params![id.trim().to_ascii_lowercase(), name, prediction_id, now()],
            )
            .db(&self.db_path)?;
        }
        self.iteration(&project, id)
    }

    pub fn unpublish(&self, project: &str, id: &str) -> Result<()> {
        let it = self.iteration(project, id)?;
        let Some(name) = it.publish_name.clone() else {
            return Err(ProjectError::rejected(
                "BadRequestIterationNotPublished",
                format!("Iteration {} is not published", it.id),
            ));
        };
        kao_infer::unpublish(&self.work_dir(&it.project_id), &name)?;
        self.db()
            .execute(
                "UPDATE iterations SET publish_name = NULL, prediction_resource_id = NULL, last_modified = ?2 WHERE id = ?1",
                params![it.id, now()],
            )
            .db(&self.db_path)?;
        Ok(())
    }

    /// The API id of the iteration trained as number `n` in the project (for prediction answers).
    pub fn iteration_id_of(&self, project: &str, n: u32) -> Result<Option<String>> {
        self.db()
            .query_row(
                "SELECT id FROM iterations WHERE project_id = ?1 AND number = ?2",
                params![project.to_ascii_lowercase(), n],
                |r| r.get(0),
            )
            .optional()
            .db(&self.db_path)
    }
}
