//! The four Custom Vision classify routes: check the path and key, read the image (raw
//! body, multipart field or URL), decode and predict on the blocking pool, answer JSON.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderMap};
use axum::Json;
use futures_util::StreamExt;
use kao_image::{ImageError, Limits};
use serde::Deserialize;

use crate::error::ApiError;
use crate::model::Served;
use crate::response::{self, ImagePrediction};
use crate::state::AppState;

/// The largest JSON body the `/url` routes read: a URL, not an image.
const MAX_URL_BODY: usize = 64 * 1024;

/// Room for multipart boundaries and part headers around an image of `max_body` bytes.
pub(crate) const MULTIPART_SLACK: usize = 64 * 1024;

/// How much of a rejected body is still read and dropped before answering. A client that is
/// still sending when the server answers and closes sees a reset connection, not the error;
/// past this much the server stops listening and accepts that.
const DRAIN_CAP: usize = 64 * 1024 * 1024;

#[derive(Debug, Deserialize)]
pub(crate) struct RoutePath {
    version: String,
    prediction: String,
    project: String,
    name: String,
}

type Answer = Result<Json<ImagePrediction>, ApiError>;

pub(crate) async fn classify_image(
    State(st): State<Arc<AppState>>,
    Path(path): Path<RoutePath>,
    req: Request,
) -> Answer {
    let deadline = st.request_timeout;
    tokio::time::timeout(deadline, async {
        let (served, project) = match admit(&st, &path, req.headers()).await {
            Ok(admitted) => admitted,
            Err(e) => {
                drain(req.into_body().into_data_stream(), 0).await;
                return Err(e);
            }
        };
        let keep = !req.uri().path().ends_with("/nostore");
        let every = all_faces(req.uri().query());
        let bytes = read_image(&st, req).await?;
        predict(&st, served, &project, bytes, keep, every).await
    })
    .await
    .unwrap_or_else(|_| Err(ApiError::timeout()))
}

pub(crate) async fn classify_url(
    State(st): State<Arc<AppState>>,
    Path(path): Path<RoutePath>,
    req: Request,
) -> Answer {
    let deadline = st.request_timeout;
    tokio::time::timeout(deadline, async {
        let (served, project) = match admit(&st, &path, req.headers()).await {
            Ok(admitted) => admitted,
            Err(e) => {
                drain(req.into_body().into_data_stream(), 0).await;
                return Err(e);
            }
        };
        let keep = !req.uri().path().ends_with("/nostore");
        let every = all_faces(req.uri().query());
        let body = read_limited(req.into_body(), MAX_URL_BODY)
            .await?
            .ok_or_else(|| ApiError::bad_request("the JSON body is too large for a URL"))?;
        let url = url_field(&body)?;
        let Some(fetcher) = &st.fetcher else {
            return Err(ApiError::image_url(
                "fetching image URLs is disabled on this server (start it with --allow-url-fetch)",
            ));
        };
        let bytes = fetcher.fetch(&url).await?;
        predict(&st, served, &project, bytes, keep, every).await
    })
    .await
    .unwrap_or_else(|_| Err(ApiError::timeout()))
}

/// Kao's `allFaces=true` query parameter: find every face of a group photo with the
/// detector order that finds the most (SSD first), at several times the cost of the
/// default order, which is tuned for the one main face of a portrait.
fn all_faces(query: Option<&str>) -> bool {
    query.into_iter().flat_map(|q| q.split('&')).any(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, "true"));
        key.eq_ignore_ascii_case("allFaces")
            && matches!(value.to_ascii_lowercase().as_str(), "true" | "1")
    })
}

/// Path, key, project and published name, checked in Custom Vision's order (key first, so
/// an unauthorised caller learns nothing about projects), before any body byte is read.
async fn admit(
    st: &Arc<AppState>,
    path: &RoutePath,
    headers: &HeaderMap,
) -> Result<(Arc<Served>, String), ApiError> {
    if !matches!(path.version.as_str(), "v3.0" | "v3.1")
        || !path.prediction.eq_ignore_ascii_case("prediction")
    {
        return Err(ApiError::not_found());
    }
    let key = headers
        .get("prediction-key")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !st.keys.accepts(key) {
        return Err(ApiError::unauthorized());
    }
    let live = st
        .projects
        .live(&path.project)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found_project(&path.project))?;
    let project = live.project_id().to_string();
    if let Some(served) = live.current().get(&path.name) {
        return Ok((served, project));
    }
    // Maybe published a moment ago: look now rather than at the next poll, so that
    // `kao publish` followed at once by a request works.
    if let Err(e) = live.refresh().await {
        tracing::warn!(error = %e, "reloading published iterations failed");
    }
    live.current()
        .get(&path.name)
        .map(|served| (served, project))
        .ok_or_else(|| ApiError::not_found_iteration(&path.name))
}

/// The body up to `limit` bytes; `None` when it is longer, after reading and dropping the
/// rest (see [`DRAIN_CAP`]).
async fn read_limited(body: Body, limit: usize) -> Result<Option<Vec<u8>>, ApiError> {
    let mut out = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
        if out.len() + chunk.len() > limit {
            drain(stream, out.len() + chunk.len()).await;
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out))
}

async fn drain(mut stream: axum::body::BodyDataStream, mut seen: usize) {
    while seen <= DRAIN_CAP {
        match stream.next().await {
            Some(Ok(chunk)) => seen += chunk.len(),
            _ => return,
        }
    }
}

