//! Headless Chromium driven through chromedriver's W3C WebDriver HTTP API, as the Quick
//! Test's browser test drives it.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::error::{HarnessError, Result};

/// Debian's Chromium and its driver (`apt-get install chromium chromium-driver`).
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How to start the browser.
#[derive(Debug, Clone, Default)]
pub struct ChromiumOptions {
    /// A Y4M or MJPEG file the fake camera plays (`getUserMedia` is granted without asking).
    pub fake_camera: Option<std::path::PathBuf>,
    /// Only this origin (`127.0.0.1:PORT`) is reachable: every other request goes to a
    /// proxy that is not there, and host names do not resolve.
    pub only_origin: Option<String>,
    /// More command-line switches.
    pub args: Vec<String>,
}

/// One browser session; [`Chromium::quit`] ends it (dropping it kills chromedriver).
pub struct Chromium {
    http: reqwest::Client,
    base: String,
    session: String,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// Whether Chromium and chromedriver are installed.
    pub fn installed() -> bool {
        Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
    }

    pub async fn start(options: &ChromiumOptions) -> Result<Chromium> {
        let profile = tempfile::tempdir().map_err(HarnessError::io("temp dir"))?;
        let port = free_port()?;
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(HarnessError::io(CHROMEDRIVER))?;
        crate::use_ring_tls();
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| HarnessError::webdriver("client", e))?;
        let base = format!("http://127.0.0.1:{port}");
        let mut ready = false;
        for _ in 0..300 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"] == true {
                        ready = true;
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !ready {
            return Err(HarnessError::webdriver(
                "start",
                "chromedriver did not become ready",
            ));
        }
        let mut args = vec![
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
        if let Some(camera) = &options.fake_camera {
            args.extend([
                "--use-fake-ui-for-media-stream".to_string(),
                "--use-fake-device-for-media-stream".into(),
                format!("--use-file-for-fake-video-capture={}", camera.display()),
            ]);
        }
        if let Some(origin) = &options.only_origin {
            // Loopback normally bypasses a proxy; `<-loopback>` takes that away, and the
            // page's own origin is put back as the one exception.
            args.extend([
                "--proxy-server=http://127.0.0.1:9".to_string(),
                format!("--proxy-bypass-list=<-loopback>;{origin}"),
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1".into(),
            ]);
        }
        args.extend(options.args.iter().cloned());
        let mut browser = Chromium {
            http,
            base,
            session: String::new(),
            driver,
            _profile: profile,
        };
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let v = browser
            .call(reqwest::Method::POST, "/session", Some(caps))
            .await?;
        browser.session = v["sessionId"]
            .as_str()
            .ok_or_else(|| HarnessError::webdriver("session", v.to_string()))?
            .to_string();
        browser
            .post("timeouts", json!({"script": 600_000, "pageLoad": 120_000}))
            .await?;
        Ok(browser)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req
            .send()
            .await
            .map_err(|e| HarnessError::webdriver(path, e))?;
        let status = r.status();
        let v: Value = r
            .json()
            .await
            .map_err(|e| HarnessError::webdriver(path, e))?;
        if !status.is_success() {
            let message = v["value"]["message"].as_str().unwrap_or_default();
            return Err(HarnessError::webdriver(path, format!("{status} {message}")));
        }
        Ok(v["value"].clone())
    }

    async fn post(&self, command: &str, body: Value) -> Result<Value> {
        let path = format!("/session/{}/{command}", self.session);
        self.call(reqwest::Method::POST, &path, Some(body)).await
    }

    async fn get(&self, command: &str) -> Result<Value> {
        let path = format!("/session/{}/{command}", self.session);
        self.call(reqwest::Method::GET, &path, None).await
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        self.post("url", json!({ "url": url })).await.map(drop)
    }

    /// Runs `script` as a function body with `args` as `arguments`; a returned promise is
    /// awaited (W3C WebDriver), and its value comes back as JSON.
    pub async fn execute(&self, script: &str, args: Value) -> Result<Value> {
        self.post("execute/sync", json!({"script": script, "args": args}))
            .await
    }

    pub async fn find_all(&self, css: &str) -> Result<Vec<String>> {
        let v = self
            .post("elements", json!({"using": "css selector", "value": css}))
            .await?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Polls until `css` matches, up to `timeout`.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Vec<String>> {
        let start = std::time::Instant::now();
        loop {
            let found = self.find_all(css).await?;
            if !found.is_empty() {
                return Ok(found);
            }
            if start.elapsed() > timeout {
                return Err(HarnessError::webdriver(
                    "wait",
                    format!("{css} did not appear in {timeout:?}"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn text(&self, element: &str) -> Result<String> {
        let v = self.get(&format!("element/{element}/text")).await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// Types `text` into an element; for a file input, the path of the file to choose.
    pub async fn send_keys(&self, element: &str, text: &str) -> Result<()> {
        self.post(&format!("element/{element}/value"), json!({ "text": text }))
            .await
            .map(drop)
    }

    pub async fn click(&self, element: &str) -> Result<()> {
        self.post(&format!("element/{element}/click"), json!({}))
            .await
            .map(drop)
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Result<Vec<u8>> {
        let v = self.get("screenshot").await?;
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .map_err(|e| HarnessError::webdriver("screenshot", e))
    }

    /// Ends the session and chromedriver.
    pub async fn quit(mut self) {
        let path = format!("/session/{}", self.session);
        let _ = self.call(reqwest::Method::DELETE, &path, None).await;
        let _ = self.driver.kill().await;
    }
}

fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(HarnessError::io("127.0.0.1:0"))
}
