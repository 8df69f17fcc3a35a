//! crop → split → train → eval → predict → iterations → publish on 2 lfw5 people × 20 photos.

use std::path::Path;
use std::process::Command;

use crate::{assert_drawn_in_boxes, shared};

fn kao(work: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kao"));
    c.arg("--work").arg(work).arg("--quiet");
    c
}

fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn train_eval_predict_publish() {
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    for person in ["Colin_Powell", "Tony_Blair"] {
        let src = shared.join("datasets/lfw5").join(person);
        let mut files: Vec<_> = std::fs::read_dir(&src)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        std::fs::create_dir_all(photos.join(person)).unwrap();
        for f in files.iter().take(20) {
            std::fs::copy(f, photos.join(person).join(f.file_name().unwrap())).unwrap();
        }
    }
    let work = dir.path().join("work");
    ok(kao(&work).arg("crop").arg(&photos));
    ok(kao(&work).args(["split", "--seed", "42"]));
    ok(kao(&work).args(["train", "--augmentations", "1"]));
    assert!(work.join("iterations/1/model.json").exists());
    assert!(work.join("iterations/1/report.html").exists());

    let eval: serde_json::Value =
        serde_json::from_str(&ok(kao(&work).args(["eval", "--json", "--split", "test"]))).unwrap();
    assert_eq!(eval["split"], "test");
    for key in ["top1", "precision", "recall", "averagePrecision"] {
        let v = eval[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    assert!(eval["top1"].as_f64().unwrap() >= 0.85, "{eval}");
    assert_eq!(eval["perTagPerformance"].as_array().unwrap().len(), 2);

    // With a folder of strangers: their rates, and the operating point they were met at.
    let strangers = dir.path().join("strangers");
    std::fs::create_dir_all(&strangers).unwrap();
    for name in [
        "Aaron_Eckhart_0001.jpg",
        "Adam_Mair_0001.jpg",
        "Ainsworth_Dyer_0001.jpg",
    ] {
        let src = shared.join("datasets/lfw_strangers").join(name);
        std::fs::copy(src, strangers.join(name)).unwrap();
    }
    let eval: serde_json::Value = serde_json::from_str(&ok(kao(&work)
        .args(["eval", "--json", "--unknown"])
        .arg(&strangers)))
    .unwrap();
    let unknown = &eval["unknown"];
    assert!(unknown["faces"].as_u64().unwrap() >= 3, "{eval}");
    let rejected = unknown["rejected"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&rejected), "{eval}");
    let op = &eval["operatingPoint"];
    assert_eq!(op["targetFalseReject"], 0.01, "{eval}");
    assert_eq!(op["space"], "unit", "{eval}");
    assert!(op["maxDistance"].as_f64().unwrap() > 0.0, "{eval}");
    assert!(op["falseRejected"].as_f64().unwrap() <= 1.0, "{eval}");

    let photo = std::fs::read_dir(photos.join("Tony_Blair"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let line = ok(kao(&work).args(["predict", "--json"]).arg(&photo));
    let p: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(p["width"], 250);
    let face = &p["faces"][0];
    assert!(face["box"]["width"].as_f64().unwrap() > 20.0);
    assert_eq!(face["predictions"][0]["tagName"], "Tony_Blair", "{p}");
    assert!(face["unknown"].is_boolean());

    // A group photo: the picked face only, or with --all-faces every face (SSD first finds
    // the four people the tiny detector half misses), each drawn boxed and named.
    let group = shared.join("datasets/multiface/faceapijs_bbt1.jpg");
    let line = ok(kao(&work).args(["predict", "--json"]).arg(&group));
    let p: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(p["faces"].as_array().unwrap().len(), 1, "{p}");
    let drawn = dir.path().join("group.png");
    let line = ok(kao(&work)
        .args(["predict", "--json", "--all-faces", "--draw"])
        .arg(&drawn)
        .arg(&group));
    let p: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    let faces = p["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 4, "{p}");
    assert_drawn_in_boxes(&group, &drawn, faces);

    ok(kao(&work).args(["publish", "1", "--name", "prod"]));
    let published: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.join("published.json")).unwrap()).unwrap();
    assert_eq!(published["published"][0]["name"], "prod");
    assert_eq!(published["published"][0]["iteration"], 1);
    let list = ok(kao(&work).arg("iterations"));
    assert!(list.contains("prod"), "{list}");
}
