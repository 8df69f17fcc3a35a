//! HTTP with manners: a global and a per-host concurrency limit, a per-host delay,
//! robots.txt, timeouts (connect, first byte, total, idle), retries with exponential
//! backoff and jitter on connection errors, 5xx and 429 (`Retry-After` honoured), never on
//! another 4xx, and a size cap enforced while the body streams in.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore, SemaphorePermit};
use tokio::time::Instant;
use url::Url;

use crate::error::{CrawlError, Result};
use crate::options::CrawlOptions;
use crate::record::Reject;
use crate::robots::Robots;

/// Longest `Crawl-delay` obeyed.
const MAX_CRAWL_DELAY: Duration = Duration::from_secs(30);
/// Largest robots.txt read (RFC 9309 asks for at least 500 KiB).
const MAX_ROBOTS_BYTES: u64 = 512 * 1024;

/// A body read into memory.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub bytes: Vec<u8>,
    /// The URL after redirects.
    pub url: Url,
    pub content_type: Option<String>,
}

enum Failure {
    Final(Reject),
    Retry {
        reject: Reject,
        after: Option<Duration>,
    },
}

struct HostGate {
    permits: Arc<Semaphore>,
    next: tokio::sync::Mutex<Instant>,
    delay: Mutex<Duration>,
}

struct Open<'a> {
    response: reqwest::Response,
    deadline: Option<Instant>,
    _host: OwnedSemaphorePermit,
    _global: SemaphorePermit<'a>,
}

pub(crate) struct Fetcher {
    client: reqwest::Client,
    opts: CrawlOptions,
    global: Semaphore,
    hosts: Mutex<HashMap<String, Arc<HostGate>>>,
    robots: Mutex<HashMap<String, Arc<OnceCell<Robots>>>>,
    rng: Mutex<u64>,
}

/// reqwest's TLS runs on rustls with the ring crypto provider (lighter to build than
/// reqwest's default, aws-lc-rs); rustls needs a process-wide provider before the first
/// client. One installed by the host program first is kept.
fn use_ring_tls() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

