//! Binding, routing, the background reload, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use kao_dataset::WorkDir;
use tokio::net::TcpListener;

use crate::auth::{resolve_key_file, resolve_keys, KeyOrigin, Keys, TRAINING_KEY_FILE};
use crate::config::ServeConfig;
use crate::error::{ApiError, ServeError};
use crate::fetch::Fetcher;
use crate::model::{Live, Projects};
use crate::state::{AppState, Limits};
use crate::{page, predict};

/// A bound, ready server: the socket is listening and the published models are loaded.
pub struct Server {
    listener: TcpListener,
    state: Arc<AppState>,
    addr: SocketAddr,
    key_origin: KeyOrigin,
    training_key_origin: Option<KeyOrigin>,
    reload_interval: Duration,
    max_body: usize,
}

impl Server {
    /// Reads the project id and keys, loads what is published, and binds the socket; with
    /// `config.root`, opens the project store (which resumes interrupted trainings).
    /// Loading models is blocking work; it runs on the blocking pool.
    pub async fn bind(config: ServeConfig) -> Result<Server, ServeError> {
        let work = WorkDir::new(&config.work);
        let keys = config.keys.clone();
        let training_keys = config.training_keys.clone();
        let root = config.root.clone();
        let train = config.train;
        let (projects, (keys, key_origin), training) =
            tokio::task::spawn_blocking(move || match root {
                None => {
                    let project_id = kao_infer::project_id(&work)?;
                    let keys = resolve_keys(&keys, work.root())?;
                    let live = Live::open(work, project_id.clone(), None)?;
                    Ok::<_, ServeError>((Projects::single(project_id, Arc::new(live)), keys, None))
                }
                Some(root) => {
                    let store =
                        kao_projects::Store::open(&root, kao_projects::StoreOptions { train })?;
                    let keys = resolve_keys(&keys, &root)?;
                    let training = resolve_key_file(&training_keys, &root.join(TRAINING_KEY_FILE))?;
                    if training.0.iter().any(|t| keys.0.contains(t)) {
                        return Err(ServeError::Key {
                            path: root.join(TRAINING_KEY_FILE),
                            message: "the Training-Key must differ from every Prediction-Key"
                                .into(),
                        });
                    }
                    let projects = Projects::root(store);
                    projects.preload()?;
                    Ok((projects, keys, Some(training)))
                }
            })
            .await
            .map_err(|e| ServeError::Task(e.to_string()))??;

        let prediction_key = training.is_some().then(|| keys.first().cloned()).flatten();
        let fetcher = if config.allow_url_fetch {
            Some(Fetcher::new(
                config.url_timeout,
                config.max_body,
                config.allow_private_urls,
            )?)
        } else {
            None
        };
        let (training_keys, training_key_origin, uri_secret) = match training {
            Some((keys, origin)) => {
                let secret = uri_secret(&keys);
                (Some(Keys::new(&keys)), Some(origin), secret)
            }
            None => (None, None, [0; 32]),
        };
        let mut state = AppState::new(
            projects,
            Keys::new(&keys),
            training_keys,
            uri_secret,
            fetcher,
            Limits {
                max_body: config.max_body,
                request_timeout: config.request_timeout,
                concurrency: config.concurrency,
                queue: config.queue,
            },
        );
        state.allow_private_urls = config.allow_private_urls;
        state.prediction_key = prediction_key;
        state
            .metrics
            .published(state.projects.names().into_iter().map(|(_, n, i)| (n, i)));
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| ServeError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: config.bind,
            source,
        })?;
        Ok(Server {
            listener,
            state: Arc::new(state),
            addr,
            key_origin,
            training_key_origin,
            reload_interval: config.reload_interval,
            max_body: config.max_body,
        })
    }

    /// The address actually bound (the real port when the config said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The project of `--work`; `None` when the server serves a root of projects.
    pub fn project_id(&self) -> Option<&str> {
        self.state.projects.single_id()
    }

    /// Published names and their iterations, as loaded at start.
    pub fn published(&self) -> Vec<(String, u32)> {
        self.state
            .projects
            .names()
            .into_iter()
            .map(|(_, n, i)| (n, i))
            .collect()
    }

    /// Where the accepted key came from; a generated key is shown here once.
    pub fn key_origin(&self) -> &KeyOrigin {
        &self.key_origin
    }

    /// Where the accepted Training-Key came from (`--root` only).
    pub fn training_key_origin(&self) -> Option<&KeyOrigin> {
        self.training_key_origin.as_ref()
    }

    /// The Custom Vision prediction URL for raw-image requests to `name` (of the `--work`
    /// project; with `--root`, a template with `{projectId}`).
    pub fn prediction_url(&self, name: &str) -> String {
        prediction_url(
            &format!("http://{}", self.addr),
            self.state.projects.single_id().unwrap_or("{projectId}"),
            name,
        )
    }

    /// Serves until `shutdown` completes, then stops accepting and waits for the requests
    /// in flight to finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let app = router(Arc::clone(&self.state), self.max_body);
        let watcher = tokio::spawn(watch(Arc::clone(&self.state), self.reload_interval));
        let result = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| ServeError::Bind {
                addr: self.addr,
                source,
            });
        watcher.abort();
        result
    }
}

