//! The crop stage with a describer leaves every chip's descriptor in the embedding cache
//! under the key training looks up, so describing the split computes nothing again, and
//! the cached descriptor is the one the chip file gives.

use std::sync::Arc;

use kao_dataset::{read_manifest, EmbeddingCache, FaceRecord, WorkDir};
use kao_facecrop::{crop_tree, CropConfig, Cropper, FaceNets};
use kao_infer::Embedder;
use kao_train::describe_chips;

#[test]
fn crop_describes_chips_under_the_training_key() {
    let Some(lfw5) = kao_testdata::lfw5() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    for person in ["Colin_Powell", "Tony_Blair"] {
        std::fs::create_dir_all(raw.join(person)).unwrap();
        for n in 1..=3 {
            let name = format!("{person}_{n:04}.jpg");
            std::fs::copy(lfw5.join(person).join(&name), raw.join(person).join(&name)).unwrap();
        }
    }
    let work = WorkDir::new(dir.path().join("work"));
    let nets = Arc::new(FaceNets::load(&candle_core::Device::Cpu).unwrap());
    let embedder = Arc::new(Embedder::load_default().unwrap());
    let cropper = Cropper::new(nets, CropConfig::default()).with_describer(embedder.clone());
    let summary = crop_tree(&work, &raw, &cropper, &Default::default(), &|| {}).unwrap();
    assert_eq!(summary.chips(), 6, "{summary:?}");

    let chips: Vec<_> = read_manifest::<FaceRecord>(&work.faces_manifest())
        .unwrap()
        .records
        .into_iter()
        .filter_map(|r| match r {
            FaceRecord::Chip(c) => Some(c),
            FaceRecord::Reject(_) => None,
        })
        .collect();
    let mut cache = EmbeddingCache::open(&work, embedder.id()).unwrap();
    assert_eq!(cache.len(), 6);
    let items: Vec<_> = chips.iter().map(|c| (c, 0)).collect();
    let mut computed = 0;
    let (described, skipped) =
        describe_chips(&work, &items, &mut cache, &embedder, 16, &mut |_| {
            computed += 1
        })
        .unwrap();
    assert!(skipped.is_empty());
    assert_eq!(computed, 0, "describing the chips ran the network again");
    assert_eq!(cache.len(), 6);

    // The cached descriptor is what the chip file, decoded, gives.
    for (chip, cached) in chips.iter().zip(&described.samples.x) {
        let image = image::open(work.faces().join(&chip.chip))
            .unwrap()
            .to_rgb8();
        let fresh = &embedder.embed(&[image]).unwrap()[0];
        let worst = fresh
            .iter()
            .zip(cached)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= 1e-6, "{}: max |diff| {worst}", chip.chip);
    }

    // A rerun reuses every photo and computes no descriptor.
    let again = crop_tree(&work, &raw, &cropper, &Default::default(), &|| {}).unwrap();
    assert_eq!(again.tags.values().map(|t| t.reused).sum::<usize>(), 6);
    assert_eq!(EmbeddingCache::open(&work, embedder.id()).unwrap().len(), 6);
}