pub(crate) async fn read_image(st: &AppState, req: Request) -> Result<Vec<u8>, ApiError> {
    let too_big = || ApiError::image_size(st.max_body);
    let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
    let is_multipart = content_type
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    let limit = if is_multipart {
        st.max_body + MULTIPART_SLACK
    } else {
        st.max_body
    };
    let body = read_limited(req.into_body(), limit)
        .await?
        .ok_or_else(too_big)?;
    if !is_multipart {
        return Ok(body);
    }
    // The whole body is in memory and bounded, so the form is parsed from it.
    let mut again = Request::new(Body::from(body));
    if let Some(ct) = content_type {
        again.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    let mut form = Multipart::from_request(again, &())
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => {
                return Err(ApiError::image_format(
                    "the multipart body has no imageData field",
                ))
            }
            Err(e) => return Err(ApiError::bad_request(e.body_text())),
        };
        // Custom Vision names the field imageData; accept any file field, as its SDKs differ.
        let wanted = field.name() == Some("imageData") || field.file_name().is_some();
        if !wanted {
            continue;
        }
        let bytes = field
            .bytes()
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        if bytes.len() > st.max_body {
            return Err(too_big());
        }
        return Ok(bytes.to_vec());
    }
}

pub(crate) fn url_field(body: &[u8]) -> Result<String, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::image_url(format!("the body is not JSON: {e}")))?;
    // `url` in the REST docs, `Url` from the .NET SDK.
    let url = value
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("url")))
        .and_then(|(_, v)| v.as_str())
        .ok_or_else(|| ApiError::image_url("the JSON body has no \"url\" string"))?;
    Ok(url.to_string())
}

pub(crate) fn decode_error(e: ImageError, max_body: usize) -> ApiError {
    match e {
        ImageError::TooLarge { what, .. } if what.contains("file size") => {
            ApiError::image_size(max_body)
        }
        ImageError::TooLarge { .. } | ImageError::DecoderLimit { .. } => {
            ApiError::image_dimensions(e.reason())
        }
        other => ApiError::image_format(other.reason()),
    }
}

/// Runs the prediction; with `keep`, a `--root` project that stores predictions keeps the
/// photo and the answer (its Predictions tab).
async fn predict(
    st: &Arc<AppState>,
    served: Arc<Served>,
    project: &str,
    bytes: Vec<u8>,
    keep: bool,
    every: bool,
) -> Answer {
    let keep = match (keep, st.projects.store()) {
        (true, Some(store)) => {
            let (store, p) = (Arc::clone(store), project.to_string());
            tokio::task::spawn_blocking(move || {
                store
                    .project(&p)
                    .is_ok_and(|p| p.settings.store_predictions)
            })
            .await
            .unwrap_or(false)
        }
        _ => false,
    };
    let kept_bytes = keep.then(|| bytes.clone());
    let slot = st.slot().await?;
    let limits = Limits {
        max_bytes: st.max_body as u64,
        ..Limits::default()
    };
    let predictor = Arc::clone(&served.predictor);
    let max_body = st.max_body;
    let outcome = tokio::task::spawn_blocking(move || {
        slot.install(|| {
            let decoded =
                kao_image::decode(&bytes, &limits).map_err(|e| decode_error(e, max_body))?;
            let (w, h) = decoded.image.dimensions();
            let faces = if every {
                predictor.predict_all_faces(&decoded.image)
            } else {
                predictor.predict(&decoded.image)
            }
            .map_err(|e| ApiError::internal(format!("prediction failed: {e}")))?;
            Ok::<_, ApiError>((faces, w, h))
        })
    })
    .await
    .map_err(|e| ApiError::internal(format!("prediction task failed: {e}")))?;
    let (faces, width, height) = outcome?;
    st.metrics.faces(faces.len());
    let ctx = response::Context {
        project,
        iteration: &served.iteration_id,
        width,
        height,
    };
    let answer = response::build(&ctx, &faces);
    if let (Some(bytes), Some(store)) = (kept_bytes, st.projects.store()) {
        let store = Arc::clone(store);
        let (project, iteration) = (project.to_string(), served.iteration_id.clone());
        let value = serde_json::to_value(&answer).unwrap_or_default();
        let stored = tokio::task::spawn_blocking(move || {
            store.store_prediction(&project, &iteration, &bytes, width, height, &value)
        })
        .await;
        if let Ok(Err(e)) = stored {
            tracing::warn!(error = %e, "storing a prediction failed");
        }
    }
    Ok(Json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_faces_is_an_opt_in_query_parameter() {
        assert!(!all_faces(None));
        assert!(!all_faces(Some("store=false")));
        assert!(all_faces(Some("allFaces=true")));
        assert!(all_faces(Some("application=x&allfaces=1")));
        assert!(all_faces(Some("allFaces")));
        assert!(!all_faces(Some("allFaces=false")));
    }

    #[test]
    fn url_field_accepts_both_spellings() {
        assert_eq!(
            url_field(br#"{"url":"http://a/b.jpg"}"#).unwrap(),
            "http://a/b.jpg"
        );
        assert_eq!(
            url_field(br#"{"Url":"http://a/c.jpg"}"#).unwrap(),
            "http://a/c.jpg"
        );
        assert_eq!(
            url_field(br#"{"uri":"x"}"#).unwrap_err().code,
            "BadRequestImageUrl"
        );
        assert_eq!(
            url_field(b"not json").unwrap_err().code,
            "BadRequestImageUrl"
        );
    }
}
