//! The exported page in a real browser: `kao export --platform web` of a trained iteration,
//! served on loopback, opened in headless Chromium (WebDriver) with the network cut off
//! except for the page's own origin. `kao.identify` on held-back photos must give the
//! native Predictor's answers (top tag and unknown flag equal, every probability within
//! 0.01), in the relaxed-SIMD build Chromium loads and in the SIMD128 build other engines
//! load; the page's file input and its camera (Chromium's fake capture device playing a
//! still of a known person) must name that person.
//!
//! The page's screenshot lands in `$CARGO_TARGET_TMPDIR/kao-export-web/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use kao_dataset::WorkDir;
use kao_export::{ExportRequest, Platform, Selection};
use kao_harness::trained::{lfw, trained, PEOPLE, PHOTOS_PER_PERSON, PUBLISHED};
use kao_harness::StaticServer;
use kao_infer::{FacePrediction, Predictor};
use kao_webdriver::{Browser, Options};
use serde_json::{json, Value};

/// Held-back photos per person (numbers after the training ones).
const HELD_BACK: u32 = 8;
/// Largest allowed difference of any tag probability, browser against native.
const TOLERANCE: f32 = 0.01;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The photos checked: held-back photos of each trained person, photos of a person the
/// model never saw, and group photos.
fn photos() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for person in PEOPLE {
        for n in PHOTOS_PER_PERSON + 1..=PHOTOS_PER_PERSON + HELD_BACK {
            out.push(lfw(person, n));
        }
    }
    for n in 1..=3 {
        out.push(lfw("George_W_Bush", n));
    }
    let multi = kao_testdata::dataset("multiface").expect("shared data");
    out.push(multi.join("deepface_couple.jpg"));
    out.push(multi.join("dlib_2008_001322.jpg"));
    out
}

/// A one-frame YUV4MPEG2 (4:2:0, BT.601 studio range) of `path`, cropped to even sides:
/// what Chromium's fake camera plays on a loop.
fn y4m(path: &Path) -> Vec<u8> {
    let image = image::open(path).expect("photo").to_rgb8();
    let (w, h) = (image.width() & !1, image.height() & !1);
    let px = |x: u32, y: u32| {
        let p = image.get_pixel(x, y).0;
        (f32::from(p[0]), f32::from(p[1]), f32::from(p[2]))
    };
    let mut out = format!("YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\nFRAME\n").into_bytes();
    for y in 0..h {
        for x in 0..w {
            let (r, g, b) = px(x, y);
            out.push((16.0 + 0.257 * r + 0.504 * g + 0.098 * b).round() as u8);
        }
    }
    let chroma = |f: &dyn Fn(f32, f32, f32) -> f32| {
        let mut plane = Vec::new();
        for y in (0..h).step_by(2) {
            for x in (0..w).step_by(2) {
                let mut sum = 0.0;
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let (r, g, b) = px(x + dx, y + dy);
                    sum += f(r, g, b);
                }
                plane.push((sum / 4.0).round().clamp(0.0, 255.0) as u8);
            }
        }
        plane
    };
    out.extend(chroma(&|r, g, b| 128.0 - 0.148 * r - 0.291 * g + 0.439 * b));
    out.extend(chroma(&|r, g, b| 128.0 + 0.439 * r - 0.368 * g - 0.071 * b));
    out
}