impl Fetcher {
    pub fn new(opts: &CrawlOptions) -> Result<Self> {
        if opts.concurrency == 0 || opts.per_host == 0 {
            return Err(CrawlError::Config(
                "concurrency and per-host limits must be at least 1".into(),
            ));
        }
        use_ring_tls();
        let mut builder = reqwest::Client::builder()
            .user_agent(opts.user_agent.clone())
            .connect_timeout(opts.connect_timeout);
        builder = match opts.address_filter.clone() {
            None => builder.redirect(reqwest::redirect::Policy::limited(opts.max_redirects)),
            Some(filter) => {
                let max = opts.max_redirects;
                let redirects = filter.clone();
                builder
                    // A proxy would resolve names itself, out of reach of the filter.
                    .no_proxy()
                    .dns_resolver(Arc::new(FilteredResolver(filter)))
                    .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                        if attempt.previous().len() >= max {
                            return attempt.error(format!("more than {max} redirects"));
                        }
                        match literal_blocked(attempt.url(), &redirects) {
                            Some(b) => attempt.error(b),
                            None => attempt.follow(),
                        }
                    }))
            }
        };
        let client = builder.build().map_err(|e| CrawlError::Client(chain(&e)))?;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()).rotate_left(32);
        Ok(Fetcher {
            client,
            opts: opts.clone(),
            global: Semaphore::new(opts.concurrency),
            hosts: Mutex::new(HashMap::new()),
            robots: Mutex::new(HashMap::new()),
            rng: Mutex::new(seed),
        })
    }

    fn gate(&self, url: &Url) -> Arc<HostGate> {
        let key = host_key(url);
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts
            .entry(key)
            .or_insert_with(|| {
                Arc::new(HostGate {
                    permits: Arc::new(Semaphore::new(self.opts.per_host)),
                    next: tokio::sync::Mutex::new(Instant::now()),
                    delay: Mutex::new(self.opts.per_host_delay),
                })
            })
            .clone()
    }

    /// A random factor in [0.5, 1) for backoff jitter (splitmix64).
    fn jitter(&self) -> f64 {
        let mut s = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        0.5 + 0.5 * (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .opts
            .backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.opts.max_backoff);
        base.mul_f64(self.jitter())
    }

    /// Sends the request once, waiting for a host slot, the host's delay and a global
    /// slot; the slots are held until the returned response is dropped. The clocks (first
    /// byte, and `total` when given) start once the slots are held, not while queueing.
    async fn open(&self, url: &Url, total: Option<Duration>) -> Result<Open<'_>, Failure> {
        if let Some(b) = self
            .opts
            .address_filter
            .as_ref()
            .and_then(|f| literal_blocked(url, f))
        {
            return Err(Failure::Final(Reject::new("internal_address", b.0)));
        }
        let gate = self.gate(url);
        let host = gate
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        {
            let delay = *gate.delay.lock().unwrap_or_else(|p| p.into_inner());
            let mut next = gate.next.lock().await;
            let now = Instant::now();
            let start = (*next).max(now);
            *next = start + delay;
            drop(next);
            tokio::time::sleep_until(start).await;
        }
        let global = self.global.acquire().await.expect("semaphore never closed");
        let started = Instant::now();
        let deadline = total.map(|t| started + t);
        let first_byte = started + self.opts.first_byte_timeout;
        let until = deadline.map_or(first_byte, |d| d.min(first_byte));
        let sent = tokio::time::timeout_at(until, self.client.get(url.clone()).send()).await;
        let response = match sent {
            Err(_) => {
                return Err(Failure::Final(Reject::new(
                    "timeout",
                    format!("no response within {:?}", until - started),
                )))
            }
            Ok(Err(e)) => return Err(classify(&e)),
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        if status.is_success() {
            return Ok(Open {
                response,
                deadline,
                _host: host,
                _global: global,
            });
        }
        let reject = Reject::new(
            format!("http {}", status.as_u16()),
            format!(
                "{} answered {status}",
                response.url().host_str().unwrap_or("the server")
            ),
        );
        if status.as_u16() == 429 || status.is_server_error() {
            let after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            Err(Failure::Retry { reject, after })
        } else {
            Err(Failure::Final(reject))
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries run out.
    async fn with_retries<'a, T, F, Fut>(&'a self, url: &Url, mut attempt: F) -> Result<T, Reject>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>> + 'a,
    {
        let mut tries = 0;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(Failure::Final(r)) => return Err(r),
                Err(Failure::Retry { reject, after }) => {
                    if tries >= self.opts.retries {
                        let mut r = reject;
                        if tries > 0 {
                            r.detail = format!("{} (after {} retries)", r.detail, tries);
                        }
                        return Err(r);
                    }
                    let wait = match after {
                        Some(a) if a > self.opts.max_retry_after => {
                            let mut r = reject;
                            r.detail =
                                format!("{}; Retry-After {a:?} is too long to wait", r.detail);
                            return Err(r);
                        }
                        Some(a) => a,
                        None => self.backoff(tries),
                    };
                    tracing::debug!(url = %url, reason = %reject.reason, ?wait, "retrying");
                    tries += 1;
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// GETs a body of at most `max` bytes into memory.
    pub async fn get(&self, url: &Url, max: u64) -> Result<Fetched, Reject> {
        self.with_retries(url, || self.get_once(url, max)).await
    }

    async fn get_once(&self, url: &Url, max: u64) -> Result<Fetched, Failure> {
        let total = self.opts.total_timeout;
        let timeout = move || {
            Failure::Final(Reject::new(
                "timeout",
                format!("not complete within {total:?}"),
            ))
        };
        let mut open = self.open(url, Some(total)).await?;
        let deadline = open.deadline.expect("a total timeout was given");
        check_length(&open.response, max)?;
        let final_url = open.response.url().clone();
        let content_type = open
            .response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut bytes = Vec::new();
        loop {
            let until = deadline.min(Instant::now() + self.opts.idle_timeout);
            let chunk = match tokio::time::timeout_at(until, open.response.chunk()).await {
                Err(_) => return Err(timeout()),
                Ok(Err(e)) => return Err(classify(&e)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(c))) => c,
            };
            if (bytes.len() + chunk.len()) as u64 > max {
                return Err(too_large((bytes.len() + chunk.len()) as u64, max));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            bytes,
            url: final_url,
            content_type,
        })
    }

    /// Streams a (large) body into `file`, hashing it on the way; no total timeout, only
    /// the first-byte and idle ones. Returns the SHA-256 (hex) and the length.
    pub async fn download(
        &self,
        url: &Url,
        file: &Path,
        max: u64,
        progress: &(dyn Fn(u64, Option<u64>) + Sync),
    ) -> Result<(String, u64), Reject> {
        self.with_retries(url, || self.download_once(url, file, max, progress))
            .await
    }

    async fn download_once(
        &self,
        url: &Url,
        path: &Path,
        max: u64,
        progress: &(dyn Fn(u64, Option<u64>) + Sync),
    ) -> Result<(String, u64), Failure> {
        let io = |e: std::io::Error| {
            Failure::Final(Reject::new("io", format!("{}: {e}", path.display())))
        };
        let mut open = self.open(url, None).await?;
        check_length(&open.response, max)?;
        let total = open.response.content_length();
        let mut file = tokio::fs::File::create(path).await.map_err(io)?;
        let mut hasher = Sha256::new();
        let mut len = 0u64;
        loop {
            let until = Instant::now() + self.opts.idle_timeout;
            let chunk = match tokio::time::timeout_at(until, open.response.chunk()).await {
                Err(_) => {
                    return Err(Failure::Final(Reject::new(
                        "timeout",
                        format!("no data for {:?}", self.opts.idle_timeout),
                    )))
                }
                Ok(Err(e)) => return Err(classify(&e)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(c))) => c,
            };
            len += chunk.len() as u64;
            if len > max {
                return Err(too_large(len, max));
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(io)?;
            progress(len, total);
        }
        file.sync_all().await.map_err(io)?;
        Ok((hex::encode(hasher.finalize()), len))
    }

    /// `Ok` when robots.txt of the URL's host lets this crawler fetch it.
    pub async fn robots_allow(&self, url: &Url) -> Result<(), Reject> {
        let origin = url.origin().ascii_serialization();
        let cell = {
            let mut map = self.robots.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(origin.clone()).or_default().clone()
        };
        let robots = cell.get_or_init(|| self.fetch_robots(url)).await;
        let mut path = url.path().to_string();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        if robots.allowed(&path) {
            Ok(())
        } else {
            Err(Reject::new(
                "robots",
                format!("{origin}/robots.txt disallows {path}"),
            ))
        }
    }

    async fn fetch_robots(&self, url: &Url) -> Robots {
        let Ok(robots_url) = url.join("/robots.txt") else {
            return Robots::allow_all();
        };
        match self.get(&robots_url, MAX_ROBOTS_BYTES).await {
            Ok(f) => {
                let robots = Robots::parse(
                    &String::from_utf8_lossy(&f.bytes),
                    &self.opts.robots_token(),
                );
                if let Some(d) = robots.crawl_delay {
                    let gate = self.gate(url);
                    let mut delay = gate.delay.lock().unwrap_or_else(|p| p.into_inner());
                    *delay = (*delay).max(d.min(MAX_CRAWL_DELAY));
                }
                robots
            }
            // RFC 9309: an unavailable robots.txt (4xx) allows everything, an unreachable
            // one (5xx) nothing.
            Err(r) if r.reason.starts_with("http 5") => {
                tracing::warn!(url = %robots_url, reason = %r.reason, "robots.txt unreachable: not crawling the host");
                Robots::deny_all()
            }
            Err(r) => {
                tracing::debug!(url = %robots_url, reason = %r.reason, "no robots.txt");
                Robots::allow_all()
            }
        }
    }
}

fn host_key(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// A body that passed `max` while streaming: `read` is how far it got, a lower bound.
fn too_large(read: u64, max: u64) -> Failure {
    Failure::Final(Reject::new(
        "too_large",
        format!(
            "body size at least {read} bytes exceeds the limit of {max} bytes (download stopped)"
        ),
    ))
}

fn check_length(response: &reqwest::Response, max: u64) -> Result<(), Failure> {
    match response.content_length() {
        Some(len) if len > max => Err(Failure::Final(Reject::new(
            "too_large",
            format!("Content-Length {len} bytes exceeds the limit of {max} bytes"),
        ))),
        _ => Ok(()),
    }
}

/// An address the crawl's [`AddressFilter`] refused.
#[derive(Debug)]
struct Blocked(String);

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Blocked {}

/// A URL whose host is an IP literal the filter refuses (names are checked as they resolve).
fn literal_blocked(url: &Url, filter: &crate::options::AddressFilter) -> Option<Blocked> {
    let ip = match url.host()? {
        url::Host::Ipv4(v4) => std::net::IpAddr::V4(v4),
        url::Host::Ipv6(v6) => std::net::IpAddr::V6(v6),
        url::Host::Domain(_) => return None,
    };
    (!filter.allows(ip)).then(|| Blocked(format!("{ip} is not an address this crawl may reach")))
}

/// Resolves names, keeping only the addresses the filter allows.
struct FilteredResolver(crate::options::AddressFilter);

impl reqwest::dns::Resolve for FilteredResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let filter = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<std::net::SocketAddr> = found
                .into_iter()
                .filter(|a| filter.allows(a.ip()))
                .collect();
            if kept.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> = Box::new(Blocked(format!(
                    "{host} resolves only to addresses this crawl may not reach"
                )));
                return Err(refused);
            }
            let addrs: reqwest::dns::Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// The [`Blocked`] refusal somewhere in an error's sources.
fn blocked(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<Blocked>() {
            return Some(b.0.clone());
        }
        source = s.source();
    }
    None
}

