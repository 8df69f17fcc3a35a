#![doc = include_str!("../README.md")]

mod artifacts;
mod browser;
mod error;
mod server;

pub use artifacts::{build_static_kao, build_web_runtime, export_target_dir, workspace_root};
pub use browser::{Chromium, ChromiumOptions, CHROMEDRIVER, CHROMIUM};
pub use error::{HarnessError, Result};
pub use server::StaticServer;

/// A loopback HTTP client (no proxy). reqwest is built without a TLS provider of its own
/// (the workspace picks ring), and no client can be built until one is installed.
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build()
}
