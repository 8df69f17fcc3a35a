#![doc = include_str!("../README.md")]

use std::path::{Path, PathBuf};

/// The repository root (this crate lives at `<root>/crates/testdata`).
///
/// Found from the crate cargo is testing (`CARGO_MANIFEST_DIR` at run time) upwards to the
/// folder holding `Cargo.lock`; the build-time path is only the fallback, because cargo
/// reuses a target directory after the source tree moves and that path goes stale.
pub fn repo_root() -> PathBuf {
    let runtime = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let found = runtime
        .iter()
        .flat_map(|d| d.ancestors())
        .find(|d| d.join("Cargo.lock").is_file())
        .map(Path::to_path_buf);
    let root = found.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."));
    root.canonicalize().unwrap_or(root)
}

/// The shared data folder (holding `datasets/` and `golden/`), or `None` after printing why
/// when it is missing outside CI. Panics when it is missing and `CI` is set: CI must never
/// pass by skipping the tests that read real data.
pub fn shared() -> Option<PathBuf> {
    let configured = std::env::var_os("KAO_SHARED").map(PathBuf::from);
    let dir = match &configured {
        Some(p) if p.is_absolute() => p.clone(),
        Some(p) => repo_root().join(p),
        None => repo_root().join("../shared"),
    };
    match dir.canonicalize() {
        Ok(dir) if dir.join("datasets").is_dir() => Some(dir),
        _ => {
            let why = format!(
                "shared test data not found at {} (set KAO_SHARED to the folder holding datasets/ and golden/)",
                dir.display()
            );
            if std::env::var_os("CI").is_some() {
                panic!("{why}");
            }
            eprintln!("skipping: {why}");
            None
        }
    }
}

/// `datasets/lfw5`: LFW's five people, a folder per person.
pub fn lfw5() -> Option<PathBuf> {
    dataset("lfw5")
}

/// `datasets/<name>` (`lfw5`, `nonface`, `multiface`).
pub fn dataset(name: &str) -> Option<PathBuf> {
    required(shared()?.join("datasets").join(name))
}

/// `golden/`: the reference outputs of the JavaScript face-api networks.
pub fn golden() -> Option<PathBuf> {
    required(shared()?.join("golden"))
}

/// One lfw5 photo, e.g. `lfw5_photo("Tony_Blair", 1)`.
pub fn lfw5_photo(person: &str, n: u32) -> Option<PathBuf> {
    Some(lfw5()?.join(person).join(format!("{person}_{n:04}.jpg")))
}

/// `to/<person>/`: copies of the first `per_person` photos (by name) of each lfw5 person, a
/// small folder-per-person tree for tests and examples; `None` without the shared data.
pub fn lfw5_sample(to: &Path, people: &[&str], per_person: usize) -> Option<PathBuf> {
    let lfw5 = lfw5()?;
    for person in people {
        let from = lfw5.join(person);
        let mut photos: Vec<PathBuf> = std::fs::read_dir(&from)
            .unwrap_or_else(|e| panic!("{}: {e}", from.display()))
            .map(|e| e.expect("a readable folder entry").path())
            .collect();
        photos.sort();
        let dest = to.join(person);
        std::fs::create_dir_all(&dest).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
        for p in photos.iter().take(per_person) {
            let name = p.file_name().expect("a file name");
            std::fs::copy(p, dest.join(name)).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
    }
    Some(to.to_path_buf())
}

fn required(dir: PathBuf) -> Option<PathBuf> {
    if dir.is_dir() {
        return Some(dir);
    }
    let why = format!("shared test data incomplete: {} is missing", dir.display());
    if std::env::var_os("CI").is_some() {
        panic!("{why}");
    }
    eprintln!("skipping: {why}");
    None
}
