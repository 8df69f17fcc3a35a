//! `kao serve --root` as a child process on 127.0.0.1, and a small Training API client.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const TRAINING_KEY: &str = "test-training-key-0123456789abcdef";
pub const PREDICTION_KEY: &str = "test-prediction-key-0123456789abcd";

/// A running `kao serve --root ROOT`; killed (SIGKILL) when dropped.
pub struct Kao {
    child: Child,
    pub base: String,
}

impl Kao {
    /// Starts the server on a free port and waits until it listens.
    pub fn start(root: &Path) -> Kao {
        Self::start_with(root, &[])
    }

    pub fn start_with(root: &Path, extra: &[&str]) -> Kao {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kao"))
            .args(["serve", "--bind", "127.0.0.1:0", "--key", PREDICTION_KEY])
            .arg("--root")
            .arg(root)
            .args(["--training-key", TRAINING_KEY])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("kao serve starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(120);
        let base = loop {
            assert!(Instant::now() < deadline, "kao serve did not start");
            let Some(Ok(line)) = lines.next() else {
                panic!("kao serve exited before listening: {:?}", child.try_wait());
            };
            if let Some(url) = line.strip_prefix("Listening on") {
                break url.trim().to_string();
            }
        };
        // Keep reading so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Kao { child, base }
    }

    /// SIGKILL, no chance to clean up: what a crash or a power cut leaves.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn client(&self) -> Api {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Api {
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            base: format!("{}/customvision/v3.3/training", self.base),
            key: TRAINING_KEY.to_string(),
        }
    }
}

impl Drop for Kao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Training API over reqwest, answers as (status, JSON).
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub key: String,
}

impl Api {
    pub async fn send(&self, r: reqwest::RequestBuilder) -> (u16, Value) {
        let r = r.header("Training-Key", &self.key).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.http.post(format!("{}{path}", self.base));
        if let Some(b) = body {
            r = r.json(&b);
        }
        self.send(r).await
    }

    pub async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = match method {
            "GET" => self.get(path).await,
            "POST" => self.post(path, body).await,
            "DELETE" => {
                self.send(self.http.delete(format!("{}{path}", self.base)))
                    .await
            }
            "PATCH" => {
                self.send(
                    self.http
                        .patch(format!("{}{path}", self.base))
                        .json(&body.unwrap_or(Value::Null)),
                )
                .await
            }
            _ => unreachable!(),
        };
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {v}"
        );
        v
    }

    pub async fn project(&self, name: &str) -> String {
        let p = self
            .ok("POST", &format!("/projects?name={name}"), None)
            .await;
        p["id"].as_str().unwrap().to_string()
    }

    pub async fn tag(&self, project: &str, name: &str) -> String {
        let t = self
            .ok(
                "POST",
                &format!("/projects/{project}/tags?name={name}"),
                None,
            )
            .await;
        t["id"].as_str().unwrap().to_string()
    }

    /// Uploads files as one `images/files` batch, each with its tag.
    pub async fn upload(&self, project: &str, files: &[(PathBuf, String)]) -> (u16, Value) {
        use base64::Engine;
        let images: Vec<Value> = files
            .iter()
            .map(|(path, tag)| {
                serde_json::json!({
                    "name": path.file_name().unwrap().to_string_lossy(),
                    "contents": base64::engine::general_purpose::STANDARD.encode(std::fs::read(path).unwrap()),
                    "tagIds": [tag],
                })
            })
            .collect();
        self.post(
            &format!("/projects/{project}/images/files"),
            Some(serde_json::json!({ "images": images })),
        )
        .await
    }

    /// Polls the iteration until it is no longer Training.
    pub async fn wait_trained(&self, project: &str, iteration: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let it = self
                .ok(
                    "GET",
                    &format!("/projects/{project}/iterations/{iteration}"),
                    None,
                )
                .await;
            if it["status"] != "Training" {
                return it;
            }
            assert!(
                Instant::now() < deadline,
                "still training after {limit:?}: {it}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// The first `n` photos (sorted) of a person in a dataset.
pub fn photos(dataset: &Path, person: &str, range: std::ops::Range<usize>) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dataset.join(person))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .skip(range.start)
        .take(range.len())
        .collect()
}
