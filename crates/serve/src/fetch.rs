//! Fetching an image by URL for the `/url` routes, without becoming a proxy into the
//! server's own network: addresses are checked after DNS resolution (in the resolver
//! reqwest connects with, so there is no gap between check and use), IP literals and
//! redirect targets too, and the body is capped while it streams.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::error::{ApiError, ServeError};

const MAX_REDIRECTS: usize = 5;

pub(crate) struct Fetcher {
    client: reqwest::Client,
    max_bytes: usize,
    allow_private: bool,
}

/// Loopback, private, link-local, shared, unspecified, multicast and the like: anything a
/// request from outside should not be able to reach through this server.
pub(crate) fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                // 100.64.0.0/10, carrier-grade NAT
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                // 198.18.0.0/15, benchmarking
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local, fe80::/10 link-local
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                // 64:ff9b::/96 NAT64 can embed any IPv4 address
                || (s[0] == 0x64 && s[1] == 0xff9b)
        }
    }
}

struct PublicOnly {
    allow_private: bool,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(resolve_public(
            name.as_str().to_string(),
            self.allow_private,
        ))
    }
}

async fn resolve_public(host: String, allow_private: bool) -> Result<Addrs, BoxError> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
    let kept: Vec<SocketAddr> = found
        .into_iter()
        .filter(|a| allow_private || !is_internal(a.ip()))
        .collect();
    if kept.is_empty() {
        return Err(format!("{host} resolves only to internal addresses").into());
    }
    Ok(Box::new(kept.into_iter()))
}

fn check_url(url: &reqwest::Url, allow_private: bool) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme {:?} is not http or https", url.scheme()));
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(url::Host::Domain(_)) => return Ok(()),
        None => return Err("the URL has no host".into()),
    };
    if !allow_private && is_internal(ip) {
        return Err(format!("{ip} is an internal address"));
    }
    Ok(())
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
    pub fn new(
        timeout: Duration,
        max_bytes: usize,
        allow_private: bool,
    ) -> Result<Fetcher, ServeError> {
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            match check_url(attempt.url(), allow_private) {
                Ok(()) => attempt.follow(),
                Err(why) => attempt.error(why),
            }
        });
        use_ring_tls();
        let client = reqwest::Client::builder()
            // A proxy would resolve names itself, out of reach of the address check.
            .no_proxy()
            .dns_resolver(PublicOnly { allow_private })
            .redirect(policy)
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("kao-serve/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ServeError::Client(e.to_string()))?;
        Ok(Fetcher {
            client,
            max_bytes,
            allow_private,
        })
    }

    pub async fn fetch(&self, raw: &str) -> Result<Vec<u8>, ApiError> {
        let url = reqwest::Url::parse(raw.trim()).map_err(ApiError::image_url)?;
        check_url(&url, self.allow_private).map_err(ApiError::image_url)?;
        let response = self.client.get(url.clone()).send().await.map_err(|e| {
            // reqwest's Display omits the cause (our resolver's refusal); show the chain.
            ApiError::image_url(chain(&e))
        })?;
        if !response.status().is_success() {
            return Err(ApiError::image_url(format!(
                "{url} answered {}",
                response.status()
            )));
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(ApiError::image_size(self.max_bytes));
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ApiError::image_url(chain(&e)))?;
            if body.len() + chunk.len() > self.max_bytes {
                return Err(ApiError::image_size(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "93.184.216.34", "2606:4700::1111"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn ip_literals_and_schemes_are_checked_before_connecting() {
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(check_url(&u("http://127.0.0.1/a.jpg"), false).is_err());
        assert!(check_url(&u("http://[::1]/a.jpg"), false).is_err());
        assert!(check_url(&u("http://127.0.0.1/a.jpg"), true).is_ok());
        assert!(check_url(&u("file:///etc/passwd"), true).is_err());
        assert!(check_url(&u("https://example.com/a.jpg"), false).is_ok());
    }
}
