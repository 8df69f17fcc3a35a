use std::process::Command;

use crate::shared;

fn kao() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kao"))
}

#[test]
fn help_and_version() {
    let out = kao().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("inspect") && text.contains("--work"),
        "{text}"
    );
    let out = kao().arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("kao "));
}

#[test]
fn inspect_lfw5_json() {
    let Some(shared) = shared() else { return };
    let out = kao()
        .args(["inspect", "--json"])
        .arg(shared.join("datasets/lfw5"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["images"], 1140);
    assert_eq!(r["tags"].as_object().unwrap().len(), 5);
    assert_eq!(r["tags"]["George_W_Bush"]["images"], 530);
    assert_eq!(r["tags"]["Colin_Powell"]["images"], 236);
    assert_eq!(r["tags"]["Tony_Blair"]["images"], 144);
    assert_eq!(r["tags"]["Donald_Rumsfeld"]["images"], 121);
    assert_eq!(r["tags"]["Gerhard_Schroeder"]["images"], 109);
    assert_eq!(r["unreadable"].as_array().unwrap().len(), 0);
    let near = r["near_duplicates"].as_array().unwrap();
    assert!(near.iter().any(|g| g
        == &serde_json::json!([
            "George_W_Bush/George_W_Bush_0130.jpg",
            "George_W_Bush/George_W_Bush_0206.jpg"
        ])));
}

#[test]
fn inspect_nonface_reads_all_50() {
    let Some(shared) = shared() else { return };
    // nonface/ is a flat folder: inspect it as one tag through a parent with a link.
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        shared.join("datasets/nonface").canonicalize().unwrap(),
        dir.path().join("nonface"),
    )
    .unwrap();
    let out = kao()
        .args(["inspect", "--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["images"], 50, "{r}");
    assert_eq!(r["unreadable"].as_array().unwrap().len(), 0);
}

#[test]
fn inspect_lists_bad_files_and_counts_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let tag = dir.path().join("bob");
    std::fs::create_dir_all(&tag).unwrap();
    for i in 0..3 {
        image::RgbImage::from_fn(30 + i, 20, |x, y| {
            image::Rgb([x as u8 * 7, y as u8 * 9, i as u8])
        })
        .save(tag.join(format!("ok{i}.png")))
        .unwrap();
    }
    std::fs::write(tag.join("zero.jpg"), b"").unwrap();
    std::fs::write(tag.join("text.jpg"), b"hello").unwrap();
    let good = std::fs::read(tag.join("ok0.png")).unwrap();
    std::fs::write(tag.join("cut.png"), &good[..good.len() / 2]).unwrap();
    let out = kao().arg("inspect").arg(dir.path()).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("bob/zero.jpg: not an image"), "{text}");
    assert!(text.contains("bob/text.jpg: not an image"), "{text}");
    assert!(text.contains("bob/cut.png: truncated"), "{text}");
    let row = text.lines().find(|l| l.starts_with("bob")).unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!((cols[1], cols[3]), ("3", "3"), "{row}");
}
