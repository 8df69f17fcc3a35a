//! The published models, swapped in whole when `published.json` changes: a request takes
//! an `Arc` of the catalog it started with and keeps it, so a publish never fails a
//! request in flight, and loading happens on a blocking thread, never on the async ones.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use kao_dataset::WorkDir;
use kao_infer::Predictor;

use crate::error::ServeError;

/// One published name and the model it answers with.
pub(crate) struct Served {
    pub name: String,
    pub iteration: u32,
    /// UUID-shaped, as Custom Vision's iteration ids (SDKs parse them as GUIDs); derived from
    /// the project and the head's checksum, so a retrained iteration gets a new one.
    pub iteration_id: String,
    pub predictor: Arc<Predictor>,
}

/// Every published name at one moment, plus the bytes of `published.json` it was read
/// from (to notice the next change).
#[derive(Default)]
pub(crate) struct Catalog {
    pub served: BTreeMap<String, Arc<Served>>,
    source: Option<Vec<u8>>,
}

impl Catalog {
    pub fn get(&self, name: &str) -> Option<Arc<Served>> {
        self.served.get(name).cloned()
    }

    pub fn names(&self) -> Vec<(String, u32)> {
        self.served
            .values()
            .map(|s| (s.name.clone(), s.iteration))
            .collect()
    }
}

/// The current catalog and how to make the next one.
pub(crate) struct Live {
    work: WorkDir,
    project_id: String,
    /// The project store (`--root`), whose iteration ids the answers carry.
    store: Option<Arc<kao_projects::Store>>,
    current: RwLock<Arc<Catalog>>,
    /// Serialises reloads, so a burst of misses loads a new iteration once.
    reloading: tokio::sync::Mutex<()>,
}