pub(crate) fn prediction_url(origin: &str, project: &str, name: &str) -> String {
    format!("{origin}/customvision/v3.0/Prediction/{project}/classify/iterations/{name}/image")
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, for [`Server::run`].
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

async fn watch(state: Arc<AppState>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut changed = false;
        for (project, live) in state.projects.all() {
            match live.refresh().await {
                Ok(c) => changed |= c,
                Err(e) => {
                    state.metrics.reload_failed();
                    tracing::warn!(%project, error = %e, "a new publish could not be loaded; still serving the previous models");
                }
            }
        }
        if changed {
            state
                .metrics
                .published(state.projects.names().into_iter().map(|(_, n, i)| (n, i)));
        }
    }
}

fn router(state: Arc<AppState>, max_body: usize) -> Router {
    let base = "/customvision/{version}/{prediction}/{project}/classify/iterations/{name}";
    Router::new()
        .route(&format!("{base}/image"), post(predict::classify_image))
        .route(
            &format!("{base}/image/nostore"),
            post(predict::classify_image),
        )
        .route(&format!("{base}/url"), post(predict::classify_url))
        .route(&format!("{base}/url/nostore"), post(predict::classify_url))
        .route("/", get(page::index))
        .route("/studio/{*path}", get(page::asset))
        .route("/quicktest/info", get(page::info))
        .route("/healthz", get(healthz))
        .merge(crate::training::router(Arc::clone(&state)))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::not_found() })
        .layer(DefaultBodyLimit::max(max_body + predict::MULTIPART_SLACK))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), record))
        .with_state(state)
}

/// Counts every request by route template (not raw path, which would grow without bound).
async fn record(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let start = Instant::now();
    let response = next.run(req).await;
    st.metrics
        .request(&route, response.status().as_u16(), start.elapsed());
    response
}

async fn healthz(State(st): State<Arc<AppState>>) -> Response {
    let names = st.projects.names();
    let body = serde_json::json!({
        "status": "ok",
        "published": names.iter().map(|(p, n, i)| serde_json::json!({"project": p, "name": n, "iteration": i})).collect::<Vec<_>>(),
    });
    axum::Json(body).into_response()
}

async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        st.render_metrics(),
    )
        .into_response()
}

/// The secret that signs image URIs: a digest of the training keys, so it changes with them
/// and is never the key itself.
fn uri_secret(keys: &[String]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"kao image uri\0");
    for k in keys {
        h.update(k.as_bytes());
        h.update([0]);
    }
    h.finalize().into()
}
