//! FaceLandmark68Net and FaceLandmark68TinyNet against face-api 1.7.15 (tfjs CPU backend).

mod common;

use candle_core::{Device, Tensor};
use kao_models::preprocess::{self, Pad, Rect};
use kao_models::{landmarks_in_image, FaceLandmark68Net, FaceLandmark68TinyNet};

fn input(file: &str) -> (Tensor, u32, u32) {
    let image = common::fixture_image(file);
    let x = preprocess::batch(
        &[(&image, Rect::full(&image))],
        112,
        Pad::Centred,
        &Device::Cpu,
    )
    .unwrap();
    (x, image.width(), image.height())
}

fn mean_distance(ours: &[[f64; 2]], expected: &[[f64; 2]]) -> f64 {
    assert_eq!(ours.len(), 68);
    assert_eq!(expected.len(), 68);
    let total: f64 = ours
        .iter()
        .zip(expected)
        .map(|(a, b)| (a[0] - b[0]).hypot(a[1] - b[1]))
        .sum();
    total / 68.0
}

fn check(field: &str, forward: impl Fn(&Tensor) -> Tensor) {
    let golden = common::golden();
    for file in ["sample1_face112.png", "sample2_face112.png"] {
        let (x, w, h) = input(file);
        let out: Vec<f32> = forward(&x).squeeze(0).unwrap().to_vec1().unwrap();
        let ours = landmarks_in_image(&out, w, h, (0.0, 0.0)).unwrap();
        let expected = common::points(&common::record(&golden, file)["whole_image"][field]);
        let d = mean_distance(&ours, &expected);
        eprintln!("{file} {field}: mean point distance {d:e} px");
        assert!(d <= 0.01, "{file} {field}: mean point distance {d} px");
    }
}

/// The network alone: the 112×112 crops need no padding or resizing.
#[test]
fn landmarks_match_face_api_on_face_crops() {
    let net = FaceLandmark68Net::load_default(&Device::Cpu).unwrap();
    check("landmarks_68", |x| net.forward(x).unwrap());
}

#[test]
fn tiny_landmarks_match_face_api_on_face_crops() {
    let net = FaceLandmark68TinyNet::load_default(&Device::Cpu).unwrap();
    check("landmarks_68_tiny", |x| net.forward(x).unwrap());
}

/// Whole photos: centred padding of a 1920-px-wide image and a 17× bilinear shrink, then
/// the output mapping back through the padding offset. `sample1_third.png` avoids JPEG
/// decoder differences.
#[test]
fn whole_image_landmarks_follow_padding_rule() {
    let golden = common::golden();
    let net = FaceLandmark68Net::load_default(&Device::Cpu).unwrap();
    let file = "sample1_third.png";
    let (x, w, h) = input(file);
    let out: Vec<f32> = net
        .forward(&x)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec1()
        .unwrap();
    let ours = landmarks_in_image(&out, w, h, (0.0, 0.0)).unwrap();
    let expected = common::points(&common::record(&golden, file)["whole_image"]["landmarks_68"]);
    let d = mean_distance(&ours, &expected);
    eprintln!("{file}: mean point distance {d:e} px");
    // Points are scaled back by 640/112 ≈ 5.7, so f32 noise grows accordingly.
    assert!(d <= 0.01, "{file}: mean point distance {d} px");
}

/// Face crops in the pipeline: `landmarks_68_in_crop` of each SSD face, from the crop that
/// face-api cut (`landmark_crop_box`), shifted by the unfloored detection corner.
#[test]
fn pipeline_crop_landmarks_match() {
    let golden = common::golden();
    let net = FaceLandmark68Net::load_default(&Device::Cpu).unwrap();
    let file = "sample1_third.png";
    let image = common::fixture_image(file);
    let faces = common::record(&golden, file)["pipeline"]["faces"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!faces.is_empty());
    let rects: Vec<Rect> = faces
        .iter()
        .map(|f| {
            let b = &f["landmark_crop_box"];
            let v = |k: &str| b[k].as_f64().unwrap() as u32;
            Rect {
                x: v("x"),
                y: v("y"),
                width: v("width"),
                height: v("height"),
            }
        })
        .collect();
    let crops: Vec<_> = rects.iter().map(|r| (&image, *r)).collect();
    let x = preprocess::batch(&crops, 112, Pad::Centred, &Device::Cpu).unwrap();
    let out: Vec<Vec<f32>> = net.forward(&x).unwrap().to_vec2().unwrap();
    for ((face, rect), row) in faces.iter().zip(&rects).zip(&out) {
        let det = &face["detection"]["box"];
        let origin = (det["x"].as_f64().unwrap(), det["y"].as_f64().unwrap());
        let ours = landmarks_in_image(row, rect.width, rect.height, origin).unwrap();
        let expected = common::points(&face["landmarks_68"]);
        let d = mean_distance(&ours, &expected);
        eprintln!("{file} face {rect:?}: mean point distance {d:e} px");
        assert!(
            d <= 0.01,
            "{file} face {rect:?}: mean point distance {d} px"
        );
    }
}