/// The largest probability difference between a browser answer's faces and native faces,
/// after checking that they agree on the count, each face's top tag and picked face, and
/// the number of faces whose unknown flag differs (a face near the unknown rule's
/// threshold may cross it when the pixels differ slightly).
fn compare(what: &str, browser: &Value, native: &[FacePrediction]) -> (f32, usize) {
    let faces = browser["faces"].as_array().expect("faces");
    assert_eq!(
        faces.len(),
        native.len(),
        "{what}: face count, browser {browser}"
    );
    let mut worst = 0f32;
    let mut flips = 0;
    for (i, (b, n)) in faces.iter().zip(native).enumerate() {
        let top = b["predictions"][0]["tagName"].as_str().unwrap_or_default();
        assert_eq!(top, n.predictions[0].tag_name, "{what}: face {i} top tag");
        assert_eq!(b["picked"], n.picked, "{what}: face {i} picked");
        if b["unknown"] != n.unknown {
            eprintln!(
                "{what}: face {i}: unknown {} in the browser, {} natively",
                b["unknown"], n.unknown
            );
            flips += 1;
        }
        for p in b["predictions"].as_array().unwrap() {
            let name = p["tagName"].as_str().unwrap();
            let native_p = n
                .predictions
                .iter()
                .find(|t| t.tag_name == name)
                .unwrap()
                .probability;
            let diff = (p["probability"].as_f64().unwrap() as f32 - native_p).abs();
            worst = worst.max(diff);
        }
    }
    (worst, flips)
}

const IDENTIFY_BYTES: &str = "const [data, type] = arguments;
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    return window.kao.identify(new Blob([bytes], { type }));";

const IDENTIFY_IMG: &str = "const [data, type] = arguments;
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const img = new Image();
    img.src = URL.createObjectURL(new Blob([bytes], { type }));
    return img.decode().then(() => window.kao.identify(img));";

const IDENTIFY_PIXELS: &str = "const [data, width, height] = arguments;
    const bytes = Uint8ClampedArray.from(atob(data), (c) => c.charCodeAt(0));
    return window.kao.identify(new ImageData(bytes, width, height));";

