//! The Quick Test page: static assets compiled into the binary (it works offline, with no
//! CDN), plus the one JSON it needs to build prediction URLs.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::state::AppState;

const INDEX: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/quicktest.js");
const STYLE: &str = include_str!("../assets/quicktest.css");

pub(crate) async fn index() -> Html<&'static str> {
    Html(INDEX)
}

pub(crate) async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

pub(crate) async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Info {
    /// The project of `kao serve --work`; absent when the server serves a root of projects.
    project_id: Option<String>,
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
        max_body: st.max_body,
        published,
    })
}
