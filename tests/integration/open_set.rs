//! The default model against strangers: lfw5 and lfw_dev20, each cut, split and trained
//! with the defaults through the `kao` binary, both scored on lfw_strangers (300 people
//! none of the tags are). The strangers are described once and serve both iterations.

use std::path::Path;
use std::process::Command;

use kao_dataset::WorkDir;
use kao_train::{evaluate_with, unknown_faces, EvalOptions, IterationMetrics, METRICS_FILE};

use crate::shared;

fn kao(work: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_kao"))
        .arg("--work")
        .arg(work)
        .arg("--quiet")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kao {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `kao crop`, `kao split --seed 42`, `kao train` with every other setting at its default.
fn trained(shared: &Path, root: &Path, dataset: &str) -> WorkDir {
    let work = root.join(dataset);
    let source = shared.join("datasets").join(dataset);
    kao(&work, &["crop", source.to_str().unwrap()]);
    kao(&work, &["split", "--seed", "42"]);
    kao(&work, &["train"]);
    WorkDir::new(work)
}

#[test]
fn default_model_rejects_strangers_at_one_percent_false_rejection() {
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let lfw5 = trained(&shared, dir.path(), "lfw5");
    let dev20 = trained(&shared, dir.path(), "lfw_dev20");

    let predictor = kao_infer::Predictor::load(&lfw5.iteration(1)).unwrap();
    let (strangers, skipped) = unknown_faces(
        &predictor,
        &shared.join("datasets/lfw_strangers"),
        &mut |_| {},
    )
    .unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    assert!(
        strangers.descriptors.len() >= 300,
        "{}",
        strangers.descriptors.len()
    );

    for (work, min_top1, min_map) in [(&lfw5, 0.995, 0.998), (&dev20, 0.99, 0.0)] {
        let name = work.root().display();
        let options = EvalOptions {
            iteration: Some(1),
            ..EvalOptions::default()
        };
        let (e, _) = evaluate_with(work, &options, Some(&strangers), &mut |_| {}).unwrap();
        let op = &e.operating_point;
        let u = e.unknown.as_ref().unwrap();
        let summary = format!(
            "{name}: top-1 {:.4}, mean AP {:.4}, strangers rejected {:.4} of {}, known rejected {} of {} at radius {:.3}",
            e.metrics.top1,
            e.metrics.average_precision,
            u.rejected,
            u.faces,
            op.known_rejected,
            e.metrics.faces,
            op.max_distance
        );
        assert!(e.metrics.top1 >= min_top1, "{summary}");
        assert!(e.metrics.average_precision >= min_map, "{summary}");
        assert!(u.rejected >= 0.98, "{summary}");
        assert!(op.false_rejected <= 0.01, "{summary}");
        assert_eq!(op.target_false_reject, Some(0.01), "{summary}");

        // The operating point is met on the calibration faces (validation and
        // leave-one-out training faces; validation alone holds too few faces to measure
        // 1 %), and the report now carries the strangers' curve.
        let dir = work.iteration(1);
        let m: IterationMetrics =
            serde_json::from_slice(&std::fs::read(dir.join(METRICS_FILE)).unwrap()).unwrap();
        assert!(m.calibration.known_rejected <= 0.01, "{:?}", m.calibration);
        assert!(
            m.calibration.known_faces > m.validation.metrics.faces,
            "{:?}",
            m.calibration
        );
        let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
        assert!(
            report.contains("lfw_strangers"),
            "{name}: report without the strangers"
        );
    }
}
