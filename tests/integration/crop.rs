use std::path::Path;
use std::process::Command;

use kao_dataset::{read_manifest, FaceRecord};

use crate::shared;

fn crop(src: &Path, work: &Path, extra: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_kao"))
        .args(["crop", "--json", "--work"])
        .arg(work)
        .arg(src)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn link_photos(from: &Path, to: &Path, names: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for n in names {
        std::fs::copy(from.join(n), to.join(n)).unwrap();
    }
}

#[test]
fn crop_picks_the_centred_face_and_is_incremental() {
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let lfw = shared.join("datasets/lfw5");
    link_photos(
        &lfw.join("Tony_Blair"),
        &src.join("Tony_Blair"),
        &["Tony_Blair_0001.jpg", "Tony_Blair_0002.jpg"],
    );
    link_photos(
        &lfw.join("Colin_Powell"),
        &src.join("Colin_Powell"),
        &["Colin_Powell_0001.jpg"],
    );
    let bad = src.join("Colin_Powell");
    std::fs::write(bad.join("notes.jpg"), b"not a photo").unwrap();
    std::fs::write(bad.join("empty.png"), b"").unwrap();

    let work = dir.path().join("work");
    let summary = crop(&src, &work, &[]);
    assert_eq!(summary["tags"]["Tony_Blair"]["chips"], 2, "{summary}");
    assert_eq!(summary["tags"]["Colin_Powell"]["chips"], 1, "{summary}");
    assert_eq!(
        summary["tags"]["Colin_Powell"]["rejects"]["unreadable"], 2,
        "{summary}"
    );

    let records = read_manifest::<FaceRecord>(&work.join("faces/manifest.jsonl"))
        .unwrap()
        .records;
    let blair = records
        .iter()
        .find_map(|r| match r {
            FaceRecord::Chip(c) if c.source.rel.ends_with("Tony_Blair_0001.jpg") => Some(c.clone()),
            _ => None,
        })
        .expect("a chip for Tony_Blair_0001");
    // LFW's rule: the labelled face contains the image centre (125, 125).
    let b = blair.bbox;
    assert!(
        b.x <= 125.0 && b.x + b.width >= 125.0 && b.y <= 125.0 && b.y + b.height >= 125.0,
        "{b:?}"
    );
    assert_eq!(blair.landmarks.len(), 68);
    let chip = image::open(work.join("faces").join(&blair.chip)).unwrap();
    assert_eq!((chip.width(), chip.height()), (150, 150));
    let rejects: Vec<String> = records
        .iter()
        .filter_map(|r| match r {
            FaceRecord::Reject(r) => Some(format!("{}: {}", r.source.rel, r.reason)),
            _ => None,
        })
        .collect();
    assert!(
        rejects
            .iter()
            .any(|r| r.starts_with("Colin_Powell/notes.jpg: unreadable: not an image")),
        "{rejects:?}"
    );

    // A rerun with the same settings recomputes nothing and appends nothing.
    let lines = std::fs::read_to_string(work.join("faces/manifest.jsonl"))
        .unwrap()
        .lines()
        .count();
    let again = crop(&src, &work, &[]);
    assert_eq!(again["tags"]["Tony_Blair"]["reused"], 2, "{again}");
    assert_eq!(again["tags"]["Tony_Blair"]["chips"], 2, "{again}");
    let after = std::fs::read_to_string(work.join("faces/manifest.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(lines, after);

    // With `all`, the group photo gives more than one chip.
    let all = crop(&src, &dir.path().join("work_all"), &["--pick", "all"]);
    assert!(
        all["tags"]["Tony_Blair"]["chips"].as_u64().unwrap() > 2,
        "{all}"
    );
}

#[test]
fn photos_without_people_give_no_chip() {
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src/things");
    let nonface = shared.join("datasets/nonface");
    let mut names: Vec<String> = std::fs::read_dir(&nonface)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let some: Vec<&str> = names.iter().take(8).map(String::as_str).collect();
    link_photos(&nonface, &src, &some);
    let summary = crop(&dir.path().join("src"), &dir.path().join("work"), &[]);
    assert_eq!(summary["tags"]["things"]["photos"], 8);
    assert!(
        summary["tags"]["things"]["chips"].as_u64().unwrap() <= 1,
        "{summary}"
    );
}
