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
}

impl ServeConfig {
    pub fn new(work: impl Into<PathBuf>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        ServeConfig {
            work: work.into(),
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
        }
    }
}
