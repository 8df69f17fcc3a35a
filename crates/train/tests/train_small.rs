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

/// A known face the rule rejects is counted once in the summary's "known rejected" and
/// listed once among the misclassified faces as `unknown`, in the evaluation and in the
/// report that evaluation with an unknown folder writes.
#[test]
fn report_counts_rejected_known_faces_in_summary_and_mistakes() {
    let Some(shared) = common::shared() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let work = common::lfw_work(&shared, dir.path(), &["Colin_Powell", "Tony_Blair"], 20);
    let config = TrainConfig {
        augmentations: 0,
        ..TrainConfig::default()
    };
    let out = train(&work, &config, &mut |_| {}).unwrap();
    assert_eq!(out.metrics.test.metrics.top1, 1.0);
    // Tighten the trained radius below the test faces' median distance, so that the head
    // gets every face right and the rule turns some away.
    let model = out.dir.join(kao_infer::MODEL_FILE);
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
    let classifier = Classifier::load(&out.dir).unwrap();
    let (described, _) = {
        let data = kao_train::Dataset::load(&work).unwrap();
        let embedder = kao_infer::Embedder::load_default().unwrap();
        let mut cache = kao_train::EmbeddingCache::open(&work, embedder.id()).unwrap();
        kao_train::describe_chips(
            &work,
            &data.items(kao_dataset::SplitPart::Test),
            &mut cache,
            &embedder,
            16,
            &mut |_| {},
        )
        .unwrap()
    };
    let mut distances: Vec<f32> = described
        .samples
        .x
        .iter()
        .map(|x| classifier.classify(x).distance)
        .collect();
    distances.sort_by(f32::total_cmp);
    json["unknown"]["maxDistance"] = serde_json::json!(distances[distances.len() / 2]);
    std::fs::write(&model, serde_json::to_vec(&json).unwrap()).unwrap();

    let strangers = dir.path().join("strangers");
    std::fs::create_dir_all(&strangers).unwrap();
    for name in ["Aaron_Eckhart_0001.jpg", "Adam_Mair_0001.jpg"] {
        std::fs::copy(
            shared.join("datasets/lfw_strangers").join(name),
            strangers.join(name),
        )
        .unwrap();
    }
    let (test, _) = evaluate(
        &work,
        &EvalOptions {
            iteration: Some(out.iteration),
            unknown: Some(strangers),
            ..Default::default()
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(test.metrics.top1, 1.0);
    let rejected = test.operating_point.known_rejected;
    assert!(rejected > 0, "{:?}", test.operating_point);
    let listed = test
        .misclassified
        .iter()
        .filter(|m| m.predicted_tag == "unknown")
        .count();
    assert_eq!(listed, rejected);
    assert_eq!(test.misclassified.len(), rejected);
    assert_eq!(test.unknown.as_ref().unwrap().faces, 2);

    let html = std::fs::read_to_string(&out.report).unwrap();
    let cells: Vec<&str> = html
        .split("<td class=\"known-rejected\">")
        .skip(1)
        .map(|s| s.split('<').next().unwrap())
        .collect();
    assert_eq!(cells.len(), 2, "one cell per split: {cells:?}");
    assert!(
        cells[1].starts_with(&format!("{rejected} (")),
        "test row says {:?}, the evaluation {rejected}",
        cells[1]
    );
    let count = |class: &str| {
        html.split(&format!("<span class=\"{class}\">"))
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap()
            .to_string()
    };
    assert_eq!(count("rejected-count"), rejected.to_string());
    assert_eq!(count("wrong-tag-count"), "0");
    assert!(html.contains("Unknown faces rejected vs known faces rejected"));
    assert!(
        html.contains("strangers"),
        "the report names the unknown folder"
    );
}
