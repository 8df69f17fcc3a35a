//! train → artifact → load → predict on 2 lfw5 people × 20 photos.

mod common;

use kao_infer::{Classifier, InferError, ModelArtifact, Predictor, HEAD_FILE};
use kao_train::{evaluate, train, EvalOptions, TrainConfig};

fn config() -> TrainConfig {
    TrainConfig {
        augmentations: 1,
        ..TrainConfig::default()
    }
}

#[test]
fn trains_loads_predicts_and_is_deterministic() {
    let Some(shared) = common::shared() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let work = common::lfw_work(&shared, dir.path(), &["Colin_Powell", "Tony_Blair"], 20);

    let first = train(&work, &config(), &mut |_| {}).unwrap();
    assert_eq!(first.iteration, 1);
    assert!(first.metrics.timings.computed > 0);
    let m = &first.metrics.test.metrics;
    assert_eq!(m.faces, 8);
    assert!(m.top1 >= 0.875, "test top-1 {}", m.top1);
    assert!(first.report.exists());

    // The artifact loads through the same code the server uses, and its tags are named.
    let (artifact, _) = ModelArtifact::load_checked(&first.dir).unwrap();
    let names: Vec<_> = artifact.tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Colin_Powell", "Tony_Blair"]);
    assert_eq!(artifact.metrics.len(), 2);
    let predictor = Predictor::load(&first.dir).unwrap();
    let test_chip = kao_dataset::Splits::read(&work.splits()).unwrap().test[0].clone();
    let chip = image::open(work.faces().join(test_chip)).unwrap().to_rgb8();
    let c = &predictor.predict_chips(&[chip]).unwrap()[0];
    assert_eq!(c.predictions.len(), 2);
    assert!(c.predictions[0].probability >= c.predictions[1].probability);
    assert!((c.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-4);

    // Same seed, same data: the same head, byte for byte, with every descriptor cached.
    let second = train(&work, &config(), &mut |_| {}).unwrap();
    assert_eq!(second.iteration, 2);
    assert_eq!(second.metrics.timings.computed, 0);
    let a = std::fs::read(first.dir.join(HEAD_FILE)).unwrap();
    let b = std::fs::read(second.dir.join(HEAD_FILE)).unwrap();
    assert!(a == b, "heads differ between identical runs");

    // Evaluation of a stored iteration reproduces the numbers written at training time.
    let (e, _) = evaluate(
        &work,
        &EvalOptions {
            iteration: Some(1),
            ..Default::default()
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(e.metrics, first.metrics.test.metrics);

    // A damaged head is refused with a message naming the file.
    let head = first.dir.join(HEAD_FILE);
    let mut bytes = std::fs::read(&head).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&head, bytes).unwrap();
    let err = Classifier::load(&first.dir).unwrap_err();
    assert!(matches!(err, InferError::Checksum { .. }), "{err}");
    assert!(err.to_string().contains("head.safetensors"), "{err}");
}