#[tokio::test(flavor = "multi_thread")]
async fn exported_page_answers_as_native_offline_from_files_and_camera() {
    if !kao_webdriver::available() {
        return;
    }
    let Some(work_path) = trained() else { return };
    let work = WorkDir::new(work_path);
    let runtime = tokio::task::spawn_blocking(kao_harness::build_web_runtime)
        .await
        .unwrap()
        .expect("build the browser runtime (cargo xtask web)");
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("faces-web");
    let summary = kao_export::export(
        &work,
        &ExportRequest {
            platform: Platform::Web,
            selection: Selection::Published(PUBLISHED.into()),
            out: dir.clone(),
            networks: kao_models::ModelFiles::default_dir(),
            web_runtime: Some(runtime),
            binary: None,
            zip: true,
            iteration_id: None,
        },
    )
    .expect("export");
    let zip = summary.zip.clone().expect("a zip");
    assert!(std::fs::metadata(&zip).unwrap().len() > 1_000_000);
    // Only the weights the iteration runs: never the tiny landmark net.
    assert!(summary
        .files
        .iter()
        .all(|(f, _)| !f.contains("landmark_68_tiny")));
    let native = Predictor::load(&work.iteration(summary.info.iteration)).unwrap();

    let server = StaticServer::start(&[("/", dir.as_path())]).await.unwrap();
    // A second loopback server the page must not be able to reach.
    let elsewhere = StaticServer::start(&[("/", out.path())]).await.unwrap();
    let camera_person = "Tony_Blair";
    let camera_file = out.path().join("camera.y4m");
    std::fs::write(
        &camera_file,
        y4m(&lfw(camera_person, PHOTOS_PER_PERSON + 20)),
    )
    .unwrap();
    let browser = Browser::start_with(&Options {
        width: 1280,
        height: 900,
        fake_camera: Some(camera_file),
        only_origin: Some(server.addr().to_string()),
        args: Vec::new(),
    })
    .await;

    browser.open(&server.url("/")).await;
    browser
        .wait_for("body[data-ready]", Duration::from_secs(120))
        .await;

    // Every photo three ways: as a file (a Blob: Kao's decoder, in the browser), as an
    // <img> (the browser's JPEG decoder), and as the native decoder's pixels (ImageData).
    // The first and the last must match native; the <img> path shows what decoding alone
    // changes.
    // Each photo's name, bytes, native pixels and native answer.
    let cases: Vec<_> = photos()
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            let what = path.file_name().unwrap().to_string_lossy().into_owned();
            let decoded = kao_image::decode(&bytes, &kao_image::Limits::default()).unwrap();
            let faces = native.predict(&decoded.image).unwrap();
            (what, bytes, decoded, faces)
        })
        .collect();
    let (mut worst_file, mut worst_img, mut worst_pixels) = (0f32, 0f32, 0f32);
    let (mut flips_img, mut photos_checked) = (0, 0);
    for (what, bytes, decoded, faces) in &cases {
        let answer = browser
            .script(IDENTIFY_BYTES, json!([b64(bytes), "image/jpeg"]))
            .await;
        let (worst, flips) = compare(what, &answer, faces);
        assert_eq!(flips, 0, "{what}: file, different unknown flag");
        worst_file = worst_file.max(worst);
        assert_eq!(answer["project"], summary.info.project);
        assert_eq!(answer["iteration"], summary.info.iteration_id);
        let answer = browser
            .script(IDENTIFY_IMG, json!([b64(bytes), "image/jpeg"]))
            .await;
        let (worst, flips) = compare(what, &answer, faces);
        worst_img = worst_img.max(worst);
        flips_img += flips;
        let rgba: Vec<u8> = decoded
            .image
            .pixels()
            .flat_map(|p| [p.0[0], p.0[1], p.0[2], 255])
            .collect();
        let (w, h) = decoded.image.dimensions();
        let answer = browser
            .script(IDENTIFY_PIXELS, json!([b64(&rgba), w, h]))
            .await;
        let (worst, flips) = compare(what, &answer, faces);
        assert_eq!(flips, 0, "{what}: same pixels, different unknown flag");
        worst_pixels = worst_pixels.max(worst);
        photos_checked += 1;
    }
    eprintln!(
        "{photos_checked} photos, top tags equal to native on every path; largest \
         probability difference from native: {worst_file:.6} as files (Kao's decoder), \
         {worst_pixels:.6} as the native decoder's pixels, {worst_img:.5} as <img> (the \
         browser's JPEG decoder, {flips_img} unknown flags differing)"
    );
    assert!(worst_file <= TOLERANCE, "{worst_file}");
    assert!(worst_pixels <= TOLERANCE, "{worst_pixels}");
    let relaxed = browser
        .script("return window.kao.relaxedSimd", json!([]))
        .await;
    assert_eq!(
        relaxed,
        json!(true),
        "this Chromium has no relaxed SIMD, so the checks above ran the SIMD128 build"
    );

    // The SIMD128 build, which engines without relaxed SIMD load, answers as native too.
    let info = browser
        .script(
            "return window.kao.load(undefined, { relaxedSimd: false })",
            json!([]),
        )
        .await;
    assert_eq!(info["wasm"], "kao_web_bg.wasm");
    let mut worst_simd128 = 0f32;
    for (what, bytes, _, faces) in &cases {
        let answer = browser
            .script(IDENTIFY_BYTES, json!([b64(bytes), "image/jpeg"]))
            .await;
        let (worst, flips) = compare(what, &answer, faces);
        assert_eq!(flips, 0, "{what}: SIMD128 build, different unknown flag");
        worst_simd128 = worst_simd128.max(worst);
    }
    eprintln!("SIMD128 build: largest probability difference from native {worst_simd128:.6}");
    assert!(worst_simd128 <= TOLERANCE, "{worst_simd128}");
    let info = browser.script("return window.kao.load()", json!([])).await;
    assert_eq!(info["wasm"], "kao_web_relaxed_bg.wasm");

    // The page itself: a photo chosen with the file input gets a named box.
    let chosen = lfw("Colin_Powell", PHOTOS_PER_PERSON + 5);
    let input = &browser.find_all("#file").await[0];
    browser
        .send_keys(input, &chosen.display().to_string())
        .await;
    let boxes = browser
        .wait_for("figure.photo.done .box", Duration::from_secs(60))
        .await;
    let label = browser.text(&boxes[0]).await;
    assert!(label.starts_with("Colin_Powell "), "{label}");
    let shot = browser.screenshot().await;
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kao-export-web");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::write(shots.join("page.png"), &shot).unwrap();
    eprintln!("screenshot: {}", shots.join("page.png").display());

    // The camera: the fake device plays a still of a known person.
    let toggle = &browser.find_all("#camera-toggle").await[0];
    browser.click(toggle).await;
    let named = browser
        .wait_for("#camera.done .box[data-tag]", Duration::from_secs(60))
        .await;
    let tag = browser
        .script(
            "return [...document.querySelectorAll('#camera .box')].map((b) => b.dataset.tag)",
            json!([]),
        )
        .await;
    assert!(!named.is_empty());
    assert_eq!(tag, json!([camera_person]), "camera faces");
    browser.click(toggle).await;

    // Offline except for its own origin: everything it loaded came from there, and
    // anything else (another loopback port, the internet) is unreachable.
    let origin = server.url("");
    let loaded = browser
        .script(
            "return performance.getEntriesByType('resource').map((e) => e.name)",
            json!([]),
        )
        .await;
    for url in loaded.as_array().unwrap() {
        let url = url.as_str().unwrap();
        assert!(
            url.starts_with(&origin) || url.starts_with("blob:"),
            "{url}"
        );
    }
    let reach = "return fetch(arguments[0]).then(() => 'reached', (e) => 'blocked')";
    for url in [elsewhere.url("/"), "http://example.com/".to_string()] {
        let got = browser.script(reach, json!([url])).await;
        assert_eq!(got, "blocked", "{url}");
    }
    assert!(elsewhere.requests().is_empty());
    let served: Vec<String> = server.requests();
    for path in &served {
        let file = path.trim_start_matches('/');
        assert!(
            file.is_empty() || dir.join(file).is_file() || file == "favicon.ico",
            "the page asked for {path}, which is not in the export"
        );
    }
    browser.quit().await;
}

