//! `kao detect`: the table, JSON lines and `--draw`.

use std::process::Command;

use crate::{assert_drawn_in_boxes, shared};

#[test]
fn detect_finds_and_draws_every_face_of_a_group_photo() {
    let Some(shared) = shared() else { return };
    let group = shared.join("datasets/multiface/faceapijs_bbt1.jpg");
    let dir = tempfile::tempdir().unwrap();
    let drawn = dir.path().join("faces.png");
    let out = Command::new(env!("CARGO_BIN_EXE_kao"))
        .args(["detect", "--json", "--landmarks", "--draw"])
        .arg(&drawn)
        .arg(&group)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let faces = found["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 4, "{found}");
    assert_eq!(faces[0]["landmarks"].as_array().unwrap().len(), 68);
    assert_drawn_in_boxes(&group, &drawn, faces);
}
