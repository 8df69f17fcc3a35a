//! Where the benchmarks find the shared test photos.

use std::path::{Path, PathBuf};

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

/// Every photo of the person folders under `dir`: (person folder, path), sorted.
pub fn photos(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut people: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    people.sort();
    for p in people {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&p)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| f.is_file())
            .collect();
        files.sort();
        out.extend(files.into_iter().map(|f| (name.clone(), f)));
    }
    Ok(out)
}
