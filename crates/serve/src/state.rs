//! What every request shares: keys, models, limits, the inference slots and the counters.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::Keys;
use crate::error::ApiError;
use crate::fetch::Fetcher;
use crate::metrics::Metrics;
use crate::model::Projects;

pub(crate) struct AppState {
    pub projects: Projects,
    pub keys: Keys,
    /// `Training-Key` values, when the server answers the Training API (`--root`).
    pub training_keys: Option<Keys>,
    /// Signs the image URIs the Training API hands out (derived from the training key), so
    /// that a browser or `kao import` can fetch them without a header.
    pub uri_secret: [u8; 32],
    pub metrics: Metrics,
    /// `None` when URL fetching is off.
    pub fetcher: Option<Fetcher>,
    /// Whether fetches (and crawl jobs) may reach internal addresses.
    pub allow_private_urls: bool,
    /// The first Prediction-Key, shown to Training-Key holders (`--root` only).
    pub prediction_key: Option<String>,
    /// Kao's crawl jobs.
    pub crawls: crate::crawls::Crawls,
    pub max_body: usize,
    pub request_timeout: Duration,
    slots: Arc<Semaphore>,
    /// One thread pool per slot, taken by the slot's holder. A single request at batch 1 uses
    /// two cores poorly (the networks' layers are small), so two requests on one core each
    /// answer more per second than two requests sharing both cores.
    pools: Arc<Mutex<Vec<rayon::ThreadPool>>>,
    queue: usize,
    waiting: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
}

/// Decrements a gauge when dropped, so a request cancelled by its timeout while queued or
/// running still leaves the count right.
pub(crate) struct Gauge(Arc<AtomicUsize>);

impl Gauge {
    fn enter(counter: &Arc<AtomicUsize>) -> (Gauge, usize) {
        let before = counter.fetch_add(1, Ordering::SeqCst);
        (Gauge(Arc::clone(counter)), before)
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The right to run one inference; moves into the blocking task so the slot stays taken
/// until the work is really done, even when the request has already timed out.
pub(crate) struct Slot {
    pool: Option<rayon::ThreadPool>,
    pools: Arc<Mutex<Vec<rayon::ThreadPool>>>,
    _permit: OwnedSemaphorePermit,
    _running: Gauge,
}

impl Slot {
    /// Runs `work` on this slot's threads (the global pool if the slot has none).
    pub fn install<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(work),
            None => work(),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            if let Ok(mut pools) = self.pools.lock() {
                pools.push(pool);
            }
        }
    }
}

/// `slots` pools sharing the machine's cores; none (the global pool) where a pool cannot be
/// built.
fn slot_pools(slots: usize) -> Vec<rayon::ThreadPool> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores / slots.max(1)).max(1);
    (0..slots)
        .map_while(|i| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(move |t| format!("kao-infer-{i}-{t}"))
                .build()
                .ok()
        })
        .collect()
}

pub(crate) struct Limits {
    pub max_body: usize,
    pub request_timeout: Duration,
    pub concurrency: usize,
    pub queue: usize,
}

impl AppState {
    pub fn new(
        projects: Projects,
        keys: Keys,
        training_keys: Option<Keys>,
        uri_secret: [u8; 32],
        fetcher: Option<Fetcher>,
        limits: Limits,
    ) -> Self {
        AppState {
            projects,
            keys,
            training_keys,
            uri_secret,
            metrics: Metrics::new(),
            fetcher,
            allow_private_urls: false,
            prediction_key: None,
            crawls: crate::crawls::Crawls::default(),
            max_body: limits.max_body,
            request_timeout: limits.request_timeout,
            slots: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            pools: Arc::new(Mutex::new(slot_pools(limits.concurrency.max(1)))),
            queue: limits.queue,
            waiting: Arc::new(AtomicUsize::new(0)),
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Waits for an inference slot, or refuses at once when the queue is full.
    pub async fn slot(&self) -> Result<Slot, ApiError> {
        let (waiting, before) = Gauge::enter(&self.waiting);
        if before >= self.queue {
            return Err(ApiError::busy());
        }
        let permit = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| ApiError::internal("the inference pool is closed"))?;
        drop(waiting);
        let (running, _) = Gauge::enter(&self.running);
        let pool = self.pools.lock().ok().and_then(|mut p| p.pop());
        Ok(Slot {
            pool,
            pools: Arc::clone(&self.pools),
            _permit: permit,
            _running: running,
        })
    }

    pub fn render_metrics(&self) -> String {
        self.metrics.render(
            self.running.load(Ordering::SeqCst),
            self.waiting.load(Ordering::SeqCst),
        )
    }
}
