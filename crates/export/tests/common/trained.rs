//! A real trained work dir, made once per test binary with the library calls `kao crop`,
//! `kao split`, `kao train` and `kao publish` make: three LFW people, fifteen photos each.
//! Photos numbered above 15 were never seen in training.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use kao_dataset::{read_manifest, FaceRecord, WorkDir};

pub const PEOPLE: [&str; 3] = ["Colin_Powell", "Donald_Rumsfeld", "Tony_Blair"];
pub const PHOTOS_PER_PERSON: u32 = 15;
pub const PUBLISHED: &str = "faces";

static TRAINED: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();

/// The shared trained work dir, or `None` (test skipped) without the LFW data.
pub fn trained() -> Option<&'static Path> {
    TRAINED
        .get_or_init(|| {
            let shared = kao_testdata::shared()?;
            let dir = tempfile::tempdir().expect("temp dir");
            let work = prepare(&shared, dir.path());
            Some((dir, work))
        })
        .as_ref()
        .map(|(_, w)| w.as_path())
}

/// An LFW photo of `person` (1-based number).
pub fn lfw(person: &str, n: u32) -> PathBuf {
    kao_testdata::lfw5_photo(person, n).expect("shared data")
}

fn prepare(shared: &Path, root: &Path) -> PathBuf {
    let photos = root.join("photos");
    for person in PEOPLE {
        let dir = photos.join(person);
        std::fs::create_dir_all(&dir).unwrap();
        for n in 1..=PHOTOS_PER_PERSON {
            let name = format!("{person}_{n:04}.jpg");
            let src = shared.join("datasets/lfw5").join(person).join(&name);
            std::fs::copy(&src, dir.join(&name))
                .unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        }
    }
    let work_path = root.join("work");
    let work = WorkDir::new(&work_path);

    let nets = kao_facecrop::FaceNets::load(&candle_core::Device::Cpu).expect("face networks");
    let cropper = kao_facecrop::Cropper::new(Arc::new(nets), kao_facecrop::CropConfig::default());
    let summary = kao_facecrop::crop_tree(
        &work,
        &photos,
        &cropper,
        &kao_image::Limits::default(),
        &|| {},
    )
    .expect("crop");
    assert!(summary.chips() >= 30, "too few chips: {summary:?}");

    let chips: Vec<_> = read_manifest::<FaceRecord>(&work.faces_manifest())
        .expect("faces manifest")
        .records
        .into_iter()
        .filter_map(|r| match r {
            FaceRecord::Chip(c) => Some(c),
            FaceRecord::Reject(_) => None,
        })
        .collect();
    let split = kao_split::split_chips(&chips, &kao_split::SplitOptions::default()).expect("split");
    split.splits.write(&work.splits()).expect("write splits");

    // No augmentation: the tests need a real model, not a good one.
    let config = kao_train::TrainConfig {
        augmentations: 0,
        ..kao_train::TrainConfig::default()
    };
    let out = kao_train::train(&work, &config, &mut |_| {}).expect("train");
    kao_infer::publish(&work, out.iteration, PUBLISHED).expect("publish");
    work_path
}
