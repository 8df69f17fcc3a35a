#![doc = include_str!("../README.md")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// WebDriver key codes.
pub mod keys {
    pub const LEFT: &str = "\u{E012}";
    pub const RIGHT: &str = "\u{E014}";
    pub const HOME: &str = "\u{E011}";
    pub const END: &str = "\u{E010}";
}

/// Whether the browser is installed; `false` skips a test outside CI (under CI it fails).
pub fn available() -> bool {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{CHROMIUM} and {CHROMEDRIVER} are required under CI (apt-get install chromium chromium-driver)"
    );
    eprintln!("skipping: chromium or chromedriver not installed");
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A chromedriver process and one browser session; both end when dropped.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    width: u32,
    error_css: Option<String>,
    _profile: tempfile::TempDir,
    chromedriver: tokio::process::Child,
}

/// How to start the browser: [`Browser::start_with`].
#[derive(Debug, Clone)]
pub struct Options {
    /// The page's size in CSS pixels.
    pub width: u32,
    pub height: u32,
    /// A Y4M or MJPEG file Chromium's fake camera plays (`getUserMedia` is granted without
    /// asking).
    pub fake_camera: Option<PathBuf>,
    /// Only this origin (`127.0.0.1:PORT`) is reachable: every other request goes to a
    /// proxy that is not there, and host names do not resolve.
    pub only_origin: Option<String>,
    /// More command-line switches.
    pub args: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            width: 1280,
            height: 800,
            fake_camera: None,
            only_origin: None,
            args: Vec::new(),
        }
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium whose page is `width`×`height` CSS pixels.
    pub async fn start(width: u32, height: u32) -> Browser {
        Browser::start_with(&Options {
            width,
            height,
            ..Options::default()
        })
        .await
    }

    /// Starts chromedriver and a headless Chromium as `options` say.
    pub async fn start_with(options: &Options) -> Browser {
        let (width, height) = (options.width, options.height);
        let port = free_port();
        let chromedriver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        // reqwest is built without a TLS provider of its own (`rustls-no-provider`).
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
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
        assert!(ready, "chromedriver did not become ready");
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--lang=en-US".into(),
            format!("--window-size={width},{height}"),
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
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let mut b = Browser {
            http,
            base,
            session: String::new(),
            width,
            error_css: None,
            _profile: profile,
            chromedriver,
        };
        b.session = b.raw("POST", "/session", Some(caps)).await["sessionId"]
            .as_str()
            .unwrap()
            .to_string();
        // Pages that run a network for seconds answer a script call late.
        b.post("/timeouts", json!({"script": 600_000, "pageLoad": 120_000}))
            .await;
        b.viewport(width, height).await;
        b
    }

    async fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
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
        self.raw(
            "POST",
            &format!("/session/{}{path}", self.session),
            Some(body),
        )
        .await
    }

    async fn get(&self, path: &str) -> Value {
        self.raw("GET", &format!("/session/{}{path}", self.session), None)
            .await
    }

    /// The page's layout viewport, exactly (a window size includes the browser's frame).
    pub async fn viewport(&mut self, width: u32, height: u32) {
        self.width = width;
        let mobile = width < 600;
        self.post(
            "/goog/cdp/execute",
            json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile,
            }}),
        )
        .await;
    }

    pub async fn open(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    pub async fn find_all(&self, css: &str) -> Vec<String> {
        let v = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_string())
            .collect()
    }

    /// Makes [`Browser::wait_for`] fail at once, with the text shown, when an element
    /// matching `css` (the page's way of showing an error) has any text.
    pub fn fail_on(&mut self, css: &str) {
        self.error_css = Some(css.to_string());
    }

    /// Polls until `css` matches (a page doing async work is not done at a fixed time).
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Vec<String> {
        let start = std::time::Instant::now();
        while start.elapsed() < timeout {
            let found = self.find_all(css).await;
            if !found.is_empty() {
                return found;
            }
            if let Some(error_css) = &self.error_css {
                for shown in self.find_all(error_css).await {
                    let text = self.text(&shown).await;
                    assert!(
                        text.trim().is_empty(),
                        "waiting for {css}, the page shows an error: {text}"
                    );
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css} never appeared within {timeout:?}");
    }

    pub async fn one(&self, css: &str) -> String {
        self.wait_for(css, Duration::from_secs(30)).await.remove(0)
    }

    pub async fn text(&self, element: &str) -> String {
        self.get(&format!("/element/{element}/text"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn attribute(&self, element: &str, name: &str) -> Option<String> {
        self.get(&format!("/element/{element}/attribute/{name}"))
            .await
            .as_str()
            .map(str::to_string)
    }

    /// An attribute of the first element matching `css`, read in one step (an element a
    /// page re-renders between a find and a read would be stale).
    pub async fn attribute_of(&self, css: &str, name: &str) -> Option<String> {
        self.script(
            "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
            json!([css, name]),
        )
        .await
        .as_str()
        .map(str::to_string)
    }

    /// The text of the first element matching `css`, read in one step.
    pub async fn text_of(&self, css: &str) -> Option<String> {
        self.script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
            json!([css]),
        )
        .await
        .as_str()
        .map(str::to_string)
    }

    /// The texts of every element matching `css`, read in one step.
    pub async fn texts_of(&self, css: &str) -> Vec<String> {
        self.script(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.innerText);",
            json!([css]),
        )
        .await
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
    }

    pub async fn click(&self, element: &str) {
        self.post(&format!("/element/{element}/click"), json!({}))
            .await;
    }

    /// Types into an element (for a file input: the path of a file or folder).
    pub async fn send_keys(&self, element: &str, text: &str) {
        self.post(
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    pub async fn clear(&self, element: &str) {
        self.post(&format!("/element/{element}/clear"), json!({}))
            .await;
    }

    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        let shot = self.get("/screenshot").await;
        base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().unwrap())
            .unwrap()
    }

    /// A PNG of the whole page, beyond the viewport, at the viewport's width.
    pub async fn full_page_screenshot(&self) -> Vec<u8> {
        let metrics = self
            .post(
                "/goog/cdp/execute",
                json!({"cmd": "Page.getLayoutMetrics", "params": {}}),
            )
            .await;
        let size = &metrics["cssContentSize"];
        let shot = self
            .post(
                "/goog/cdp/execute",
                json!({"cmd": "Page.captureScreenshot", "params": {
                    "format": "png",
                    "captureBeyondViewport": true,
                    // The viewport's width: without a scroll bar the page is laid out that wide.
                    "clip": {"x": 0, "y": 0, "width": self.width, "height": size["height"], "scale": 1},
                }}),
            )
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .unwrap()
    }

    /// The browser console's entries since the last call (level, message).
    pub async fn console(&self) -> Vec<(String, String)> {
        let v = self.post("/se/log", json!({"type": "browser"})).await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        (
                            e["level"].as_str().unwrap_or_default().to_string(),
                            e["message"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn quit(mut self) {
        let path = format!("/session/{}", self.session);
        let _ = self
            .http
            .delete(format!("{}{path}", self.base))
            .send()
            .await;
        let _ = self.chromedriver.kill().await;
    }
}
