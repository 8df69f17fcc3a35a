//! Where the benchmarks find the shared test photos.

use std::path::PathBuf;

/// `$KAO_SHARED/datasets/<name>` (`KAO_SHARED` defaults to `../shared`), which must exist.
pub fn dataset(name: &str) -> anyhow::Result<PathBuf> {
    let shared = std::env::var_os("KAO_SHARED").unwrap_or_else(|| "../shared".into());
    let dir = PathBuf::from(shared).join("datasets").join(name);
    anyhow::ensure!(
        dir.is_dir(),
        "{} is missing (set KAO_SHARED)",
        dir.display()
    );
    Ok(dir)
}
