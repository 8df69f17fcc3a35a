use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The smallest accepted picture, `WxH` (upright, after EXIF orientation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinSize {
    pub width: u32,
    pub height: u32,
}

impl MinSize {
    pub fn accepts(&self, width: u32, height: u32) -> bool {
        width >= self.width && height >= self.height
    }
}

impl fmt::Display for MinSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl FromStr for MinSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("expected WIDTHxHEIGHT such as 64x64, got {s:?}");
        let (w, h) = s.trim().split_once(['x', 'X', '×']).ok_or_else(bad)?;
        Ok(MinSize {
            width: w.trim().parse().map_err(|_| bad())?,
            height: h.trim().parse().map_err(|_| bad())?,
        })
    }
}

/// Which IP addresses a crawl may connect to. A server that crawls on behalf of its web
/// clients uses one to stay off its own network: every address a host name resolves to is
/// checked (in the resolver the HTTP client connects with, so there is no gap between check
/// and use), and so are IP literals in URLs and redirect targets. A refused URL is rejected
/// with the reason `internal_address`.
#[derive(Clone)]
pub struct AddressFilter(Arc<dyn Fn(IpAddr) -> bool + Send + Sync>);

impl AddressFilter {
    /// `allows(ip)` says whether `ip` may be reached.
    pub fn new(allows: impl Fn(IpAddr) -> bool + Send + Sync + 'static) -> Self {
        AddressFilter(Arc::new(allows))
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        (self.0)(ip)
    }
}

impl fmt::Debug for AddressFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AddressFilter")
    }
}

/// How a crawl behaves on the network and what it accepts. `Default` is polite and safe
/// for the open web; tests shorten the timeouts.
#[derive(Debug, Clone)]
pub struct CrawlOptions {
    /// Sent with every request; its first word (before `/`) is the robots.txt product token.
    pub user_agent: String,
    /// Requests in flight at once, over all hosts.
    pub concurrency: usize,
    /// Requests in flight at once to one host.
    pub per_host: usize,
    /// Least time between the starts of two requests to one host (a robots.txt
    /// `Crawl-delay` raises it, up to 30 s).
    pub per_host_delay: Duration,
    pub connect_timeout: Duration,
    /// From sending the request to the response headers.
    pub first_byte_timeout: Duration,
    /// The whole request, body included (not for archive downloads, which only have the
    /// first-byte timeout and [`CrawlOptions::idle_timeout`]).
    pub total_timeout: Duration,
    /// Longest pause between two pieces of a body.
    pub idle_timeout: Duration,
    /// Retries after connection errors, 5xx and 429 (never after another 4xx).
    pub retries: u32,
    /// First backoff; doubled each retry, with jitter, capped by `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited for: the URL is rejected.
    pub max_retry_after: Duration,
    pub max_redirects: usize,
    /// Largest image accepted, enforced while streaming.
    pub max_bytes: u64,
    /// Largest HTML page (site crawl, search results) read.
    pub max_page_bytes: u64,
    /// Largest archive downloaded.
    pub max_archive_bytes: u64,
    pub min_size: MinSize,
    /// Obey robots.txt for `site` and `bing` sources (switch off only for hosts you own).
    pub obey_robots: bool,
    /// Base URL of the image-search results page (`?q=…&first=…` is appended).
    pub bing_endpoint: String,
    /// Results requested per search page (`count=`).
    pub bing_page_size: usize,
    /// Most search pages read for one query, and most pages read by one site crawl ×10.
    pub max_pages: usize,
    /// Addresses requests may reach; `None`: any (a crawl from the command line).
    pub address_filter: Option<AddressFilter>,
}

impl Default for CrawlOptions {
    fn default() -> Self {
        CrawlOptions {
            user_agent: format!(
                "kao-crawl/{} (face-identification dataset builder)",
                env!("CARGO_PKG_VERSION")
            ),
            concurrency: 16,
            per_host: 2,
            per_host_delay: Duration::from_millis(250),
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(20),
            total_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            max_redirects: 5,
            max_bytes: kao_image::Limits::default().max_bytes,
            max_page_bytes: 5_000_000,
            max_archive_bytes: 16_000_000_000,
            min_size: MinSize {
                width: 64,
                height: 64,
            },
            obey_robots: true,
            bing_endpoint: "https://www.bing.com/images/search".into(),
            bing_page_size: 35,
            max_pages: 50,
            address_filter: None,
        }
    }
}

impl CrawlOptions {
    /// The decoder limits: the default ones with this crawl's byte cap.
    pub fn limits(&self) -> kao_image::Limits {
        kao_image::Limits {
            max_bytes: self.max_bytes,
            ..kao_image::Limits::default()
        }
    }

    /// The robots.txt product token: the User-Agent's first word, before any `/`.
    pub fn robots_token(&self) -> String {
        self.user_agent
            .split(['/', ' '])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    }
}

/// Parses `250ms`, `10s`, `2m`, `1h` or a plain number of seconds (`1.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("expected a duration such as 500ms, 10s or 2m, got {s:?}"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("unknown duration unit {other:?} in {s:?}")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("bad duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_size_parses() {
        assert_eq!(
            "100x80".parse::<MinSize>().unwrap(),
            MinSize {
                width: 100,
                height: 80
            }
        );
        assert!("100".parse::<MinSize>().is_err());
        assert!("ax3".parse::<MinSize>().is_err());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("3 parsecs").is_err());
    }

    #[test]
    fn robots_token_is_the_product() {
        let o = CrawlOptions::default();
        assert_eq!(o.robots_token(), "kao-crawl");
    }
}
