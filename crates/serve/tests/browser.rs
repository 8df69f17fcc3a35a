//! Headless Chromium opens the Quick Test page, uploads an unseen LFW photo and reads the
//! Tags / Probability table, driven through chromedriver's W3C WebDriver HTTP API.
//! Screenshots land in `$CARGO_TARGET_TMPDIR/kao-serve-browser/` (`quicktest-empty.png`
//! before the upload, `quicktest.png` after).

mod common;

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use common::data::lfw;
use common::server::{client, start, KEY};
use common::trained::trained;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// What the page shows before a photo is chosen: images with an area, and the visible
/// controls that choose a file.
const BEFORE_UPLOAD: &str = r#"
const shown = (e) => {
  const r = e.getBoundingClientRect();
  return r.width > 2 && r.height > 2 && getComputedStyle(e).visibility !== "hidden";
};
const pickers = [...document.querySelectorAll("input[type=file], label[for=file], button")];
return {
  images: [...document.images].filter(shown).length,
  pickers: pickers.filter(shown).map((e) => e.tagName.toLowerCase()),
};
"#;
/// Face boxes that stick out of the photo they are drawn over (the layer must cover the
/// photo exactly for the boxes' percentages to land on the faces).
const BOXES_OUTSIDE_PHOTO: &str = r##"
const p = document.getElementById("photo").getBoundingClientRect();
return [...document.querySelectorAll("#boxes .box")]
  .map((b) => b.getBoundingClientRect())
  .filter((r) => r.left < p.left - 1 || r.top < p.top - 1 || r.right > p.right + 1 || r.bottom > p.bottom + 1)
  .map((r) => [r.left, r.top, r.right, r.bottom, p.left, p.top, p.right, p.bottom]);
"##;
/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    http: reqwest::Client,
    base: String,
}

impl Driver {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("chromedriver answers");
        let status = r.status();
        let v: Value = r.json().await.expect("WebDriver JSON");
        assert!(status.is_success(), "{path}: {status} {v}");
        v["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn find_all(&self, session: &str, css: &str) -> Vec<String> {
        let v = self
            .post(
                &format!("/session/{session}/elements"),
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_string())
            .collect()
    }

    /// Polls until `css` matches (a page doing async work is not done at a fixed time).
    async fn wait_for(&self, session: &str, css: &str) -> Vec<String> {
        for _ in 0..1200 {
            let found = self.find_all(session, css).await;
            if !found.is_empty() {
                return found;
            }
            let status = self.find_all(session, "#status.error").await;
            if let Some(s) = status.first() {
                let text = self
                    .get(&format!("/session/{session}/element/{s}/text"))
                    .await;
                panic!("the page shows an error: {text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css} never appeared");
    }

    async fn text(&self, session: &str, element: &str) -> String {
        let v = self
            .get(&format!("/session/{session}/element/{element}/text"))
            .await;
        v.as_str().unwrap().to_string()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn quick_test_page_shows_the_top_tag_of_an_uploaded_photo() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMIUM} and {CHROMEDRIVER} are required under CI (apt-get install chromium chromium-driver)"
        );
        eprintln!("skipping: chromium or chromedriver not installed");
        return;
    }
    let Some(work) = trained() else { return };
    let server = start(work, |_| {}).await;
    let profile = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut chromedriver = tokio::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromedriver");
    let driver = Driver {
        http: client(),
        base: format!("http://127.0.0.1:{port}"),
    };
    let mut ready = false;
    for _ in 0..300 {
        if let Ok(r) = driver
            .http
            .get(format!("{}/status", driver.base))
            .send()
            .await
        {
            if let Ok(v) = r.json::<Value>().await {
                if v["value"]["ready"] == true {
                    ready = true;
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "chromedriver did not become ready");

    let args = [
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--window-size=1280,900".into(),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
    }}});
    let session = driver.post("/session", caps).await["sessionId"]
        .as_str()
        .unwrap()
        .to_string();

    driver
        .post(
            &format!("/session/{session}/url"),
            json!({"url": server.url("/")}),
        )
        .await;
    // The page has read the published names once the select has an option.
    driver.wait_for(&session, "#published option").await;
    // Before a photo is chosen: no image on show (no broken-image placeholder), and one
    // visible control for choosing the file: the drop zone's label.
    let before = driver
        .post(
            &format!("/session/{session}/execute/sync"),
            json!({"script": BEFORE_UPLOAD, "args": []}),
        )
        .await;
    let empty_shot = driver.get(&format!("/session/{session}/screenshot")).await;
    let key = &driver.find_all(&session, "#key").await[0];
    driver
        .post(
            &format!("/session/{session}/element/{key}/value"),
            json!({"text": KEY}),
        )
        .await;
    let photo = lfw("Colin_Powell", 30);
    let input = &driver.find_all(&session, "#file").await[0];
    driver
        .post(
            &format!("/session/{session}/element/{input}/value"),
            json!({"text": photo.display().to_string()}),
        )
        .await;

    let rows = driver
        .wait_for(&session, "#results:not([hidden]) tbody tr")
        .await;
    let first = driver.text(&session, &rows[0]).await;
    let boxes = driver.find_all(&session, "#boxes .box").await;
    let outside = driver
        .post(
            &format!("/session/{session}/execute/sync"),
            json!({"script": BOXES_OUTSIDE_PHOTO, "args": []}),
        )
        .await;
    let url = driver.find_all(&session, "#url").await;
    let shown_url = driver.text(&session, &url[0]).await;

    let shot = driver.get(&format!("/session/{session}/screenshot")).await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot.as_str().unwrap())
        .unwrap();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kao-serve-browser");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("quicktest.png"), &png).unwrap();
    let empty_png = base64::engine::general_purpose::STANDARD
        .decode(empty_shot.as_str().unwrap())
        .unwrap();
    std::fs::write(out.join("quicktest-empty.png"), &empty_png).unwrap();
    eprintln!("screenshots: {}", out.display());

    driver
        .call(
            reqwest::Method::DELETE,
            &format!("/session/{session}"),
            None,
        )
        .await;
    let _ = chromedriver.kill().await;
    server.stop().await;

    assert_eq!(
        before["images"], 0,
        "an image shows before upload: {before}"
    );
    assert_eq!(before["pickers"], json!(["label"]), "{before}");
    assert!(first.starts_with("Colin_Powell"), "top row: {first:?}");
    assert!(first.ends_with('%'), "top row: {first:?}");
    assert!(!boxes.is_empty(), "no face box drawn");
    assert_eq!(outside, json!([]), "boxes outside the photo");
    assert!(
        shown_url.ends_with("/classify/iterations/test/image"),
        "{shown_url}"
    );
    assert!(png.starts_with(b"\x89PNG"));
}