fn classify(e: &reqwest::Error) -> Failure {
    let detail = chain(e);
    if let Some(b) = blocked(e) {
        Failure::Final(Reject::new("internal_address", b))
    } else if e.is_redirect() {
        Failure::Final(Reject::new("too_many_redirects", detail))
    } else if e.is_builder() {
        Failure::Final(Reject::new("invalid_url", detail))
    } else if e.is_timeout() && !e.is_connect() {
        Failure::Final(Reject::new("timeout", detail))
    } else {
        // Refused, reset, DNS, TLS, connect timeout, a connection cut mid-body.
        Failure::Retry {
            reject: Reject::new("connection", detail),
            after: None,
        }
    }
}

/// An error and its sources, `: `-joined.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = c.source();
    }
    s
}

/// `Retry-After`: delay-seconds or an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let at = parse_http_date(v)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

fn parse_http_date(v: &str) -> Option<u64> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let rest = v.split_once(", ")?.1;
    let mut parts = rest.split_whitespace();
    let day: u64 = parts.next()?.parse().ok()?;
    let month = parts.next()?;
    let year: i64 = parts.next()?.parse().ok()?;
    let time = parts.next()?;
    if parts.next()? != "GMT" {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let mut hms = time.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days)
        .ok()
        .map(|d| d * 86_400 + h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("1"), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_cap() {
        let opts = CrawlOptions {
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..CrawlOptions::default()
        };
        let f = Fetcher::new(&opts).unwrap();
        for attempt in 0..8 {
            let full = Duration::from_millis(100 * (1 << attempt)).min(Duration::from_millis(1000));
            let b = f.backoff(attempt);
            assert!(b >= full / 2 && b <= full, "{attempt}: {b:?}");
        }
    }
}
