//! `cargo xtask bench training-api`: the Training API of `kao serve --root` on
//! `$KAO_SHARED/datasets/lfw5` over loopback, in one command: upload speed in batches of 64
//! (one client, then four at once), training through the API against `kao_pipeline::run`
//! on the same photos (the same stages, crop → evaluate, in a fresh work dir), and the
//! latency of the performance route at thresholds it has not answered before. Prints a
//! Markdown table for `docs/benchmarks.md`.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use base64::Engine;
use kao_pipeline::{PipelineConfig, RunOptions, Stage};
use serde_json::{json, Value};

const TRAINING_KEY: &str = "bench-training-key";
const BATCH: usize = 64;

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(&self, r: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let r = r.header("Training-Key", TRAINING_KEY).send().await?;
        let status = r.status();
        let text = r.text().await?;
        ensure!(status.is_success(), "{status}: {text}");
        Ok(if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)?
        })
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn post(&self, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut r = self.http.post(format!("{}{path}", self.base));
        if let Some(b) = body {
            r = r.json(&b);
        }
        self.call(r).await
    }
}

/// Uploads `entries` (bytes, tag id) with `clients` clients at once; returns photos/s.
async fn upload(
    api: &std::sync::Arc<Api>,
    project: &str,
    entries: &[(Vec<u8>, String)],
    clients: usize,
) -> anyhow::Result<f64> {
    let batches: Vec<Value> = entries
        .chunks(BATCH)
        .map(|c| {
            json!({"images": c.iter().map(|(bytes, tag)| json!({
                "contents": base64::engine::general_purpose::STANDARD.encode(bytes),
                "tagIds": [tag],
            })).collect::<Vec<_>>()})
        })
        .collect();
    let t = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let mine: Vec<Value> = batches
            .iter()
            .skip(client)
            .step_by(clients)
            .cloned()
            .collect();
        let (api, project) = (std::sync::Arc::clone(api), project.to_string());
        tasks.push(tokio::spawn(async move {
            for b in mine {
                let v = api
                    .post(&format!("/projects/{project}/images/files"), Some(b))
                    .await?;
                ensure!(v["isBatchSuccessful"] == true, "a batch failed: {v}");
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(entries.len() as f64 / t.elapsed().as_secs_f64())
}

pub fn run() -> anyhow::Result<()> {
    let lfw5 = crate::datasets::dataset("lfw5")?;
    let scratch = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let all = crate::datasets::photos(&lfw5)?;

    let (upload_1, upload_4, api_train_s, threshold_ms, first_ms, iteration) =
        runtime.block_on(async {
            let mut config = kao_serve::ServeConfig::for_root(scratch.path().join("root"));
            config.bind = ([127, 0, 0, 1], 0).into();
            config.training_keys = vec![TRAINING_KEY.into()];
            config.keys = vec!["bench-prediction-key".into()];
            let server = kao_serve::Server::bind(config).await?;
            let base = format!("http://{}/customvision/v3.3/training", server.local_addr());
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let serving = tokio::spawn(server.run(async move {
                let _ = stopped.await;
            }));
            let api = std::sync::Arc::new(Api {
                http: reqwest::Client::builder().no_proxy().build()?,
                base,
            });

            let mut speeds = Vec::new();
            let mut trained = None;
            for clients in [1usize, 4] {
                let p = api.post("/projects?name=lfw5", None).await?;
                let project = p["id"].as_str().context("project id")?.to_string();
                let mut tags = std::collections::BTreeMap::new();
                for (person, _) in &all {
                    if !tags.contains_key(person) {
                        let t = api
                            .post(&format!("/projects/{project}/tags?name={person}"), None)
                            .await?;
                        tags.insert(
                            person.clone(),
                            t["id"].as_str().unwrap_or_default().to_string(),
                        );
                    }
                }
                let entries: Vec<(Vec<u8>, String)> = all
                    .iter()
                    .map(|(person, f)| Ok((std::fs::read(f)?, tags[person].clone())))
                    .collect::<anyhow::Result<_>>()?;
                let speed = upload(&api, &project, &entries, clients).await?;
                eprintln!("upload, {clients} client(s): {speed:.0} photos/s");
                speeds.push(speed);
                if trained.is_none() {
                    trained = Some(project);
                }
            }
            let project = trained.context("a project")?;

            let t = Instant::now();
            let it = api
                .post(&format!("/projects/{project}/train"), None)
                .await?;
            let id = it["id"].as_str().context("iteration id")?.to_string();
            let done = loop {
                let now = api
                    .get(&format!("/projects/{project}/iterations/{id}"))
                    .await?;
                if now["status"] != "Training" {
                    break now;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            let train_s = t.elapsed().as_secs_f64();
            ensure!(done["status"] == "Completed", "training failed: {done}");
            eprintln!("training through the API: {train_s:.1} s");

            let mut times = Vec::new();
            for i in 0..21 {
                let threshold = 0.05 + 0.045 * i as f64;
                let t = Instant::now();
                api.get(&format!(
                    "/projects/{project}/iterations/{id}/performance?threshold={threshold:.3}"
                ))
                .await?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            let first = times[0];
            let mut rest = times[1..].to_vec();
            rest.sort_by(f64::total_cmp);
            let _ = stop.send(());
            serving.await??;
            anyhow::Ok((
                speeds[0],
                speeds[1],
                train_s,
                rest[rest.len() / 2],
                first,
                done["kaoIteration"].as_u64().unwrap_or(0),
            ))
        })?;

    // The same photos through kao_pipeline::run: collect (not timed, as uploading is not),
    // then the same stages as the API's training.
    let work = scratch.path().join("pipeline");
    let mut config = PipelineConfig::load("pipeline.toml".as_ref())
        .context("run from the repository root (pipeline.toml)")?
        .with_source_dir(&lfw5)?;
    config.work = work;
    let only = |from, until| RunOptions {
        from: Some(from),
        until: Some(until),
        force: false,
    };
    kao_pipeline::run(&config, &only(Stage::Collect, Stage::Collect), &|_| {})?;
    let t = Instant::now();
    kao_pipeline::run(
        &config,
        &only(Stage::Crop, Stage::Evaluate),
        &crate::pipeline::log_event,
    )?;
    let pipeline_s = t.elapsed().as_secs_f64();
    eprintln!("kao pipeline, crop → evaluate: {pipeline_s:.1} s");

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "\n| measure | value |\n|---|---|\n\
         | upload, 1 client, batches of {BATCH} | {upload_1:.0} photos/s |\n\
         | upload, 4 clients, batches of {BATCH} | {upload_4:.0} photos/s |\n\
         | training through the API ({} photos, iteration {iteration}) | {api_train_s:.1} s |\n\
         | `kao_pipeline::run`, crop → evaluate, same photos | {pipeline_s:.1} s |\n\
         | ratio API / pipeline | {:.2} |\n\
         | performance at a new threshold, first call | {first_ms:.1} ms |\n\
         | performance at a new threshold, median of 20 | {threshold_ms:.1} ms |\n\
         | cores | {cores} |",
        all.len(),
        api_train_s / pipeline_s
    );
    Ok(())
}
