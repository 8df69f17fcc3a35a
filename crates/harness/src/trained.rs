//! A real trained work dir for the tests that need a model, made once per test process
//! with the library calls `kao crop`, `kao split`, `kao train` and `kao publish` make:
//! three lfw5 people, fifteen photos each. Photos numbered above 15 were never seen in
//! training. A test helper: it panics, naming the step, when a stage fails.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use kao_dataset::{read_current_chips, WorkDir};

/// The people the model knows.
pub const PEOPLE: [&str; 3] = ["Colin_Powell", "Donald_Rumsfeld", "Tony_Blair"];
/// Photos `1..=PHOTOS_PER_PERSON` of each are the training photos.
pub const PHOTOS_PER_PERSON: u32 = 15;
/// The name the iteration is published under.
pub const PUBLISHED: &str = "faces";

static TRAINED: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();

/// The trained work dir, shared by every test of the process, or `None` (the test skips)
/// without the shared photos (`kao_testdata::shared`).
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

/// A private copy of [`trained`], for tests that change the work dir.
pub fn trained_copy() -> Option<tempfile::TempDir> {
    let src = trained()?;
    let dir = tempfile::tempdir().expect("temp dir");
    copy_tree(src, dir.path());
    Some(dir)
}

/// An lfw5 photo of `person` (1-based number).
pub fn lfw(person: &str, n: u32) -> PathBuf {
    kao_testdata::lfw5_photo(person, n).expect("shared data")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
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

    // kao crop
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

    // kao split
    let chips =
        read_current_chips(&work, Some(&cropper.config().settings_hash())).expect("faces manifest");
    let split = kao_split::split_chips(&chips, &kao_split::SplitOptions::default()).expect("split");
    split.splits.write(&work.splits()).expect("write splits");

    // kao train (no augmentation: the tests need a real model, not a good one) and publish
    let config = kao_train::TrainConfig {
        augmentations: 0,
        ..kao_train::TrainConfig::default()
    };
    let out = kao_train::train(&work, &config, &mut |_| {}).expect("train");
    kao_infer::publish(&work, out.iteration, PUBLISHED).expect("publish");
    work_path
}
