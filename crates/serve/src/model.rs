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
    current: RwLock<Arc<Catalog>>,
    /// Serialises reloads, so a burst of misses loads a new iteration once.
    reloading: tokio::sync::Mutex<()>,
}

impl Live {
    /// Loads what is published now (blocking: call before serving, or from a blocking thread).
    pub fn open(work: WorkDir, project_id: String) -> Result<Live, ServeError> {
        let live = Live {
            work,
            project_id,
            current: RwLock::new(Arc::new(Catalog::default())),
            reloading: tokio::sync::Mutex::new(()),
        };
        if let Some(next) = live.load_if_changed()? {
            live.swap(next);
        }
        Ok(live)
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
                    let id = kao_infer::iteration_id(&self.project_id, predictor.artifact());
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
