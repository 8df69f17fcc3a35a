use std::io::Write;

use kao_dataset::{read_manifest, write_atomic, Manifest};
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Rec {
    n: u32,
    name: String,
}

fn rec(n: u32) -> Rec {
    Rec {
        n,
        name: format!("item {n}"),
    }
}

#[test]
fn appends_survive_reopen_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/manifest.jsonl");
    {
        let m = Manifest::open(&path).unwrap();
        m.append(&rec(1)).unwrap();
        m.append(&rec(2)).unwrap();
    }
    let m = Manifest::open(&path).unwrap();
    m.append(&rec(3)).unwrap();
    let read = read_manifest::<Rec>(&path).unwrap();
    assert_eq!(read.records, vec![rec(1), rec(2), rec(3)]);
    assert!(read.warnings.is_empty());
}

#[test]
fn torn_last_line_is_ignored_then_repaired_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifest.jsonl");
    Manifest::open(&path).unwrap().append(&rec(1)).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(br#"{"n": 2, "na"#)
        .unwrap();
    let read = read_manifest::<Rec>(&path).unwrap();
    assert_eq!(read.records, vec![rec(1)]);
    assert_eq!(read.warnings.len(), 1);
    assert!(read.warnings[0].contains("line 2"));

    // Reopening for append cuts the fragment, so it never ends up mid-file.
    Manifest::open(&path).unwrap().append(&rec(3)).unwrap();
    let read = read_manifest::<Rec>(&path).unwrap();
    assert_eq!(read.records, vec![rec(1), rec(3)]);
    assert!(read.warnings.is_empty());
}

#[test]
fn corrupt_middle_line_is_an_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifest.jsonl");
    std::fs::write(
        &path,
        "{\"n\":1,\"name\":\"a\"}\nnot json\n{\"n\":2,\"name\":\"b\"}\n",
    )
    .unwrap();
    let err = read_manifest::<Rec>(&path).unwrap_err().to_string();
    assert!(
        err.contains("manifest.jsonl") && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn missing_manifest_reads_empty() {
    let dir = tempfile::tempdir().unwrap();
    let read = read_manifest::<Rec>(&dir.path().join("none.jsonl")).unwrap();
    assert!(read.records.is_empty());
}

#[test]
fn concurrent_appends_stay_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifest.jsonl");
    let m = Manifest::open(&path).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let m = &m;
            s.spawn(move || {
                for i in 0..25 {
                    m.append(&rec(t * 100 + i)).unwrap();
                }
            });
        }
    });
    let mut read = read_manifest::<Rec>(&path).unwrap().records;
    read.sort_by_key(|r| r.n);
    assert_eq!(read.len(), 100);
}

#[test]
fn atomic_write_replaces_whole_file_and_leaves_no_temp() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/splits.json");
    write_atomic(&path, b"first").unwrap();
    write_atomic(&path, b"second version").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second version");
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("splits.json")]);
}

#[test]
fn append_all_writes_every_record_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.jsonl");
    let m = kao_dataset::Manifest::<serde_json::Value>::open(&path).unwrap();
    m.append(&serde_json::json!({"n": 0})).unwrap();
    m.append_all(&[serde_json::json!({"n": 1}), serde_json::json!({"n": 2})])
        .unwrap();
    m.append_all(&[]).unwrap();
    let read = kao_dataset::read_manifest::<serde_json::Value>(&path).unwrap();
    let ns: Vec<u64> = read
        .records
        .iter()
        .map(|r| r["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, [0, 1, 2]);
}