/// Without a browser: the exported `model/` folder, loaded by kao-web natively from its
/// bytes, answers exactly as the Predictor loaded from the work dir.
#[test]
fn exported_bundle_loads_from_bytes_with_native_answers() {
    let Some(work_path) = trained() else { return };
    let work = WorkDir::new(work_path);
    let (n, name) = kao_export::resolve(&work, &Selection::Published(PUBLISHED.into())).unwrap();
    let bundle = kao_infer::Bundle::collect(
        &work,
        n,
        name.as_deref(),
        &kao_models::ModelFiles::default_dir(),
    )
    .unwrap();
    let model = kao_web::WebModel::load(bundle.files.clone()).unwrap();
    let native = Predictor::load(&work.iteration(n)).unwrap();
    for path in photos().iter().step_by(4) {
        let image = kao_image::load(path, &kao_image::Limits::default())
            .unwrap()
            .image;
        let rgba: Vec<u8> = image
            .pixels()
            .flat_map(|p| [p.0[0], p.0[1], p.0[2], 255])
            .collect();
        let (w, h) = image.dimensions();
        let answer = model
            .identify(&rgba, w, h, "id".into(), "2026-01-01T00:00:00Z".into())
            .unwrap();
        let answer = serde_json::to_value(&answer).unwrap();
        let faces = native.predict(&image).unwrap();
        let (worst, flips) = compare(&path.display().to_string(), &answer, &faces);
        assert_eq!((worst, flips), (0.0, 0), "{}", path.display());
    }
    // A bundle missing a file it lists names the file.
    let mut files = bundle.files;
    files.remove("head.safetensors");
    let err = kao_web::WebModel::load(files).err().unwrap().to_string();
    assert!(err.contains("head.safetensors"), "{err}");
}
