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

use crate::auth::{resolve_keys, KeyOrigin, Keys};
use crate::config::ServeConfig;
use crate::error::{ApiError, ServeError};
use crate::fetch::Fetcher;
use crate::model::Live;
use crate::state::{AppState, Limits};
use crate::{page, predict};

/// A bound, ready server: the socket is listening and the published models are loaded.
pub struct Server {
    listener: TcpListener,
    state: Arc<AppState>,
    addr: SocketAddr,
    key_origin: KeyOrigin,
    reload_interval: Duration,
    max_body: usize,
}

impl Server {
    /// Reads the project id and keys, loads what is published, and binds the socket.
    /// Loading models is blocking work; it runs on the blocking pool.
    pub async fn bind(config: ServeConfig) -> Result<Server, ServeError> {
        let work = WorkDir::new(&config.work);
        let root = config.work.clone();
        let keys = config.keys.clone();
        let (project_id, (keys, key_origin), live) = tokio::task::spawn_blocking(move || {
            let project_id = kao_infer::project_id(&work)?;
            let keys = resolve_keys(&keys, &root)?;
            let live = Live::open(work, project_id.clone())?;
            Ok::<_, ServeError>((project_id, keys, live))
        })
        .await
        .map_err(|e| ServeError::Task(e.to_string()))??;

        let fetcher = if config.allow_url_fetch {
            Some(Fetcher::new(
                config.url_timeout,
                config.max_body,
                config.allow_private_urls,
            )?)
        } else {
            None
        };
        let live = Arc::new(live);
        let state = AppState::new(
            project_id,
            Keys::new(&keys),
            Arc::clone(&live),
            fetcher,
            Limits {
                max_body: config.max_body,
                request_timeout: config.request_timeout,
                concurrency: config.concurrency,
                queue: config.queue,
            },
        );
        state.metrics.published(live.current().names());
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
            reload_interval: config.reload_interval,
            max_body: config.max_body,
        })
    }

    /// The address actually bound (the real port when the config said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn project_id(&self) -> &str {
        &self.state.project_id
    }

    /// Published names and their iterations, as loaded at start.
    pub fn published(&self) -> Vec<(String, u32)> {
        self.state.live.current().names()
    }

    /// Where the accepted key came from; a generated key is shown here once.
    pub fn key_origin(&self) -> &KeyOrigin {
        &self.key_origin
    }

    /// The Custom Vision prediction URL for raw-image requests to `name`.
    pub fn prediction_url(&self, name: &str) -> String {
        prediction_url(
            &format!("http://{}", self.addr),
            &self.state.project_id,
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
        match state.live.refresh().await {
            Ok(true) => state.metrics.published(state.live.current().names()),
            Ok(false) => {}
            Err(e) => {
                state.metrics.reload_failed();
                tracing::warn!(error = %e, "a new publish could not be loaded; still serving the previous models");
            }
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
        .route("/quicktest.js", get(page::script))
        .route("/quicktest.css", get(page::style))
        .route("/quicktest/info", get(page::info))
        .route("/healthz", get(healthz))
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
    let names = st.live.current().names();
    let body = serde_json::json!({
        "status": "ok",
        "published": names.iter().map(|(n, i)| serde_json::json!({"name": n, "iteration": i})).collect::<Vec<_>>(),
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
