//! `cargo xtask bench studio`: Kao Studio in headless Chromium against `kao serve --root`
//! on loopback, in one command.
//!
//! - The Photos view of a project with 5,000 photos: time from navigation to the first
//!   screen of thumbnails shown (`window.kaoFirstScreenMs`, set by the page when every
//!   thumbnail in view has loaded), once with the thumbnails not made yet and then with
//!   the thumbnail route's cache warm; and scrolling to the middle and to the end (time
//!   until the thumbnails in view are shown).
//! - Uploading lfw5 (1,140 photos) through the page's folder picker against the API's own
//!   upload of the same files (what the official SDK does: base64 `ImageFileCreateBatch`,
//!   64 a batch, one client), alternating, three times each.
//!
//! Prints a Markdown table for `docs/benchmarks.md`.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use base64::Engine;
use kao_webdriver::Browser;
use serde_json::{json, Value};

const TRAINING_KEY: &str = "bench-training-key";
const PHOTOS: usize = 5000;
const BATCH: usize = 64;
const RUNS: usize = 3;

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
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut r = self.http.post(format!("{}{path}", self.base));
        if let Some(b) = body {
            r = r.json(&b);
        }
        self.call(r).await
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn project(&self, name: &str) -> anyhow::Result<String> {
        let p = self.post(&format!("/projects?name={name}"), None).await?;
        Ok(p["id"].as_str().context("project id")?.to_string())
    }
}

/// 5,000 distinct photos: the shared LFW photos as they are, then mirrored, then
/// re-encoded, until there are enough (each variant has other bytes, so it is a new image
/// to the server, as a real collection of 5,000 would be).
fn five_thousand() -> anyhow::Result<Vec<Vec<u8>>> {
    let mut sources = Vec::new();
    for set in ["lfw5", "lfw_dev20", "lfw_strangers"] {
        sources.extend(crate::datasets::photos(&crate::datasets::dataset(set)?)?);
    }
    let mut out = Vec::with_capacity(PHOTOS);
    for variant in 0.. {
        for (_, path) in &sources {
            if out.len() == PHOTOS {
                return Ok(out);
            }
            let bytes = std::fs::read(path)?;
            if variant == 0 {
                out.push(bytes);
                continue;
            }
            let img = image::load_from_memory(&bytes)
                .with_context(|| path.display().to_string())?
                .to_rgb8();
            let img = if variant % 2 == 1 {
                image::imageops::flip_horizontal(&img)
            } else {
                img
            };
            let mut jpeg = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90 - variant as u8)
                .encode_image(&img)?;
            out.push(jpeg);
        }
    }
    unreachable!()
}

async fn upload_files(
    api: &Api,
    project: &str,
    entries: &[(Vec<u8>, Option<String>)],
) -> anyhow::Result<()> {
    for chunk in entries.chunks(BATCH) {
        let body = json!({"images": chunk.iter().map(|(bytes, tag)| json!({
            "contents": base64::engine::general_purpose::STANDARD.encode(bytes),
            "tagIds": tag.iter().collect::<Vec<_>>(),
        })).collect::<Vec<_>>()});
        let v = api
            .post(&format!("/projects/{project}/images/files"), Some(body))
            .await?;
        ensure!(v["isBatchSuccessful"] == true, "a batch failed: {v}");
    }
    Ok(())
}

