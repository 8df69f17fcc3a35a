//! The Kao-only Training API routes and fields the Studio uses, through plain HTTP (what
//! the page does, a script can do): the server's limits and Prediction-Key, crawl jobs
//! (refused without URL fetching, kept off internal addresses unless allowed, their
//! photos landing as the tag's), and the performance route's unknown-face rates and
//! misclassified faces with their chips.

mod common;

use std::time::{Duration, Instant};

use common::data::shared;
use common::server::{client, start_root, Running, KEY};
use serde_json::{json, Value};

async fn get(server: &Running, path: &str) -> Value {
    let (status, v) = server.training(reqwest::Method::GET, path, None).await;
    assert_eq!(status, 200, "{path}: {v}");
    v
}

async fn post(server: &Running, path: &str, body: Option<Value>) -> (u16, Value) {
    server.training(reqwest::Method::POST, path, body).await
}

/// A site on loopback with one page showing three photos of a person.
async fn site(shared: &std::path::Path) -> (String, tokio::task::JoinHandle<()>) {
    use axum::response::IntoResponse;
    use axum::routing::get;
    let photos: Vec<Vec<u8>> = (1..=3u32)
        .map(|n| {
            std::fs::read(shared.join(format!("datasets/lfw5/Tony_Blair/Tony_Blair_{n:04}.jpg")))
                .unwrap()
        })
        .collect();
    let app = axum::Router::new()
        .route(
            "/",
            get(|| async {
                axum::response::Html("<img src=/1.jpg><img src=/2.jpg><img src=/3.jpg>")
            }),
        )
        .route(
            "/{n}",
            get(move |axum::extract::Path(n): axum::extract::Path<String>| {
                let photos = photos.clone();
                async move {
                    let i: usize = n.trim_end_matches(".jpg").parse().unwrap_or(0);
                    match photos.get(i.wrapping_sub(1)) {
                        Some(b) => ([("content-type", "image/jpeg")], b.clone()).into_response(),
                        None => axum::http::StatusCode::NOT_FOUND.into_response(),
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    (
        url,
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        }),
    )
}

async fn finished_job(server: &Running, project: &str, job: &str) -> Value {
    let start = Instant::now();
    loop {
        let j = get(server, &format!("/projects/{project}/crawls/{job}")).await;
        if j["status"] != "Running" {
            return j;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the crawl never ended: {j}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_limits_and_crawl_jobs() {
    let Some(shared) = shared() else { return };
    let (url, site_task) = site(&shared).await;

    // Without --allow-url-fetch: the limits say so, and a crawl is refused in words.
    let root = tempfile::tempdir().unwrap();
    let server = start_root(root.path(), |_| {}).await;
    let info = get(&server, "/server").await;
    assert_eq!(info["maxImageBytes"], 6 * 1024 * 1024);
    assert_eq!(info["maxBatchImages"], 64);
    assert_eq!(info["urlFetch"], false);
    assert_eq!(info["predictionKey"], KEY);
    let (status, _) = client()
        .get(server.url("/customvision/v3.3/training/server"))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 401, "the limits and the key need the Training-Key");
    let (_, p) = post(&server, "/projects?name=crawl", None).await;
    let project = p["id"].as_str().unwrap().to_string();
    let (_, tag) = post(
        &server,
        &format!("/projects/{project}/tags?name=Tony_Blair"),
        None,
    )
    .await;
    let tag = tag["id"].as_str().unwrap().to_string();
    let request = json!({"tagId": tag, "site": url, "depth": 0});
    let (status, v) = post(
        &server,
        &format!("/projects/{project}/crawls"),
        Some(request.clone()),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("BadRequestNotSupported")),
        "{v}"
    );
    assert!(
        v["message"].as_str().unwrap().contains("--allow-url-fetch"),
        "{v}"
    );
    server.stop().await;

    // With URL fetching but not private addresses: the loopback site is refused per URL.
    let server = start_root(root.path(), |c| c.allow_url_fetch = true).await;
    let (status, job) = post(
        &server,
        &format!("/projects/{project}/crawls"),
        Some(request.clone()),
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let job = finished_job(&server, &project, job["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "Completed", "{job}");
    assert_eq!(job["added"], 0, "{job}");
    assert_eq!(
        get(&server, &format!("/projects/{project}/images/count")).await,
        0
    );
    server.stop().await;

    // Private addresses allowed: the three photos land as the tag's.
    let server = start_root(root.path(), |c| {
        c.allow_url_fetch = true;
        c.allow_private_urls = true;
    })
    .await;
    let (status, v) = post(
        &server,
        &format!("/projects/{project}/crawls"),
        Some(json!({"tagId": tag})),
    )
    .await;
    assert_eq!(status, 400, "no source: {v}");
    let (status, job) = post(
        &server,
        &format!("/projects/{project}/crawls"),
        Some(request.clone()),
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let job = finished_job(&server, &project, &id).await;
    assert_eq!(job["status"], "Completed", "{job}");
    assert_eq!(
        (job["kept"].as_u64(), job["added"].as_u64()),
        (Some(3), Some(3)),
        "{job}"
    );
    assert_eq!(job["pages"], 1, "the start page: {job}");
    let tags = get(&server, &format!("/projects/{project}/tags")).await;
    assert_eq!(tags[0]["imageCount"], 3);
    // Again: the same photos are already in the project.
    let (_, again) = post(
        &server,
        &format!("/projects/{project}/crawls"),
        Some(request),
    )
    .await;
    let again = finished_job(&server, &project, again["id"].as_str().unwrap()).await;
    assert_eq!(again["alreadyInProject"], 3, "{again}");
    let list = get(&server, &format!("/projects/{project}/crawls")).await;
    assert_eq!(
        list.as_array().unwrap().len(),
        2,
        "jobs of this server's life, newest first"
    );
    assert_eq!(list[1]["id"], id.as_str());
    let (status, _) = server
        .training(
            reqwest::Method::GET,
            &format!("/projects/{project}/crawls/{}", uuid_like()),
            None,
        )
        .await;
    assert_eq!(status, 404);
    // The staging work dirs are gone.
    let staging = root
        .path()
        .join("projects")
        .join(&project)
        .join("cache/crawls");
    assert_eq!(
        std::fs::read_dir(&staging).map(|d| d.count()).unwrap_or(0),
        0
    );
    server.stop().await;
    site_task.abort();
}

fn uuid_like() -> &'static str {
    "00000000-0000-4000-8000-000000000000"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn performance_has_unknown_rates_and_misclassified_chips() {
    let Some(shared) = shared() else { return };
    let root = tempfile::tempdir().unwrap();
    let server = start_root(root.path(), |_| {}).await;
    let (_, p) = post(&server, "/projects?name=perf", None).await;
    let project = p["id"].as_str().unwrap().to_string();
    // Two people and a Negative tag of strangers.
    let mut tags = Vec::new();
    for (name, kind) in [
        ("Colin_Powell", "Regular"),
        ("Tony_Blair", "Regular"),
        ("Strangers", "Negative"),
    ] {
        let (_, t) = post(
            &server,
            &format!("/projects/{project}/tags?name={name}&type={kind}"),
            None,
        )
        .await;
        tags.push(t["id"].as_str().unwrap().to_string());
    }
    let mut images = Vec::new();
    for n in 1..=12u32 {
        for (i, person) in ["Colin_Powell", "Tony_Blair"].iter().enumerate() {
            let f = shared.join(format!("datasets/lfw5/{person}/{person}_{n:04}.jpg"));
            images.push((f, tags[i].clone()));
        }
    }
    let mut strangers: Vec<_> = std::fs::read_dir(shared.join("datasets/lfw_strangers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    strangers.sort();
    for photo in strangers.into_iter().take(12) {
        images.push((photo, tags[2].clone()));
    }
    use base64::Engine;
    for chunk in images.chunks(64) {
        let body = json!({"images": chunk.iter().map(|(f, t)| json!({
            "name": f.file_name().unwrap().to_string_lossy(),
            "contents": base64::engine::general_purpose::STANDARD.encode(std::fs::read(f).unwrap()),
            "tagIds": [t],
        })).collect::<Vec<_>>()});
        let (status, v) = post(
            &server,
            &format!("/projects/{project}/images/files"),
            Some(body),
        )
        .await;
        assert_eq!(status, 200, "{v}");
    }
    let (status, it) = post(&server, &format!("/projects/{project}/train"), None).await;
    assert_eq!(status, 200, "{it}");
    let id = it["id"].as_str().unwrap().to_string();
    let start = Instant::now();
    loop {
        let now = get(&server, &format!("/projects/{project}/iterations/{id}")).await;
        if now["status"] != "Training" {
            assert_eq!(now["status"], "Completed", "{now}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(600));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // At threshold 0 every tag counts as predicted for every face: precision falls, and
    // the rates and the misclassified list (from the stored scores) do not move.
    let at = |t: f64| {
        let path = format!("/projects/{project}/iterations/{id}/performance?threshold={t}");
        let server = &server;
        async move { get(server, &path).await }
    };
    let half = at(0.5).await;
    let zero = at(0.0).await;
    let u = &half["unknown"];
    assert!(u["knownFaces"].as_u64().unwrap() > 0, "{u}");
    assert!(
        u["negativeFaces"].as_u64().unwrap() > 0,
        "the Negative tag's test faces: {u}"
    );
    assert!(
        u["negativeRejected"].is_number() && u["falseRejected"].is_number(),
        "{u}"
    );
    assert_eq!(half["unknown"], zero["unknown"]);
    assert_eq!(half["misclassified"], zero["misclassified"]);
    assert_ne!(half["precision"], zero["precision"]);
    for m in half["misclassified"].as_array().unwrap() {
        assert!(
            tags.contains(&m["trueTagId"].as_str().unwrap().to_string()),
            "{m}"
        );
        let chip = m["chipUri"].as_str().unwrap();
        let r = client().get(chip).send().await.unwrap();
        assert_eq!(r.status(), 200, "{chip}");
        // Wrong by the top tag, or called unknown with the top tag right.
        assert!(
            m["predictedTagId"] != m["trueTagId"] || m["unknown"] == true,
            "{m}"
        );
    }
    // A photo's faces come with their chips' URIs.
    let listed = get(
        &server,
        &format!(
            "/projects/{project}/images/tagged?tagIds={}&take=1",
            tags[0]
        ),
    )
    .await;
    let faces = get(
        &server,
        &format!(
            "/projects/{project}/images/{}/faces",
            listed[0]["id"].as_str().unwrap()
        ),
    )
    .await;
    let chip = faces["faces"][0]["chipUri"].as_str().unwrap();
    let r = client().get(chip).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().starts_with(b"\x89PNG"));
    server.stop().await;
}
