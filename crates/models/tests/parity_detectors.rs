//! The detectors against what face-api 1.7.15 computes (tests/fixtures/golden).

mod common;

use candle_core::Device;
use kao_models::preprocess::{self, Pad, Rect};
use kao_models::{BBox, Detection, SsdMobilenetV1, SsdOptions, TinyFaceDetector, TinyOptions};

fn golden_box(v: &serde_json::Value) -> BBox {
    BBox {
        x: v["x"].as_f64().expect("x"),
        y: v["y"].as_f64().expect("y"),
        width: v["width"].as_f64().expect("width"),
        height: v["height"].as_f64().expect("height"),
    }
}

/// Checks `found` against a golden `detections` array: same count, same order, each box
/// IoU ≥ `min_iou`; returns the worst IoU.
fn assert_same_detections(
    found: &[Detection],
    golden: &serde_json::Value,
    min_iou: f64,
    what: &str,
) -> f64 {
    let golden = golden.as_array().expect("detections array");
    assert_eq!(
        found.len(),
        golden.len(),
        "{what}: detections {found:?} vs golden {golden:?}"
    );
    let mut worst = 1f64;
    for (i, (d, g)) in found.iter().zip(golden).enumerate() {
        let iou = d.bbox.iou(&golden_box(&g["box"]));
        worst = worst.min(iou);
        assert!(
            iou >= min_iou,
            "{what}: detection {i} IoU {iou} ({:?} vs {g})",
            d.bbox
        );
    }
    worst
}

#[test]
fn tiny_raw_output_matches_face_api() {
    let dev = Device::Cpu;
    let net = TinyFaceDetector::load_default(&dev).unwrap();
    let image = common::fixture_image("sample1_in416.png");
    let golden = common::golden();
    let record = common::record(&golden, "sample1_in416.png");
    // The image is the exact 416×416 net input, so no padding or resizing happens.
    let input =
        preprocess::batch(&[(&image, Rect::full(&image))], 416, Pad::BottomRight, &dev).unwrap();
    let out = net.forward(&input).unwrap();
    assert_eq!(out.dims(), &[1, 25, 13, 13]);
    // Golden is NHWC.
    let ours = out
        .permute((0, 2, 3, 1))
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let theirs = common::f32s(&record["tiny_face_detector"]["raw_output"]["data"]);
    assert_eq!(ours.len(), theirs.len());
    let max_diff = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    eprintln!("tiny raw output max |diff| = {max_diff:e}");
    assert!(max_diff <= 1e-3, "max |diff| {max_diff}");
}

#[test]
fn tiny_detections_match_face_api() {
    let net = TinyFaceDetector::load_default(&Device::Cpu).unwrap();
    let golden = common::golden();
    for file in ["sample1_in416.png", "sample1_third.png"] {
        let image = common::fixture_image(file);
        let record = common::record(&golden, file);
        let found = net.detect(&image, &TinyOptions::default()).unwrap();
        let worst = assert_same_detections(
            &found,
            &record["tiny_face_detector"]["detections"],
            0.999,
            file,
        );
        for (d, g) in found.iter().zip(
            record["tiny_face_detector"]["detections"]
                .as_array()
                .unwrap(),
        ) {
            let score = g["score"].as_f64().unwrap();
            assert!(
                (d.score - score).abs() < 1e-3,
                "{file}: score {} vs {score}",
                d.score
            );
        }
        eprintln!("{file}: {} faces, worst IoU {worst:.6}", found.len());
    }
}

#[test]
fn ssd_anchor_scores_match_face_api() {
    let dev = Device::Cpu;
    let net = SsdMobilenetV1::load_default(&dev).unwrap();
    let image = common::fixture_image("sample1_in512.png");
    let golden = common::golden();
    let raw = &common::record(&golden, "sample1_in512.png")["ssd_mobilenetv1"]["raw_top"];
    // The image is the exact 512×512 net input, so no padding or resizing happens.
    let input =
        preprocess::batch(&[(&image, Rect::full(&image))], 512, Pad::BottomRight, &dev).unwrap();
    let out = net.forward(&input).unwrap();
    let scores = out.scores.squeeze(0).unwrap().to_vec1::<f32>().unwrap();
    let boxes = out.boxes.squeeze(0).unwrap().to_vec2::<f32>().unwrap();
    assert_eq!(scores.len(), 5118);
    let (mut worst_score, mut worst_box) = (0f32, 0f32);
    for anchor in raw["anchors"].as_array().unwrap() {
        let i = anchor["index"].as_u64().unwrap() as usize;
        let score = anchor["score"].as_f64().unwrap() as f32;
        worst_score = worst_score.max((scores[i] - score).abs());
        for (ours, theirs) in boxes[i].iter().zip(common::f32s(&anchor["box"])) {
            worst_box = worst_box.max((ours - theirs).abs());
        }
    }
    let sum: f64 = scores.iter().map(|&s| f64::from(s)).sum();
    eprintln!("ssd raw_top: max |score diff| {worst_score:e}, max |box diff| {worst_box:e}, score sum {sum}");
    assert!(worst_score <= 1e-4, "score diff {worst_score}");
    assert!(worst_box <= 1e-4, "box diff {worst_box}");
    assert!(
        (sum - raw["score_sum"].as_f64().unwrap()).abs() < 1e-2,
        "score sum {sum}"
    );
    let above = scores.iter().filter(|&&s| s > 0.5).count() as u64;
    assert_eq!(above, raw["num_above_min_confidence"].as_u64().unwrap());
}

#[test]
fn ssd_detections_match_face_api() {
    let net = SsdMobilenetV1::load_default(&Device::Cpu).unwrap();
    let golden = common::golden();
    for file in ["sample1_in512.png", "sample1_third.png"] {
        let image = common::fixture_image(file);
        let record = common::record(&golden, file);
        let found = net.detect(&image, &SsdOptions::default()).unwrap();
        let worst = assert_same_detections(
            &found,
            &record["ssd_mobilenetv1"]["detections"],
            0.999,
            file,
        );
        for (d, g) in found
            .iter()
            .zip(record["ssd_mobilenetv1"]["detections"].as_array().unwrap())
        {
            let score = g["score"].as_f64().unwrap();
            assert!(
                (d.score - score).abs() < 1e-4,
                "{file}: score {} vs {score}",
                d.score
            );
        }
        eprintln!("{file}: {} faces, worst IoU {worst:.6}", found.len());
    }
}
