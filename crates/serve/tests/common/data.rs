//! Test data: `$KAO_SHARED` (CI sets it), else `<repo>/../shared`; missing data fails the
//! test under CI and skips it elsewhere.

use std::path::PathBuf;

pub fn shared() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("KAO_SHARED").map(|s| {
            let p = PathBuf::from(s);
            // CI gives it relative to the repository root, tests run in the crate's folder.
            if p.is_relative() {
                repo_root().join(p)
            } else {
                p
            }
        }),
        Some(repo_root().join("../shared")),
    ];
    let found = candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("datasets/lfw5").is_dir());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "shared test data not found: set KAO_SHARED to the folder holding datasets/lfw5"
        );
        eprintln!("skipping: shared test data not found (set KAO_SHARED)");
    }
    found
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn lfw(person: &str, n: u32) -> PathBuf {
    shared()
        .expect("shared data")
        .join(format!("datasets/lfw5/{person}/{person}_{n:04}.jpg"))
}
