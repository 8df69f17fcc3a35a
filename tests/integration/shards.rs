//! Sharded stages by hand: `kao collect|crop|embed --shard I/N` in any order, one shard run
//! twice, then `kao pipeline`, against one unsharded run of the same photos and settings.
//! Also the helpers the Slurm test (`slurm.rs`) compares its run with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::shared;

/// Photos per person of the lfw5 subset (5 people: 100 photos).
const PER_PERSON: usize = 20;

/// `to/<person>/`: the first `PER_PERSON` photos (by name) of each lfw5 person.
pub fn lfw5_subset(lfw5: &Path, to: &Path) {
    let mut people: Vec<PathBuf> = std::fs::read_dir(lfw5)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    people.sort();
    for person in people {
        let mut photos: Vec<PathBuf> = std::fs::read_dir(&person)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        photos.sort();
        let dest = to.join(person.file_name().unwrap());
        std::fs::create_dir_all(&dest).unwrap();
        for p in photos.iter().take(PER_PERSON) {
            std::fs::copy(p, dest.join(p.file_name().unwrap())).unwrap();
        }
    }
}

/// A pipeline file with two augmentations per training chip (so the descriptor stage has
/// work of its own) and `extra` appended.
pub fn pipeline_file(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("pipeline.toml");
    std::fs::write(
        &path,
        format!("work = \"work\"\n\n[augment]\nper_image = 2\n\n{extra}"),
    )
    .unwrap();
    path
}

/// Runs `kao --quiet --work W args…` and returns its stdout; panics with its stderr when
/// it fails.
pub fn kao<S: AsRef<std::ffi::OsStr>>(work: &Path, args: &[S]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kao"))
        .arg("--quiet")
        .arg("--work")
        .arg(work)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kao {:?}: {}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every file under `root` whose name passes `keep`, by path relative to `root`, with its
/// bytes.
fn files(root: &Path, keep: &dyn Fn(&Path) -> bool) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if keep(&path) {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// The embedding cache's lines by key (shards append in another order than one run, so
/// the file's line order is not compared; each descriptor's line is, byte for byte).
fn descriptors(work: &Path) -> BTreeMap<PathBuf, BTreeMap<String, String>> {
    files(&work.join("cache/embeddings"), &|p| {
        p.file_name().is_some_and(|n| n == "descriptors.jsonl")
    })
    .into_iter()
    .map(|(rel, bytes)| {
        let lines = String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (v["key"].as_str().unwrap().to_string(), l.to_string())
            })
            .collect();
        (rel, lines)
    })
    .collect()
}

/// Iteration 1's test metrics with each tag's id (random per work dir) replaced by its
/// name, without the timings.
fn test_metrics(work: &Path) -> serde_json::Value {
    let mut text = std::fs::read_to_string(work.join("iterations/1/metrics.json")).unwrap();
    let tags: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(work.join("tags.json")).unwrap()).unwrap();
    for (name, id) in tags {
        text = text.replace(&id, &name);
    }
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("timings");
    v
}

/// Chips (names and bytes), descriptors (key and line), `splits.json` (bytes) and the test
/// metrics of two work dirs are the same.
pub fn assert_same_outputs(expected: &Path, got: &Path) {
    let png = |p: &Path| p.extension().is_some_and(|e| e == "png");
    let (a, b) = (
        files(&expected.join("faces"), &png),
        files(&got.join("faces"), &png),
    );
    assert!(a.len() >= 90, "{} chips", a.len());
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "chip names"
    );
    for (name, bytes) in &a {
        assert!(&b[name] == bytes, "chip {} differs", name.display());
    }
    let (a, b) = (descriptors(expected), descriptors(got));
    let count: usize = a.values().map(BTreeMap::len).sum();
    // The plain chips and two augmentations of each training chip.
    assert!(count > a.len() * 150, "{count} descriptors");
    assert!(a == b, "descriptors differ");
    assert_eq!(
        std::fs::read(expected.join("splits.json")).unwrap(),
        std::fs::read(got.join("splits.json")).unwrap(),
        "splits.json"
    );
    assert_eq!(test_metrics(expected), test_metrics(got), "test metrics");
}

/// The notes of a `kao pipeline --json` report's stages, by stage name.
pub fn notes(report: &str) -> BTreeMap<String, String> {
    let v: serde_json::Value = serde_json::from_str(report).unwrap();
    v["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap().to_string(),
                s["note"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn shards_by_hand_in_any_order_equal_one_run() {
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    lfw5_subset(&shared.join("datasets/lfw5"), &photos);
    let config = pipeline_file(dir.path(), "");
    let common = [
        "--config",
        config.to_str().unwrap(),
        "--source-dir",
        photos.to_str().unwrap(),
    ];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter().chain(&common).map(|s| s.to_string()).collect()
    };

    let whole = dir.path().join("whole");
    kao(&whole, &with(&["pipeline"]));

    let sharded = dir.path().join("sharded");
    for i in [2, 0, 1] {
        kao(&sharded, &with(&["collect", "--shard", &format!("{i}/3")]));
    }
    // Shard 1 twice: the second run finds its own records and redoes nothing.
    for i in [3, 1, 1, 0, 2] {
        kao(&sharded, &with(&["crop", "--shard", &format!("{i}/4")]));
    }
    let split = notes(&kao(
        &sharded,
        &with(&["pipeline", "--until", "split", "--json"]),
    ));
    for i in [1, 3, 0, 2] {
        kao(&sharded, &with(&["embed", "--shard", &format!("{i}/4")]));
    }
    let rest = notes(&kao(&sharded, &with(&["pipeline", "--json"])));
    // The pipeline took the shards' work as the stages' runs instead of running them.
    assert!(split["collect"].starts_with("3 shards"), "{split:?}");
    assert!(split["crop"].starts_with("4 shards"), "{split:?}");
    assert!(rest["augment"].starts_with("4 shards"), "{rest:?}");
    assert!(
        !sharded.join("shards/crop/1-of-4").exists(),
        "merged shards are removed"
    );

    assert_same_outputs(&whole, &sharded);
}
