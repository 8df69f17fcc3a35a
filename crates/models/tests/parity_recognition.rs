//! FaceRecognitionNet against face-api 1.7.15 (tfjs CPU backend) on identical pixels.

mod common;

use candle_core::Device;
use kao_models::preprocess::{self, Pad, Rect};
use kao_models::FaceRecognitionNet;

/// Sums of the padded, resized net inputs match tfjs's to float32 rounding, for both
/// padding conventions and all four input sizes. `sample1_third.png` (640×426) exercises
/// padding on the short axis; the face crops are square or nearly so.
#[test]
fn preprocess_matches_tfjs_input_stats() {
    let golden = common::golden();
    let cases = [
        ("tiny_face_detector_416", 416, Pad::BottomRight),
        ("ssd_mobilenetv1_512", 512, Pad::BottomRight),
        ("landmarks_112_whole_image", 112, Pad::Centred),
        ("recognition_150_whole_image", 150, Pad::Centred),
    ];
    for file in [
        "sample1_third.png",
        "sample1_face112.png",
        "sample2_face150.png",
    ] {
        let image = common::fixture_image(file);
        let record = common::record(&golden, file);
        for (key, size, pad) in cases {
            let stats = &record["net_input_stats"][key];
            let chw = preprocess::resize_padded(&image, Rect::full(&image), size, pad).unwrap();
            let plane = size * size;
            let sum: f64 = chw.iter().map(|&v| f64::from(v)).sum();
            let sum_sq: f64 = chw.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
            let expect_sum = stats["sum"].as_f64().unwrap();
            let expect_sq = stats["sum_sq"].as_f64().unwrap();
            assert!(
                (sum - expect_sum).abs() <= 1e-6 * expect_sum.abs().max(1.0),
                "{file} {key}: sum {sum} vs tfjs {expect_sum}"
            );
            assert!(
                (sum_sq - expect_sq).abs() <= 1e-6 * expect_sq.abs().max(1.0),
                "{file} {key}: sum_sq {sum_sq} vs tfjs {expect_sq}"
            );
            // tfjs prints the first two pixels of its NHWC tensor.
            let first = common::f32s(&stats["first"]);
            let ours: Vec<f32> = (0..6).map(|i| chw[(i % 3) * plane + i / 3]).collect();
            assert_eq!(ours, first, "{file} {key}: first values");
        }
    }
}

fn descriptor(net: &FaceRecognitionNet, file: &str) -> Vec<f32> {
    let image = common::fixture_image(file);
    let x = preprocess::batch(
        &[(&image, Rect::full(&image))],
        150,
        Pad::Centred,
        &Device::Cpu,
    )
    .unwrap();
    net.forward(&x)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// The network alone: the 150×150 crops need no padding or resizing, so any difference is
/// the port's arithmetic (the golden README puts backend-to-backend noise at ~6e-7).
#[test]
fn descriptor_matches_face_api_on_aligned_crops() {
    let golden = common::golden();
    let net = FaceRecognitionNet::load_default(&Device::Cpu).unwrap();
    for file in ["sample1_face150.png", "sample2_face150.png"] {
        let expected = common::f32s(&common::record(&golden, file)["whole_image"]["descriptor"]);
        let ours = descriptor(&net, file);
        assert_eq!(ours.len(), 128);
        let worst = ours
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!("{file}: max |diff| {worst:e}");
        assert!(worst <= 1e-4, "{file}: max |diff| {worst}");
    }
}

/// A batch gives each item the descriptor it gets alone.
#[test]
fn batch_matches_single() {
    let net = FaceRecognitionNet::load_default(&Device::Cpu).unwrap();
    let a = common::fixture_image("sample1_face150.png");
    let b = common::fixture_image("sample2_face150.png");
    let x = preprocess::batch(
        &[
            (&a, Rect::full(&a)),
            (&b, Rect::full(&b)),
            (&a, Rect::full(&a)),
        ],
        150,
        Pad::Centred,
        &Device::Cpu,
    )
    .unwrap();
    let out: Vec<Vec<f32>> = net.forward(&x).unwrap().to_vec2().unwrap();
    let single = [
        descriptor(&net, "sample1_face150.png"),
        descriptor(&net, "sample2_face150.png"),
    ];
    for (i, expected) in [&single[0], &single[1], &single[0]].into_iter().enumerate() {
        let worst = out[i]
            .iter()
            .zip(expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= 1e-5, "item {i}: max |diff| {worst}");
    }
}

/// `weights_sha256` identifies the exact weight shards (the model artifact records it).
#[test]
fn load_default_keeps_weights_sha256() {
    let net = FaceRecognitionNet::load_default(&Device::Cpu).unwrap();
    let sha = net.weights_sha256().unwrap();
    assert_eq!(sha.len(), 64);
    assert!(sha.bytes().all(|b| b.is_ascii_hexdigit()));
}
