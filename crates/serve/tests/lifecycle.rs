//! Publishing while requests are in flight, and graceful shutdown.

mod common;

use std::time::Duration;

use common::data::lfw;
use common::server::{client, start, KEY};
use kao_dataset::WorkDir;
use kao_harness::trained::{trained_copy, PUBLISHED};
use serde_json::Value;

async fn predict(http: &reqwest::Client, url: &str, photo: Vec<u8>) -> (u16, Value) {
    let r = http
        .post(url)
        .header("Prediction-Key", KEY)
        .body(photo)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.expect("JSON body"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_publish_is_picked_up_without_failing_requests_in_flight() {
    let Some(dir) = trained_copy() else { return };
    let work_path = dir.path().to_path_buf();
    let server = start(&work_path, |c| {
        c.reload_interval = Duration::from_millis(200)
    })
    .await;
    let http = client();
    let url = server.classify(PUBLISHED, "image");
    let photo = std::fs::read(lfw("Donald_Rumsfeld", 40)).unwrap();
    let (status, first) = predict(&http, &url, photo.clone()).await;
    assert_eq!(status, 200, "{first}");
    let old_iteration = first["iteration"].as_str().unwrap().to_string();

    // Clients hammer the server until each has seen the new iteration (or gives up).
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (http, url, photo, old) = (
            http.clone(),
            url.clone(),
            photo.clone(),
            old_iteration.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for _ in 0..400 {
                let (status, body) = predict(&http, &url, photo.clone()).await;
                let switched = body["iteration"].as_str().is_some_and(|i| i != old);
                answers.push((status, body));
                if switched {
                    break;
                }
            }
            answers
        }));
    }

    // Meanwhile: train iteration 2 (descriptors come from the cache) and publish it under
    // the same name, as `kao train && kao publish 2 --name test` would.
    let w = work_path.clone();
    tokio::task::spawn_blocking(move || {
        let work = WorkDir::new(&w);
        let config = kao_train::TrainConfig {
            augmentations: 0,
            seed: 99,
            ..kao_train::TrainConfig::default()
        };
        let out = kao_train::train(&work, &config, &mut |_| {}).expect("second training");
        assert_eq!(out.iteration, 2);
        kao_infer::publish(&work, out.iteration, PUBLISHED).expect("publish 2");
    })
    .await
    .unwrap();

    let mut total = 0;
    for c in clients {
        let answers = c.await.unwrap();
        total += answers.len();
        for (status, body) in &answers {
            assert_eq!(*status, 200, "{body}");
            assert_eq!(
                body["predictions"][0]["tagName"], "Donald_Rumsfeld",
                "{body}"
            );
        }
        let last = &answers.last().unwrap().1;
        assert_ne!(
            last["iteration"].as_str().unwrap(),
            old_iteration,
            "never switched"
        );
    }
    assert!(total > 8);
    let health: Value = http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["published"][0]["iteration"], 2, "{health}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_finishes_requests_in_flight() {
    let Some(dir) = trained_copy() else { return };
    let mut server = start(dir.path(), |c| c.concurrency = 1).await;
    let http = client();
    let url = server.classify(PUBLISHED, "image");
    let photo = std::fs::read(lfw("Tony_Blair", 40)).unwrap();
    let mut requests = Vec::new();
    for _ in 0..6 {
        let (http, url, photo) = (http.clone(), url.clone(), photo.clone());
        requests.push(tokio::spawn(
            async move { predict(&http, &url, photo).await },
        ));
    }
    // Stop only once all six are provably inside the server (answered, running or queued for
    // the one slot): a request still connecting when the server stops is refused, rightly.
    let metrics = server.url("/metrics");
    let mut inside = 0.0;
    for _ in 0..3000 {
        let text = http
            .get(&metrics)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        inside = text
            .lines()
            .filter(|l| {
                (l.starts_with("kao_requests_total{") && l.contains("classify"))
                    || l.starts_with("kao_inferences_running ")
                    || l.starts_with("kao_inferences_queued ")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
        if inside >= 6.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        inside >= 6.0,
        "only {inside} of 6 requests reached the server"
    );
    let stopped = server.signal_stop();
    for r in requests {
        let (status, body) = r.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["predictions"][0]["tagName"], "Tony_Blair");
    }
    stopped.await.unwrap().expect("clean stop");
    assert!(
        http.get(server.url("/healthz")).send().await.is_err(),
        "still accepting"
    );
}
