//! Kao Studio, the web front end at `/`: static files compiled into the binary (it works
//! offline: no CDN, no fonts or scripts from elsewhere), plus the one JSON it reads without
//! a key. Everything else the page does goes through the public Training and Prediction
//! APIs, with the key the user gives it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

const JS: &str = "text/javascript; charset=utf-8";

/// The Studio's files under `/studio/`: (path, content, MIME type).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "studio.css",
        include_str!("../assets/studio/studio.css"),
        "text/css; charset=utf-8",
    ),
    ("app.js", include_str!("../assets/studio/app.js"), JS),
    ("api.js", include_str!("../assets/studio/api.js"), JS),
    ("i18n.js", include_str!("../assets/studio/i18n.js"), JS),
    ("ui.js", include_str!("../assets/studio/ui.js"), JS),
    (
        "views/signin.js",
        include_str!("../assets/studio/views/signin.js"),
        JS,
    ),
    (
        "views/projects.js",
        include_str!("../assets/studio/views/projects.js"),
        JS,
    ),
    (
        "views/photos.js",
        include_str!("../assets/studio/views/photos.js"),
        JS,
    ),
    (
        "views/upload.js",
        include_str!("../assets/studio/views/upload.js"),
        JS,
    ),
    (
        "views/collect.js",
        include_str!("../assets/studio/views/collect.js"),
        JS,
    ),
    (
        "views/train.js",
        include_str!("../assets/studio/views/train.js"),
        JS,
    ),
    (
        "views/performance.js",
        include_str!("../assets/studio/views/performance.js"),
        JS,
    ),
    (
        "views/quicktest.js",
        include_str!("../assets/studio/views/quicktest.js"),
        JS,
    ),
    (
        "views/predictions.js",
        include_str!("../assets/studio/views/predictions.js"),
        JS,
    ),
    (
        "views/publish.js",
        include_str!("../assets/studio/views/publish.js"),
        JS,
    ),
];

const INDEX: &str = include_str!("../assets/studio/index.html");

/// Headers every Studio file is sent with: revalidated on each load (the files change with
/// the binary), and no page of another site may frame it.
fn send(content: &'static str, mime: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        content,
    )
        .into_response()
}

pub(crate) async fn index() -> Response {
    send(INDEX, "text/html; charset=utf-8")
}

pub(crate) async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|(p, _, _)| *p == path) {
        Some((_, content, mime)) => send(content, mime),
        None => ApiError::not_found().into_response(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Info {
    /// The project of `kao serve --work`; absent when the server serves a root of projects.
    project_id: Option<String>,
    /// Whether the server answers the Training API (`--root`): the Studio then asks for
    /// the Training-Key; otherwise it is the Quick Test of what is published.
    training_api: bool,
    max_body: usize,
    published: Vec<PublishedInfo>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PublishedInfo {
    project_id: String,
    name: String,
    iteration: u32,
    /// Path of the raw-image route; the page prefixes its own origin.
    prediction_path: String,
}

/// Needs no key: project ids and published names are in every prediction URL anyway; only
/// the key is secret.
pub(crate) async fn info(State(st): State<Arc<AppState>>) -> Json<Info> {
    let published = st
        .projects
        .names()
        .into_iter()
        .map(|(project, name, iteration)| PublishedInfo {
            prediction_path: crate::server::prediction_url("", &project, &name),
            project_id: project,
            name,
            iteration,
        })
        .collect();
    Json(Info {
        project_id: st.projects.single_id().map(str::to_string),
        training_api: st.training_keys.is_some(),
        max_body: st.max_body,
        published,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every module the Studio imports is served (a missing one breaks the page silently).
    #[test]
    fn every_imported_module_is_served() {
        let served: Vec<&str> = ASSETS.iter().map(|(p, _, _)| *p).collect();
        for (path, content, _) in ASSETS {
            let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
            for line in content.lines() {
                let Some(spec) = line
                    .trim()
                    .strip_prefix("import ")
                    .and_then(|l| l.split(" from ").nth(1))
                else {
                    continue;
                };
                let spec = spec.trim_end_matches(';').trim_matches('"');
                let mut parts: Vec<&str> = if dir.is_empty() {
                    vec![]
                } else {
                    dir.split('/').collect()
                };
                for seg in spec.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        s => parts.push(s),
                    }
                }
                let target = parts.join("/");
                assert!(
                    served.contains(&target.as_str()),
                    "{path} imports {spec}, which is not served"
                );
            }
        }
        assert!(INDEX.contains("/studio/app.js"));
    }
}
