#![doc = include_str!("../README.md")]

mod artifacts;
mod error;
mod server;
pub mod trained;

pub use artifacts::{
    build_static_kao, build_web_runtime, export_target_dir, workspace_root, WASM_BUILDS,
};
pub use error::{HarnessError, Result};
pub use server::StaticServer;

/// Makes `ring` the process's TLS provider, where none is yet: the workspace builds reqwest
/// without a provider of its own (`rustls-no-provider`), and a client built before one is
/// installed panics. Call it before building a `reqwest::Client` in a test.
pub fn use_ring_tls() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
