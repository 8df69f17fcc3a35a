//! What every request shares: keys, models, limits, the inference slots and the counters.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::Keys;
use crate::error::ApiError;
use crate::fetch::Fetcher;
use crate::metrics::Metrics;
use crate::model::Live;

pub(crate) struct AppState {
    pub project_id: String,
    pub keys: Keys,
    pub live: Arc<Live>,
    pub metrics: Metrics,
    /// `None` when URL fetching is off.
    pub fetcher: Option<Fetcher>,
    pub max_body: usize,
    pub request_timeout: Duration,
    slots: Arc<Semaphore>,
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
    _permit: OwnedSemaphorePermit,
    _running: Gauge,
}

pub(crate) struct Limits {
    pub max_body: usize,
    pub request_timeout: Duration,
    pub concurrency: usize,
    pub queue: usize,
}

impl AppState {
    pub fn new(
        project_id: String,
        keys: Keys,
        live: Arc<Live>,
        fetcher: Option<Fetcher>,
        limits: Limits,
    ) -> Self {
        AppState {
            project_id,
            keys,
            live,
            metrics: Metrics::new(),
            fetcher,
            max_body: limits.max_body,
            request_timeout: limits.request_timeout,
            slots: Arc::new(Semaphore::new(limits.concurrency.max(1))),
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
        Ok(Slot {
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
