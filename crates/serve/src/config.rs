use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Custom Vision's own limit for a prediction image; clients written for it never send more.
pub const DEFAULT_MAX_BODY: usize = 4 * 1024 * 1024;

/// Everything `kao serve` can be told. [`ServeConfig::new`] gives the defaults: loopback on
/// port 8080, Custom Vision's 4 MB image limit, URL fetching off, one inference per core.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The work directory whose `published.json` and `iterations/` are served.
    pub work: PathBuf,
    /// Serve every project under this folder instead of `work`, and answer the Training
    /// API (`kao serve --root`).
    pub root: Option<PathBuf>,
    /// Accepted `Training-Key` values (with `root`); empty means "the key stored in the
    /// root", generated on first start.
    pub training_keys: Vec<String>,
    /// Where to listen; port 0 picks a free port (see [`crate::Server::local_addr`]).
    pub bind: SocketAddr,
    /// Accepted `Prediction-Key` values; empty means "the key stored in the work dir",
    /// generated on first start.
    pub keys: Vec<String>,
    /// Largest accepted image, in bytes (raw body, multipart field or fetched URL).
    pub max_body: usize,
    /// Whether the `/url` routes may fetch images at all.
    pub allow_url_fetch: bool,
    /// Whether fetched URLs may resolve to loopback, private or link-local addresses.
    pub allow_private_urls: bool,
    /// Limit for one URL fetch, connect to last byte.
    pub url_timeout: Duration,
    /// Limit for one request, queueing included; a slower one gets 503 `Timeout`.
    pub request_timeout: Duration,
    /// Inferences running at once, each on a blocking thread.
    pub concurrency: usize,
    /// Requests allowed to wait for an inference slot; more get 429 `TooManyRequests`.
    pub queue: usize,
    /// How often `published.json` is checked for a new iteration.
    pub reload_interval: Duration,
    /// With `root`: whether queued trainings run (off only for tests of the queue itself).
    pub train: bool,
    /// With `root`: where the Training API's exports find the browser runtime and the
    /// static `kao` (found as `kao export` finds them when unset).
    pub export_tools: crate::ExportTools,
}

impl ServeConfig {
    /// Serving every project under `root` (and the Training API).
    pub fn for_root(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let mut c = ServeConfig::new(&root);
        c.root = Some(root);
        c
    }

    pub fn new(work: impl Into<PathBuf>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        ServeConfig {
            work: work.into(),
            root: None,
            training_keys: Vec::new(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            keys: Vec::new(),
            max_body: DEFAULT_MAX_BODY,
            allow_url_fetch: false,
            allow_private_urls: false,
            url_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            concurrency: cores,
            queue: 64 * cores,
            reload_interval: Duration::from_secs(1),
            train: true,
            export_tools: crate::ExportTools::default(),
        }
    }
}

impl ServeConfig {
    /// How `kao pipeline --serve` (and `cargo xtask pipeline --serve`) starts the service:
    /// on the pipeline's work dir, with its `[serve]` section over the defaults.
    pub fn for_pipeline(pipeline: &kao_pipeline::PipelineConfig) -> Self {
        let s = &pipeline.serve;
        let mut c = ServeConfig::new(&pipeline.work);
        if let Some(b) = s.bind {
            c.bind = b;
        }
        c.allow_url_fetch = s.allow_url_fetch;
        c.allow_private_urls = s.allow_private_urls;
        if let Some(m) = s.max_body {
            c.max_body = m;
        }
        if let Some(n) = s.concurrency {
            c.concurrency = n.max(1);
        }
        c
    }
}