/// Polls a script until it returns a number.
async fn wait_number(browser: &Browser, script: &str, timeout: Duration) -> anyhow::Result<f64> {
    let start = Instant::now();
    loop {
        if let Some(v) = browser.script(script, json!([])).await.as_f64() {
            return Ok(v);
        }
        ensure!(start.elapsed() < timeout, "timed out waiting for: {script}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Scrolls the grid to `top` and waits until every thumbnail in view is shown; ms.
const SCROLL: &str = r#"
const view = document.getElementById("grid");
const count = Number(view.dataset.count);
const t0 = performance.now();
view.scrollTop = arguments[0];
return new Promise((resolve) => {
  const check = () => {
    const cols = Math.max(1, Math.floor((view.clientWidth - 8) / 132));
    const first = Math.floor(view.scrollTop / 158) * cols;
    const last = Math.min(count, (Math.floor((view.scrollTop + view.clientHeight - 1) / 158) + 1) * cols);
    let ok = true;
    for (let i = first; i < last && ok; i++) {
      const cell = view.querySelector(`.cell[data-index="${i}"] img`);
      ok = !!cell && cell.complete && cell.naturalWidth > 0;
    }
    if (ok) resolve(performance.now() - t0);
    else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
});
"#;

fn runs(v: &[f64]) -> String {
    v.iter()
        .map(|s| format!("{s:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run() -> anyhow::Result<()> {
    anyhow::ensure!(
        kao_webdriver::available(),
        "chromium and chromedriver are needed (apt-get install chromium chromium-driver)"
    );
    let lfw5 = crate::datasets::dataset("lfw5")?.canonicalize()?;
    let scratch = tempfile::tempdir()?;
    eprintln!("making {PHOTOS} distinct photos…");
    let many = five_thousand()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut config = kao_serve::ServeConfig::for_root(scratch.path().join("root"));
        config.bind = ([127, 0, 0, 1], 0).into();
        config.training_keys = vec![TRAINING_KEY.into()];
        config.keys = vec!["bench-prediction-key".into()];
        let server = kao_serve::Server::bind(config).await?;
        let origin = format!("http://{}", server.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        let api = Api {
            http: reqwest::Client::builder().no_proxy().build()?,
            base: format!("{origin}/customvision/v3.3/training"),
        };

        // ---- 5,000 photos in the Photos view ----
        let big = api.project("five-thousand").await?;
        let entries: Vec<(Vec<u8>, Option<String>)> = many.into_iter().map(|b| (b, None)).collect();
        upload_files(&api, &big, &entries).await?;
        let count = api.get(&format!("/projects/{big}/images/count")).await?;
        ensure!(count == PHOTOS, "the project has {count} photos, not {PHOTOS}");
        let browser = Browser::start(1280, 800).await;
        browser.open(&format!("{origin}/")).await;
        browser
            .script("sessionStorage.setItem('kao.trainingKey', arguments[0])", json!([TRAINING_KEY]))
            .await;
        let view = format!("{origin}/#/p/{big}/photos");
        let mut first_screen = Vec::new();
        for _ in 0..6 {
            browser.open("about:blank").await;
            browser.open(&view).await;
            let ms = wait_number(&browser, "return window.kaoFirstScreenMs ?? null", Duration::from_secs(60)).await?;
            first_screen.push(ms);
        }
        let cold = first_screen[0];
        let warm = first_screen[1..].to_vec();
        let shown = browser
            .script("return document.querySelectorAll('#grid .cell').length", json!([]))
            .await;
        let height = browser
            .script("return document.getElementById('grid').scrollHeight", json!([]))
            .await
            .as_f64()
            .context("grid height")?;
        let middle = browser.script(SCROLL, json!([height / 2.0])).await.as_f64().context("scroll")?;
        let end = browser.script(SCROLL, json!([height])).await.as_f64().context("scroll")?;
        eprintln!("first screen: cold {cold:.0} ms, warm {warm:?} ms; scroll middle {middle:.0} ms, end {end:.0} ms");

        // ---- lfw5 through the page and through the API ----
        let all = crate::datasets::photos(&lfw5)?;
        let mut page_s = Vec::new();
        let mut api_s = Vec::new();
        for run in 0..RUNS {
            // The API, as the SDK does it: read, base64, 64 a batch, one client.
            let project = api.project(&format!("api-{run}")).await?;
            let t = Instant::now();
            let mut tags = std::collections::BTreeMap::new();
            for (person, _) in &all {
                if !tags.contains_key(person) {
                    let tag = api.post(&format!("/projects/{project}/tags?name={person}"), None).await?;
                    tags.insert(person.clone(), tag["id"].as_str().unwrap_or_default().to_string());
                }
            }
            let entries: Vec<(Vec<u8>, Option<String>)> = all
                .iter()
                .map(|(person, f)| Ok((std::fs::read(f)?, Some(tags[person].clone()))))
                .collect::<anyhow::Result<_>>()?;
            upload_files(&api, &project, &entries).await?;
            api_s.push(t.elapsed().as_secs_f64());

            // The page: the folder picker, a tag per folder, until its report says done.
            let project = api.project(&format!("page-{run}")).await?;
            browser.open(&format!("{origin}/#/p/{project}/photos")).await;
            let input = browser.one("#folder-input").await;
            let t = Instant::now();
            browser.send_keys(&input, &lfw5.display().to_string()).await;
            browser
                .wait_for("#upload-report[data-state=\"done\"]", Duration::from_secs(600))
                .await;
            page_s.push(t.elapsed().as_secs_f64());
            let report = browser.one("#upload-report").await;
            let ok = browser.attribute(&report, "data-ok").await.unwrap_or_default();
            ensure!(ok == all.len().to_string(), "the page added {ok} of {} photos", all.len());
            let count = api.get(&format!("/projects/{project}/images/count")).await?;
            ensure!(count == all.len(), "the project has {count} photos");
            eprintln!("upload of {} photos: API {:.2} s, page {:.2} s", all.len(), api_s[run], page_s[run]);
        }
        browser.quit().await;
        let _ = stop.send(());
        serving.await??;

        let (api_m, page_m) = (median(api_s.clone()), median(page_s.clone()));
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!(
            "\n| measure | value |\n|---|---|\n\
             | Photos view, {PHOTOS} photos, first screen ({} thumbnails), thumbnails not made yet | {cold:.0} ms |\n\
             | Photos view, first screen, thumbnail cache warm (median of {}; max) | {:.0} ms; {:.0} ms |\n\
             | scroll to the middle / to the end, until the thumbnails in view are shown | {middle:.0} ms / {end:.0} ms |\n\
             | upload of lfw5 ({} photos) through the API, base64 batches of {BATCH}, one client: median of {RUNS} (each run) | {api_m:.2} s ({}) |\n\
             | the same photos through the page's folder picker: median of {RUNS} (each run) | {page_m:.2} s ({}) |\n\
             | ratio page / API | {:.2} |\n\
             | cores | {cores} |",
            shown,
            warm.len(),
            median(warm.clone()),
            warm.iter().copied().fold(0.0, f64::max),
            all.len(),
            runs(&api_s),
            runs(&page_s),
            page_m / api_m,
        );
        anyhow::Ok(())
    })
}
