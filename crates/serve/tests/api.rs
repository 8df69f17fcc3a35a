//! The real server on 127.0.0.1:0, a real model and a real HTTP client: every route and
//! body form, every error code, auth, and the page, health and metrics routes.

mod common;

use common::data::{lfw, shared};
use common::server::{client, start, KEY};
use kao_harness::trained::{trained, PUBLISHED};
use serde_json::Value;

/// A photo of each person that training never saw, and who it is.
const UNSEEN: [(&str, u32); 3] = [
    ("Colin_Powell", 30),
    ("Donald_Rumsfeld", 30),
    ("Tony_Blair", 30),
];

fn jpeg(person: &str, n: u32) -> Vec<u8> {
    std::fs::read(lfw(person, n)).unwrap()
}

async fn json(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    let value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, value)
}

fn assert_error(answer: &(u16, Value), status: u16, code: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["code"], code, "{}", answer.1);
    assert!(answer.1["message"].as_str().is_some_and(|m| !m.is_empty()));
}

fn top_tag(v: &Value) -> &str {
    v["predictions"][0]["tagName"].as_str().unwrap_or("<none>")
}

/// Custom Vision's shape, plus Kao's faces, with sane values throughout.
fn assert_prediction_shape(v: &Value, project: &str) {
    for field in ["id", "project", "iteration", "created"] {
        assert!(v[field].is_string(), "{field} missing: {v}");
    }
    assert_eq!(v["project"], project);
    assert!(uuid::Uuid::parse_str(v["id"].as_str().unwrap()).is_ok());
    assert!(uuid::Uuid::parse_str(v["iteration"].as_str().unwrap()).is_ok());
    assert!(humantime::parse_rfc3339(v["created"].as_str().unwrap()).is_ok());
    let preds = v["predictions"].as_array().unwrap();
    let probs: Vec<f64> = preds
        .iter()
        .map(|p| p["probability"].as_f64().unwrap())
        .collect();
    assert!(
        probs.windows(2).all(|w| w[0] >= w[1]),
        "not sorted: {probs:?}"
    );
    assert!(probs.iter().all(|p| (0.0..=1.0).contains(p)));
    for p in preds {
        assert!(p["tagId"].is_string() && p["tagName"].is_string());
    }
    let faces = v["faces"].as_array().unwrap();
    assert_eq!(
        faces.iter().filter(|f| f["picked"] == true).count(),
        faces.len().min(1)
    );
    for f in faces {
        let b = &f["boundingBox"];
        for k in ["left", "top", "width", "height"] {
            let x = b[k].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&x), "{k}={x}");
        }
        assert!(b["left"].as_f64().unwrap() + b["width"].as_f64().unwrap() <= 1.0 + 1e-6);
        assert!(f["unknown"].is_boolean());
    }
    assert!(v["unknown"].is_boolean());
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_body_predicts_who_is_in_unseen_photos() {
    let Some(work) = trained() else { return };
    let server = start(work, |_| {}).await;
    let http = client();
    for (person, n) in UNSEEN {
        let r = http
            .post(server.classify(PUBLISHED, "image"))
            .header("Prediction-Key", KEY)
            .header("Content-Type", "application/octet-stream")
            .body(jpeg(person, n))
            .send()
            .await
            .unwrap();
        let answer = json(r).await;
        assert_eq!(answer.0, 200, "{}", answer.1);
        assert_prediction_shape(&answer.1, &server.project);
        assert_eq!(top_tag(&answer.1), person, "{}", answer.1);
        assert!(!answer.1["faces"].as_array().unwrap().is_empty());
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_variant_and_body_form_answers() {
    let Some(work) = trained() else { return };
    let server = start(work, |_| {}).await;
    let http = client();
    let (person, n) = UNSEEN[0];
    let photo = jpeg(person, n);
    for version in ["v3.0", "v3.1"] {
        for segment in ["Prediction", "prediction"] {
            for tail in ["image", "image/nostore"] {
                let url = server.url(&format!(
                    "/customvision/{version}/{segment}/{}/classify/iterations/{PUBLISHED}/{tail}",
                    server.project
                ));
                let r = http
                    .post(&url)
                    .header("Prediction-Key", KEY)
                    .body(photo.clone())
                    .send()
                    .await
                    .unwrap();
                let answer = json(r).await;
                assert_eq!(answer.0, 200, "{url}: {}", answer.1);
                assert_eq!(top_tag(&answer.1), person);
            }
        }
    }
    for tail in ["image", "image/nostore"] {
        let part = reqwest::multipart::Part::bytes(photo.clone())
            .file_name("photo.jpg")
            .mime_str("image/jpeg")
            .unwrap();
        let form = reqwest::multipart::Form::new().part("imageData", part);
        let r = http
            .post(server.classify(PUBLISHED, tail))
            .header("Prediction-Key", KEY)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let answer = json(r).await;
        assert_eq!(answer.0, 200, "multipart {tail}: {}", answer.1);
        assert_eq!(top_tag(&answer.1), person);
    }
    let wrong_version = server.url(&format!(
        "/customvision/v2.0/Prediction/{}/classify/iterations/{PUBLISHED}/image",
        server.project
    ));
    let r = http
        .post(wrong_version)
        .header("Prediction-Key", KEY)
        .body(photo)
        .send()
        .await
        .unwrap();
    assert_error(&json(r).await, 404, "NotFound");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_photo_without_a_face_gives_empty_predictions() {
    let Some(work) = trained() else { return };
    let shared = shared().unwrap();
    let server = start(work, |_| {}).await;
    let photo = std::fs::read(shared.join("datasets/nonface/skimage_brick.png")).unwrap();
    let r = client()
        .post(server.classify(PUBLISHED, "image"))
        .header("Prediction-Key", KEY)
        .body(photo)
        .send()
        .await
        .unwrap();
    let answer = json(r).await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_prediction_shape(&answer.1, &server.project);
    assert_eq!(answer.1["predictions"], Value::Array(vec![]));
    assert_eq!(answer.1["faces"], Value::Array(vec![]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_have_custom_visions_codes() {
    let Some(work) = trained() else { return };
    let server = start(work, |c| c.max_body = 100_000).await;
    let http = client();
    let post = |url: String, key: Option<&str>, body: Vec<u8>| {
        let mut req = http.post(url).body(body);
        if let Some(k) = key {
            req = req.header("Prediction-Key", k);
        }
        req.send()
    };
    let photo = jpeg("Colin_Powell", 30);
    assert!(photo.len() < 100_000);

    let text = b"This is a text file, not a photo.\n".to_vec();
    let r = post(server.classify(PUBLISHED, "image"), Some(KEY), text)
        .await
        .unwrap();
    assert_error(&json(r).await, 400, "BadRequestImageFormat");

    // Far over the limit, so the client is still sending when the server answers: it must
    // still get the error, not a reset connection.
    let big = vec![0xffu8; 3_000_000];
    let r = post(server.classify(PUBLISHED, "image"), Some(KEY), big.clone())
        .await
        .unwrap();
    assert_error(&json(r).await, 400, "BadRequestImageSizeBytes");
    let form = reqwest::multipart::Form::new().part(
        "imageData",
        reqwest::multipart::Part::bytes(big).file_name("big.jpg"),
    );
    let r = http
        .post(server.classify(PUBLISHED, "image"))
        .header("Prediction-Key", KEY)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_error(&json(r).await, 400, "BadRequestImageSizeBytes");

    let r = post(
        server.classify("no-such-name", "image"),
        Some(KEY),
        photo.clone(),
    )
    .await
    .unwrap();
    assert_error(&json(r).await, 404, "NotFoundIteration");

    let other_project = server.url(&format!(
        "/customvision/v3.0/Prediction/{}/classify/iterations/{PUBLISHED}/image",
        uuid::Uuid::new_v4()
    ));
    let r = post(other_project, Some(KEY), photo.clone()).await.unwrap();
    assert_error(&json(r).await, 404, "NotFoundProject");

    let r = post(server.classify(PUBLISHED, "image"), None, photo.clone())
        .await
        .unwrap();
    assert_error(&json(r).await, 401, "Unauthorized");
    let r = post(
        server.classify(PUBLISHED, "image"),
        Some("wrong-key"),
        photo.clone(),
    )
    .await
    .unwrap();
    assert_error(&json(r).await, 401, "Unauthorized");
    // Key first: a wrong key learns nothing about which projects exist.
    let r = post(
        server.classify("no-such-name", "image"),
        Some("wrong-key"),
        photo.clone(),
    )
    .await
    .unwrap();
    assert_error(&json(r).await, 401, "Unauthorized");

    let r = http
        .post(server.classify(PUBLISHED, "url"))
        .header("Prediction-Key", KEY)
        .json(&serde_json::json!({"url": "https://example.com/a.jpg"}))
        .send()
        .await
        .unwrap();
    let answer = json(r).await;
    assert_error(&answer, 400, "BadRequestImageUrl");
    assert!(answer.1["message"].as_str().unwrap().contains("disabled"));
    server.stop().await;
}

/// A tiny file server on loopback for the URL routes to fetch from.
async fn file_server(files: Vec<(&'static str, Vec<u8>)>) -> std::net::SocketAddr {
    use axum::routing::get;
    let mut app = axum::Router::new();
    for (path, bytes) in files {
        app = app.route(path, get(move || async move { bytes.clone() }));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn url_routes_fetch_only_when_allowed() {
    let Some(work) = trained() else { return };
    let (person, n) = UNSEEN[1];
    let files = file_server(vec![
        ("/photo.jpg", jpeg(person, n)),
        ("/huge.jpg", vec![0u8; 200_000]),
        ("/notes.txt", b"not an image".to_vec()),
    ])
    .await;
    let http = client();
    let photo_url = format!("http://{files}/photo.jpg");

    // Allowed, but loopback is refused after resolution (both as IP and as a name).
    let strict = start(work, |c| c.allow_url_fetch = true).await;
    for url in [
        photo_url.clone(),
        format!("http://localhost:{}/photo.jpg", files.port()),
    ] {
        let r = http
            .post(strict.classify(PUBLISHED, "url"))
            .header("Prediction-Key", KEY)
            .json(&serde_json::json!({ "url": url }))
            .send()
            .await
            .unwrap();
        assert_error(&json(r).await, 400, "BadRequestImageUrl");
    }
    strict.stop().await;

    let open = start(work, |c| {
        c.allow_url_fetch = true;
        c.allow_private_urls = true;
        c.max_body = 100_000;
    })
    .await;
    for (tail, key) in [("url", "url"), ("url/nostore", "Url")] {
        let r = http
            .post(open.classify(PUBLISHED, tail))
            .header("Prediction-Key", KEY)
            .json(&serde_json::json!({ key: photo_url }))
            .send()
            .await
            .unwrap();
        let answer = json(r).await;
        assert_eq!(answer.0, 200, "{tail}: {}", answer.1);
        assert_prediction_shape(&answer.1, &open.project);
        assert_eq!(top_tag(&answer.1), person);
    }
    let cases = [
        ("/huge.jpg", 400, "BadRequestImageSizeBytes"),
        ("/notes.txt", 400, "BadRequestImageFormat"),
        ("/missing.jpg", 400, "BadRequestImageUrl"),
    ];
    for (path, status, code) in cases {
        let r = http
            .post(open.classify(PUBLISHED, "url"))
            .header("Prediction-Key", KEY)
            .json(&serde_json::json!({ "url": format!("http://{files}{path}") }))
            .send()
            .await
            .unwrap();
        assert_error(&json(r).await, status, code);
    }
    open.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn page_health_and_metrics() {
    let Some(work) = trained() else { return };
    let server = start(work, |_| {}).await;
    let http = client();

    let page = http.get(server.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("/studio/app.js"), "{html}");
    for asset in [
        "/studio/app.js",
        "/studio/studio.css",
        "/studio/views/quicktest.js",
    ] {
        let r = http.get(server.url(asset)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{asset}");
        assert!(!r.text().await.unwrap().is_empty());
    }
    let missing = http
        .get(server.url("/studio/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let (status, info) = json(
        http.get(server.url("/quicktest/info"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(info["projectId"], server.project);
    assert_eq!(info["trainingApi"], false);
    assert_eq!(info["published"][0]["name"], PUBLISHED);
    assert_eq!(info["published"][0]["iteration"], 1);

    let (status, health) = json(http.get(server.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");

    let r = http
        .post(server.classify(PUBLISHED, "image"))
        .header("Prediction-Key", KEY)
        .body(jpeg("Tony_Blair", 30))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(server.classify(PUBLISHED, "image"))
        .body(vec![1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let metrics = http.get(server.url("/metrics")).send().await.unwrap();
    assert!(metrics.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = metrics.text().await.unwrap();
    let route = "/customvision/{version}/{prediction}/{project}/classify/iterations/{name}/image";
    assert!(
        text.contains(&format!(
            "kao_requests_total{{route=\"{route}\",status=\"200\"}} 1\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "kao_requests_total{{route=\"{route}\",status=\"401\"}} 1\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "kao_request_duration_seconds_count{{route=\"{route}\"}} 2\n"
        )),
        "{text}"
    );
    assert!(text.contains("kao_faces_per_image_count 1\n"), "{text}");
    assert!(
        text.contains(&format!("kao_model_iteration{{name=\"{PUBLISHED}\"}} 1\n")),
        "{text}"
    );
    server.stop().await;
}

/// Kao's `allFaces=true`: the detector order that finds every face of a group photo.
#[tokio::test(flavor = "multi_thread")]
async fn all_faces_finds_every_face_of_a_group_photo() {
    let Some(work) = trained() else { return };
    let Some(shared) = shared() else { return };
    let photo = std::fs::read(shared.join("datasets/multiface/faceapijs_bbt1.jpg")).unwrap();
    let server = start(work, |_| {}).await;
    let http = client();
    let mut found = Vec::new();
    for query in ["", "?allFaces=true"] {
        let r = http
            .post(format!("{}{query}", server.classify(PUBLISHED, "image")))
            .header("Prediction-Key", KEY)
            .body(photo.clone())
            .send()
            .await
            .unwrap();
        let answer = json(r).await;
        assert_eq!(answer.0, 200, "{}", answer.1);
        assert_prediction_shape(&answer.1, &server.project);
        found.push(answer.1["faces"].as_array().unwrap().len());
    }
    assert_eq!(found[1], 4, "allFaces=true: {found:?}");
    assert!(found[0] <= found[1], "{found:?}");
    server.stop().await;
}
