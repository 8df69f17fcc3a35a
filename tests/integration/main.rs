//! End-to-end tests of the `kao` binary.

mod crawl;
mod crop;
mod inspect;
mod train;

use std::path::PathBuf;

/// `$KAO_SHARED` (relative paths from the repository root), else `../shared`. Missing data
/// fails the test when `CI` is set and skips it otherwise.
pub fn shared() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = match std::env::var_os("KAO_SHARED") {
        Some(p) => root.join(p),
        None => root.join("../shared"),
    };
    if dir.join("datasets").is_dir() {
        Some(dir)
    } else if std::env::var_os("CI").is_some() {
        panic!("{} has no datasets/ (set KAO_SHARED)", dir.display());
    } else {
        eprintln!("skipping: {} not found", dir.display());
        None
    }
}