impl Live {
    /// Loads what is published now (blocking: call before serving, or from a blocking thread).
    pub fn open(
        work: WorkDir,
        project_id: String,
        store: Option<Arc<kao_projects::Store>>,
    ) -> Result<Live, ServeError> {
        let live = Live {
            work,
            project_id,
            store,
            current: RwLock::new(Arc::new(Catalog::default())),
            reloading: tokio::sync::Mutex::new(()),
        };
        if let Some(next) = live.load_if_changed()? {
            live.swap(next);
        }
        Ok(live)
    }

    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    pub fn current(&self) -> Arc<Catalog> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn swap(&self, next: Catalog) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
    }

    /// Reads `published.json` and, when its bytes changed, builds the next catalog, reusing
    /// the predictors of iterations that stay published. `None` when nothing changed.
    fn load_if_changed(&self) -> Result<Option<Catalog>, ServeError> {
        let path = self.work.published();
        let bytes = match std::fs::read(&path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(ServeError::Io { path, source }),
        };
        let old = self.current();
        if old.source == bytes {
            return Ok(None);
        }
        let mut by_iteration: BTreeMap<u32, Arc<Served>> = old
            .served
            .values()
            .map(|s| (s.iteration, Arc::clone(s)))
            .collect();
        let mut served = BTreeMap::new();
        for p in kao_infer::read_published(&self.work)? {
            let reused = by_iteration.remove(&p.iteration);
            let (predictor, iteration_id) = match reused {
                Some(s) => (Arc::clone(&s.predictor), s.iteration_id.clone()),
                None => {
                    let predictor = Predictor::load(&self.work.iteration(p.iteration))?;
                    let id = self
                        .store
                        .as_ref()
                        .and_then(|s| {
                            s.iteration_id_of(&self.project_id, p.iteration)
                                .ok()
                                .flatten()
                        })
                        .unwrap_or_else(|| {
                            kao_infer::iteration_id(&self.project_id, predictor.artifact())
                        });
                    tracing::info!(name = %p.name, iteration = p.iteration, "loaded published iteration");
                    (Arc::new(predictor), id)
                }
            };
            served.insert(
                p.name.clone(),
                Arc::new(Served {
                    name: p.name,
                    iteration: p.iteration,
                    iteration_id,
                    predictor,
                }),
            );
        }
        Ok(Some(Catalog {
            served,
            source: bytes,
        }))
    }

    /// Checks for a new publish off the async threads and swaps it in; returns whether the
    /// catalog changed. A failed load keeps the old catalog serving.
    pub async fn refresh(self: &Arc<Self>) -> Result<bool, ServeError> {
        let _guard = self.reloading.lock().await;
        let me = Arc::clone(self);
        let loaded = tokio::task::spawn_blocking(move || me.load_if_changed())
            .await
            .map_err(|e| ServeError::Task(e.to_string()))??;
        match loaded {
            Some(next) => {
                self.swap(next);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// The projects the prediction routes answer for: the one work dir of `--work`, or every
/// project of the `--root` store, each loaded on its first request.
pub(crate) struct Projects {
    single: Option<(String, Arc<Live>)>,
    store: Option<Arc<kao_projects::Store>>,
    loaded: RwLock<BTreeMap<String, Arc<Live>>>,
}

impl Projects {
    pub fn single(project_id: String, live: Arc<Live>) -> Self {
        Projects {
            single: Some((project_id, live)),
            store: None,
            loaded: RwLock::new(BTreeMap::new()),
        }
    }

    pub fn root(store: Arc<kao_projects::Store>) -> Self {
        Projects {
            single: None,
            store: Some(store),
            loaded: RwLock::new(BTreeMap::new()),
        }
    }

    pub fn store(&self) -> Option<&Arc<kao_projects::Store>> {
        self.store.as_ref()
    }

    /// The one project of `--work`, if that is how the server runs.
    pub fn single_id(&self) -> Option<&str> {
        self.single.as_ref().map(|(id, _)| id.as_str())
    }

    /// The project's live catalog; `None` for a project this server does not have.
    pub async fn live(&self, project: &str) -> Result<Option<Arc<Live>>, ServeError> {
        if let Some((id, live)) = &self.single {
            return Ok(id.eq_ignore_ascii_case(project).then(|| Arc::clone(live)));
        }
        let Some(store) = &self.store else {
            return Ok(None);
        };
        let project = project.to_ascii_lowercase();
        if let Some(l) = self
            .loaded
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&project)
        {
            return Ok(Some(Arc::clone(l)));
        }
        let store = Arc::clone(store);
        let id = project.clone();
        let opened = tokio::task::spawn_blocking(move || {
            if store.project(&id).is_err() {
                return Ok(None);
            }
            Live::open(store.work_dir(&id), id, Some(store)).map(Some)
        })
        .await
        .map_err(|e| ServeError::Task(e.to_string()))??;
        let Some(live) = opened else {
            return Ok(None);
        };
        let mut loaded = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        Ok(Some(Arc::clone(
            loaded.entry(project).or_insert_with(|| Arc::new(live)),
        )))
    }

    /// Loads the catalog of every project of the store that has published something.
    pub fn preload(&self) -> Result<(), ServeError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let projects = store.projects()?;
        for p in projects {
            let work = store.work_dir(&p.id);
            if work.published().is_file() {
                let live = Live::open(work, p.id.clone(), Some(Arc::clone(store)))?;
                self.loaded
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(p.id, Arc::new(live));
            }
        }
        Ok(())
    }

    /// Forgets a project's catalog (deleted, or to be reloaded from scratch).
    pub fn forget(&self, project: &str) {
        self.loaded
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&project.to_ascii_lowercase());
    }

    /// Every loaded catalog, by project id.
    pub fn all(&self) -> Vec<(String, Arc<Live>)> {
        let mut out: Vec<(String, Arc<Live>)> = self
            .single
            .iter()
            .map(|(id, l)| (id.clone(), Arc::clone(l)))
            .collect();
        out.extend(
            self.loaded
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|(id, l)| (id.clone(), Arc::clone(l))),
        );
        out
    }

    /// Published names of every loaded project, as (project, name, iteration).
    pub fn names(&self) -> Vec<(String, String, u32)> {
        self.all()
            .into_iter()
            .flat_map(|(p, l)| {
                l.current()
                    .names()
                    .into_iter()
                    .map(move |(n, i)| (p.clone(), n, i))
            })
            .collect()
    }
}
