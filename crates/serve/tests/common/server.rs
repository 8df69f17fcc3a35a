//! Starts the real server on 127.0.0.1:0 for a test and stops it gracefully afterwards.

use std::net::SocketAddr;
use std::path::Path;

use kao_serve::{ServeConfig, Server};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const KEY: &str = "test-key-0123456789";
pub const TRAINING_KEY: &str = "test-training-key-0123456789";

pub struct Running {
    pub addr: SocketAddr,
    /// The `--work` project (empty for a `--root` server).
    pub project: String,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), kao_serve::ServeError>>>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `…/classify/iterations/{name}/{tail}` with the project id filled in.
    pub fn classify(&self, name: &str, tail: &str) -> String {
        self.url(&format!(
            "/customvision/v3.0/Prediction/{}/classify/iterations/{name}/{tail}",
            self.project
        ))
    }

    /// [`training_call`] to this server.
    pub async fn training(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        training_call(self.addr, method, path, body).await
    }

    /// Asks for a graceful stop and waits until the server has finished.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server run");
        }
    }

    /// Sends the stop signal without waiting, for tests that watch requests drain.
    pub fn signal_stop(&mut self) -> JoinHandle<Result<(), kao_serve::ServeError>> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.handle.take().expect("server still running")
    }
}

pub async fn start(work: &Path, tweak: impl FnOnce(&mut ServeConfig)) -> Running {
    let mut config = ServeConfig::new(work);
    config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    config.keys = vec![KEY.to_string()];
    tweak(&mut config);
    run(config).await
}

/// A `--root` server (the Training API and the Studio) with [`TRAINING_KEY`].
pub async fn start_root(root: &Path, tweak: impl FnOnce(&mut ServeConfig)) -> Running {
    let mut config = ServeConfig::for_root(root);
    config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    config.keys = vec![KEY.to_string()];
    config.training_keys = vec![TRAINING_KEY.to_string()];
    tweak(&mut config);
    run(config).await
}

async fn run(config: ServeConfig) -> Running {
    let server = Server::bind(config).await.expect("server binds");
    let addr = server.local_addr();
    let project = server.project_id().unwrap_or_default().to_string();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Running {
        addr,
        project,
        stop: Some(tx),
        handle: Some(handle),
    }
}

/// A Training API (v3.3) call with the Training-Key to the server at `addr`: the status
/// and the JSON body (`Null` when the body is not JSON). A free function for tests that
/// keep only the address while the server's handle is stopped elsewhere.
pub async fn training_call(
    addr: SocketAddr,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut r = client()
        .request(
            method,
            format!("http://{addr}/customvision/v3.3/training{path}"),
        )
        .header("Training-Key", TRAINING_KEY);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}
