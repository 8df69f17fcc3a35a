//! The Training API of `kao serve --root`: the official Python SDK's quickstart, unchanged,
//! and the error paths with Custom Vision's codes and statuses.

use std::time::Duration;

use serde_json::Value;

use crate::server::{photos, Kao, PREDICTION_KEY, TRAINING_KEY};
use crate::shared;

/// The Python with the official SDK installed (`.ci/run` makes the venv and exports it).
fn sdk_python() -> Option<String> {
    match std::env::var("KAO_CV_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            let why = "KAO_CV_PYTHON is not set: it names a Python with \
                       azure-cognitiveservices-vision-customvision installed (.ci/run makes one)";
            if std::env::var_os("CI").is_some() {
                panic!("{why}");
            }
            eprintln!("skipping: {why}");
            None
        }
    }
}

#[test]
fn the_official_python_sdk_runs_the_quickstart_unchanged() {
    let Some(shared) = shared() else { return };
    let Some(python) = sdk_python() else { return };
    let root = tempfile::tempdir().unwrap();
    let kao = Kao::start(root.path());
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/cv_quickstart.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .env("KAO_ENDPOINT", &kao.base)
        .env("KAO_TRAINING_KEY", TRAINING_KEY)
        .env("KAO_PREDICTION_KEY", PREDICTION_KEY)
        .env("KAO_LFW5", shared.join("datasets/lfw5"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the quickstart failed:\n{stderr}\n{stdout}"
    );
    let numbers: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    eprintln!("quickstart: {numbers}");
    assert!(numbers["accuracy"].as_f64().unwrap() >= 0.98, "{numbers}");
    assert_eq!(numbers["held_back"], 60);
}

/// A real JPEG padded to 7 MB (the size is checked before anything is decoded).
fn seven_megabytes(photo: &std::path::Path) -> Vec<u8> {
    let mut bytes = std::fs::read(photo).unwrap();
    bytes.resize(7 * 1024 * 1024, 0);
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_paths_answer_custom_vision_codes() {
    let Some(shared) = shared() else { return };
    let lfw5 = shared.join("datasets/lfw5");
    let root = tempfile::tempdir().unwrap();
    let kao = Kao::start(root.path());
    let api = kao.client();

    // Keys: missing, wrong, and the Prediction-Key on the Training API.
    for key in ["", "wrong-key", PREDICTION_KEY] {
        let mut bad = api.clone();
        bad.key = key.to_string();
        let (status, v) = bad.get("/projects").await;
        assert_eq!(
            (status, v["code"].as_str()),
            (401, Some("Unauthorized")),
            "{key}: {v}"
        );
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = http
        .post(format!(
            "{}/customvision/v3.1/prediction/{}/classify/iterations/x/image",
            kao.base,
            uuid_like()
        ))
        .header("Prediction-Key", TRAINING_KEY)
        .body(vec![1, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        401,
        "the Training-Key must not open the Prediction API"
    );

    // Unknown project, tag, iteration.
    let missing = uuid_like();
    let (status, v) = api.get(&format!("/projects/{missing}")).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (404, Some("NotFoundProject")),
        "{v}"
    );
    let project = api.project("errors").await;
    let (status, v) = api
        .get(&format!("/projects/{project}/tags/{missing}"))
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (404, Some("NotFoundTag")),
        "{v}"
    );
    let (status, v) = api
        .get(&format!("/projects/{project}/iterations/{missing}"))
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (404, Some("NotFoundIteration")),
        "{v}"
    );
    let (status, v) = api
        .post("/projects?name=x&classificationType=Multilabel", None)
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("Multilabel"), "{v}");

    // Training with no tags at all.
    let (status, v) = api.post(&format!("/projects/{project}/train"), None).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("BadRequestTrainingValidationFailed")),
        "{v}"
    );

    let a = api.tag(&project, "Colin_Powell").await;
    let b = api.tag(&project, "Tony_Blair").await;

    // 65 images in one batch.
    let many: Vec<_> = photos(&lfw5, "Colin_Powell", 0..65)
        .into_iter()
        .map(|p| (p, a.clone()))
        .collect();
    let (status, v) = api.upload(&project, &many).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("BadRequestImageBatch")),
        "{v}"
    );
    assert_eq!(
        api.get(&format!("/projects/{project}/images/count"))
            .await
            .1,
        0
    );

    // A 7 MB image and an HTML page, each in a batch with a good photo: 207, per-image codes.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.jpg");
    std::fs::write(
        &big,
        seven_megabytes(&photos(&lfw5, "Colin_Powell", 0..1)[0]),
    )
    .unwrap();
    let html = dir.path().join("page.jpg");
    std::fs::write(
        &html,
        b"<!doctype html><html><body>not a photo</body></html>",
    )
    .unwrap();
    let good = photos(&lfw5, "Colin_Powell", 0..1).remove(0);
    let (status, v) = api
        .upload(
            &project,
            &[(big, a.clone()), (html, a.clone()), (good, a.clone())],
        )
        .await;
    assert_eq!(status, 207, "{v}");
    assert_eq!(v["isBatchSuccessful"], false);
    let statuses: Vec<&str> = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["ErrorImageSize", "ErrorImageFormat", "OK"],
        "{v}"
    );

    // A tag with 4 images cannot be trained.
    // (Tony_Blair's seventh photo has no face: the crop stage will reject it.)
    let no_face = std::fs::read_dir(shared.join("datasets/nonface"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let four: Vec<_> = photos(&lfw5, "Colin_Powell", 1..4)
        .into_iter()
        .map(|p| (p, a.clone()))
        .chain(
            photos(&lfw5, "Tony_Blair", 0..6)
                .into_iter()
                .map(|p| (p, b.clone())),
        )
        .chain([(no_face, b.clone())])
        .collect();
    let (status, v) = api.upload(&project, &four).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = api.post(&format!("/projects/{project}/train"), None).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("BadRequestTrainingValidationFailed")),
        "{v}"
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("Colin_Powell\" has 4"),
        "{v}"
    );

    // One more makes it trainable; training again with nothing changed is refused.
    let (status, _) = api
        .upload(
            &project,
            &[(photos(&lfw5, "Colin_Powell", 4..5).remove(0), a.clone())],
        )
        .await;
    assert_eq!(status, 200);
    let it = api
        .ok("POST", &format!("/projects/{project}/train"), None)
        .await;
    assert_eq!(it["status"], "Training");
    let (status, v) = api.post(&format!("/projects/{project}/train"), None).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("BadRequestTrainingNotNeeded")),
        "{v}"
    );
    let id = it["id"].as_str().unwrap();
    let done = api
        .wait_trained(&project, id, Duration::from_secs(600))
        .await;
    assert_eq!(done["status"], "Completed", "{done}");
    let (status, v) = api.post(&format!("/projects/{project}/train"), None).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("BadRequestTrainingNotNeeded")),
        "{v}"
    );

    // Export names what is (not) supported; publishing needs a name.
    let (status, v) = api
        .post(
            &format!("/projects/{project}/iterations/{id}/export?platform=ONNX"),
            None,
        )
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("BadRequestNotSupported")),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap().contains("ONNX"), "{v}");
    let (status, v) = api
        .post(
            &format!("/projects/{project}/iterations/{id}/publish"),
            None,
        )
        .await;
    assert_eq!(status, 400, "{v}");

    // Performance at a threshold is recomputed, not retrained.
    let p = api
        .ok(
            "GET",
            &format!("/projects/{project}/iterations/{id}/performance?threshold=0.5"),
            None,
        )
        .await;
    let tags: Vec<&str> = p["perTagPerformance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tags.len(), 2, "{p}");

    // The test photos with their predictions, and their signed URIs (no key needed; a
    // tampered signature is refused).
    let n = api
        .ok(
            "GET",
            &format!("/projects/{project}/iterations/{id}/performance/images/count"),
            None,
        )
        .await;
    let images = api
        .ok(
            "GET",
            &format!("/projects/{project}/iterations/{id}/performance/images?take=50"),
            None,
        )
        .await;
    let images = images.as_array().unwrap();
    assert!(
        n.as_u64().unwrap() >= 2 && images.len() as u64 == n.as_u64().unwrap(),
        "{n}"
    );
    assert!(
        images[0]["predictions"].as_array().unwrap().len() == 2,
        "{}",
        images[0]
    );
    let uri = images[0]["thumbnailUri"].as_str().unwrap();
    let r = http.get(uri).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let thumb = r.bytes().await.unwrap();
    assert!(image::load_from_memory(&thumb).is_ok());
    let r = http.get(uri.replace("sig=", "sig=0")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let faces = api
        .ok(
            "GET",
            &format!(
                "/projects/{project}/images/{}/faces",
                images[0]["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(faces["cropped"], true, "{faces}");
    assert_eq!(faces["faces"].as_array().unwrap().len(), 1, "{faces}");

    // The photo without a face is listed with the crop's reason.
    let rejected = api
        .ok("GET", &format!("/projects/{project}/images/rejected"), None)
        .await;
    assert_eq!(rejected.as_array().unwrap().len(), 1, "{rejected}");
    assert!(rejected[0]["rejectReason"].is_string(), "{rejected}");
    assert_eq!(
        api.ok(
            "GET",
            &format!("/projects/{project}/images/rejected/count"),
            None
        )
        .await,
        1
    );

    // URL uploads are refused per image while the server does not fetch URLs.
    let (status, v) = api
        .post(
            &format!("/projects/{project}/images/urls"),
            Some(serde_json::json!({"images": [{"url": "http://127.0.0.1:9/a.jpg"}]})),
        )
        .await;
    assert_eq!(status, 207, "{v}");
    assert_eq!(v["images"][0]["status"], "ErrorSource", "{v}");

    // Stored predictions (the Predictions tab): on for the project, a published
    // iteration's answers are kept and can become training images.
    api.ok(
        "PATCH",
        &format!("/projects/{project}"),
        Some(serde_json::json!({"settings": {"storePredictions": true}})),
    )
    .await;
    assert_eq!(
        api.ok(
            "POST",
            &format!("/projects/{project}/iterations/{id}/publish?publishName=p&predictionId=x"),
            None
        )
        .await,
        true
    );
    let held_back = std::fs::read(&photos(&lfw5, "Tony_Blair", 40..41)[0]).unwrap();
    let r = http
        .post(format!(
            "{}/customvision/v3.1/prediction/{project}/classify/iterations/p/image",
            kao.base
        ))
        .header("Prediction-Key", PREDICTION_KEY)
        .body(held_back)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(
        answer["predictions"][0]["tagName"], "Tony_Blair",
        "{answer}"
    );
    assert_eq!(
        answer["iteration"], id,
        "the prediction names the Training API's iteration"
    );
    let stored = api
        .ok(
            "POST",
            &format!("/projects/{project}/predictions/query"),
            Some(serde_json::json!({})),
        )
        .await;
    let results = stored["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{stored}");
    assert_eq!(results[0]["id"], answer["id"]);
    let before = api
        .ok("GET", &format!("/projects/{project}/images/count"), None)
        .await;
    let (status, v) = api
        .post(
            &format!("/projects/{project}/images/predictions"),
            Some(serde_json::json!({"images": [{"id": answer["id"], "tagIds": [b]}]})),
        )
        .await;
    assert_eq!(
        (status, v["images"][0]["status"].as_str()),
        (200, Some("OK")),
        "{v}"
    );
    let after = api
        .ok("GET", &format!("/projects/{project}/images/count"), None)
        .await;
    assert_eq!(after.as_u64().unwrap(), before.as_u64().unwrap() + 1);
}

fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".to_string()
}
