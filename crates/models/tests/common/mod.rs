//! Golden reference data shared by the parity tests: the records face-api 1.7.15 computed
//! (see `tests/fixtures/golden/GOLDEN-README.md`) and the images they were computed on.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use image::RgbImage;

/// The fixture folder committed with the repository, so core parity runs on a fresh clone.
/// Read from `CARGO_MANIFEST_DIR` at run time (cargo sets it for tests) so a target dir
/// reused after the tree moved still finds it.
pub fn fixture_dir() -> PathBuf {
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    crate_dir.join("../../tests/fixtures/golden")
}

/// The committed subset of `face-api-1.7.15.json` (face-api's own sample photos).
pub fn golden() -> serde_json::Value {
    read_json(&fixture_dir().join("face-api-1.7.15.json"))
}

/// The full golden record set from `$KAO_SHARED/golden`, when available.
pub fn shared_golden() -> Option<serde_json::Value> {
    shared_golden_dir().map(|dir| read_json(&dir.join("face-api-1.7.15.json")))
}

fn read_json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The record for `file` (e.g. `sample1_face150.png`) in a golden JSON.
pub fn record<'a>(golden: &'a serde_json::Value, file: &str) -> &'a serde_json::Value {
    golden["images"]
        .as_array()
        .expect("golden JSON has an images array")
        .iter()
        .find(|r| r["file"] == file)
        .unwrap_or_else(|| panic!("no golden record for {file}"))
}

/// A JSON array of numbers as f32 (the golden files print float32 values with 9 significant
/// digits, so parsing as f64 then casting gives back the exact tfjs value).
pub fn f32s(value: &serde_json::Value) -> Vec<f32> {
    value
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|v| v.as_f64().expect("a number") as f32)
        .collect()
}

/// A JSON array of `[x, y]` pairs.
pub fn points(value: &serde_json::Value) -> Vec<[f64; 2]> {
    value
        .as_array()
        .expect("a JSON array of points")
        .iter()
        .map(|p| [p[0].as_f64().expect("x"), p[1].as_f64().expect("y")])
        .collect()
}

/// A committed fixture image, decoded to RGB8 with the `image` crate.
pub fn fixture_image(name: &str) -> RgbImage {
    open_rgb(&fixture_dir().join(name))
}

/// An image from `$KAO_SHARED/golden/images`, when available.
pub fn shared_image(name: &str) -> Option<RgbImage> {
    shared_golden_dir().map(|dir| open_rgb(&dir.join("images").join(name)))
}

fn open_rgb(path: &Path) -> RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

/// `$KAO_SHARED/golden` (see `kao-testdata`): `None` outside CI when missing.
pub fn shared_golden_dir() -> Option<PathBuf> {
    kao_testdata::golden()
}
