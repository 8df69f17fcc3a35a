//! Custom Vision's Training API (v3.0–v3.3 and v3.4-preview) over `kao_projects::Store`:
//! routes, the `Training-Key` check, query strings and bodies in the spec's shapes. Every
//! store call is blocking and runs on the blocking pool.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use kao_projects::{
    CreateResult, CreateStatus, ImageQuery, ImageRecord, NewImage, ProjectUpdate, Store, Tagging,
};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::response;
use crate::state::AppState;

/// The API versions answered (the current Python SDK calls v3.4-preview).
const VERSIONS: [&str; 5] = ["v3.0", "v3.1", "v3.2", "v3.3", "v3.4-preview"];

/// Largest body of an upload: 64 images of 6 MB, base64-encoded, plus the JSON around them.
const MAX_UPLOAD_BODY: usize =
    kao_projects::MAX_BATCH_IMAGES * kao_projects::MAX_IMAGE_BYTES / 3 * 4 + 1024 * 1024;

/// Most images one listing returns (Custom Vision's `take` limit).
const MAX_TAKE: u64 = 256;

/// Largest side of a thumbnail, in pixels.
const THUMBNAIL_SIDE: u32 = 256;

type Answer = Result<Response, ApiError>;

pub(crate) fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let p = "/customvision/{version}/training/projects/{project}";
    let d = "/customvision/{version}/training/domains";
    Router::new()
        .route(d, get(domains))
        .route("/customvision/{version}/training/server", get(server_info))
        .route(&format!("{p}/crawls"), get(crawls).post(start_crawl))
        .route(&format!("{p}/crawls/{{job}}"), get(crawl))
        .route(&format!("{d}/{{domain}}"), get(domain))
        .route(
            "/customvision/{version}/training/projects",
            get(projects).post(create_project),
        )
        .route(p, get(project).patch(update_project).delete(delete_project))
        .route(&format!("{p}/tags"), get(tags).post(create_tag))
        .route(
            &format!("{p}/tags/{{tag}}"),
            get(tag).patch(update_tag).delete(delete_tag),
        )
        .route(
            &format!("{p}/images"),
            get(images_all).post(images_data).delete(delete_images),
        )
        .route(&format!("{p}/images/count"), get(images_all_count))
        .route(&format!("{p}/images/tagged"), get(images_tagged))
        .route(
            &format!("{p}/images/tagged/count"),
            get(images_tagged_count),
        )
        .route(&format!("{p}/images/untagged"), get(images_untagged))
        .route(
            &format!("{p}/images/untagged/count"),
            get(images_untagged_count),
        )
        .route(&format!("{p}/images/id"), get(images_by_ids))
        .route(&format!("{p}/images/rejected"), get(images_rejected))
        .route(
            &format!("{p}/images/rejected/count"),
            get(images_rejected_count),
        )
        .route(&format!("{p}/images/files"), post(images_files))
        .route(&format!("{p}/images/urls"), post(images_urls))
        .route(&format!("{p}/images/predictions"), post(images_predictions))
        .route(
            &format!("{p}/images/tags"),
            post(create_image_tags).delete(delete_image_tags),
        )
        .route(&format!("{p}/images/{{image}}/faces"), get(image_faces))
        .route(&format!("{p}/train"), post(train))
        .route(&format!("{p}/iterations"), get(iterations))
        .route(
            &format!("{p}/iterations/{{iteration}}"),
            get(iteration)
                .patch(update_iteration)
                .delete(delete_iteration),
        )
        .route(
            &format!("{p}/iterations/{{iteration}}/performance"),
            get(performance),
        )
        .route(
            &format!("{p}/iterations/{{iteration}}/performance/images"),
            get(performance_images),
        )
        .route(
            &format!("{p}/iterations/{{iteration}}/performance/images/count"),
            get(performance_images_count),
        )
        .route(
            &format!("{p}/iterations/{{iteration}}/publish"),
            post(publish).delete(unpublish),
        )
        .route(
            &format!("{p}/iterations/{{iteration}}/export"),
            get(exports).post(export),
        )
        .route(&format!("{p}/quicktest/image"), post(quick_test_image))
        .route(&format!("{p}/quicktest/url"), post(quick_test_url))
        .route(&format!("{p}/predictions/query"), post(query_predictions))
        .route(
            &format!("{p}/predictions"),
            axum::routing::delete(delete_predictions),
        )
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY))
        .layer(middleware::from_fn_with_state(state, admit))
        .route("/kao/files/{project}/{kind}/{id}/{size}", get(file))
}

/// Version, then key, before anything else (an unauthorised caller learns nothing).
async fn admit(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let version = req.uri().path().split('/').nth(2).unwrap_or_default();
    if !VERSIONS.contains(&version) {
        return ApiError::not_found().into_response();
    }
    let Some(keys) = &st.training_keys else {
        return ApiError::coded(
            StatusCode::NOT_FOUND,
            "NotFound",
            "This server does not answer the Training API: start it with `kao serve --root DIR`",
        )
        .into_response();
    };
    let key = req
        .headers()
        .get("training-key")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !keys.accepts(key) {
        return ApiError::training_unauthorized().into_response();
    }
    next.run(req).await
}

fn store(st: &AppState) -> Result<Arc<Store>, ApiError> {
    st.projects
        .store()
        .cloned()
        .ok_or_else(|| ApiError::internal("no project store"))
}

/// Runs a store call on the blocking pool.
async fn call<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&Store) -> kao_projects::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let store = store(st)?;
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| ApiError::internal(format!("store task failed: {e}")))?
        .map_err(ApiError::project)
}

fn ok<T: serde::Serialize>(value: T) -> Answer {
    Ok(Json(value).into_response())
}

fn no_content() -> Answer {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Query parameters by name, case-insensitively; repeated names and comma lists both work.
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.get(name)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(bad(format!("{name}={v:?} is not true or false"))),
            })
            .transpose()
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| bad(format!("{name}={v:?} is not a number")))
            })
            .transpose()
    }

    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                ApiError::coded(
                    StatusCode::BAD_REQUEST,
                    "BadRequestRequiredParamIsNull",
                    format!("the query parameter {name} is required"),
                )
            })
    }
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::coded(StatusCode::BAD_REQUEST, "BadRequestInvalid", message)
}

fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| bad(format!("the body is not a valid {what}: {e}")))
}

/// `http://host` of the request, for the URIs in answers.
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// A signature that lets a file URI work without the key header (as Azure's blob URIs do).
fn signature(secret: &[u8; 32], project: &str, kind: &str, id: &str, size: &str) -> String {
    let mut h = Sha256::new();
    h.update(secret);
    for part in [project, kind, id, size] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex_encode(&h.finalize()[..16])
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Uris<'a> {
    origin: String,
    secret: &'a [u8; 32],
}

impl Uris<'_> {
    fn new<'a>(st: &'a AppState, headers: &HeaderMap) -> Uris<'a> {
        Uris {
            origin: origin(headers),
            secret: &st.uri_secret,
        }
    }

    fn file(&self, project: &str, kind: &str, id: &str, size: &str) -> String {
        format!(
            "{}/kao/files/{project}/{kind}/{id}/{size}?sig={}",
            self.origin,
            signature(self.secret, project, kind, id, size)
        )
    }

    /// Custom Vision's `Image`.
    fn image(&self, project: &str, img: &ImageRecord) -> Value {
        json!({
            "id": img.id,
            "created": img.created,
            "width": img.width,
            "height": img.height,
            "resizedImageUri": self.file(project, "images", &img.id, "resized"),
            "thumbnailUri": self.file(project, "images", &img.id, "thumbnail"),
            "originalImageUri": self.file(project, "images", &img.id, "original"),
            "tags": img.tags,
            "regions": [],
            "metadata": {},
        })
    }
}

// ---- Kao: what the server allows ----

/// Kao: the limits a client should check before sending (the Studio refuses a file over
/// `maxImageBytes` before uploading it), what the server may fetch, and the
/// Prediction-Key (a Training-Key holder administers the server, as in Custom Vision's
/// portal, which shows both keys).
async fn server_info(State(st): State<Arc<AppState>>) -> Answer {
    ok(json!({
        "maxImageBytes": kao_projects::MAX_IMAGE_BYTES,
        "maxBatchImages": kao_projects::MAX_BATCH_IMAGES,
        "maxBatchTags": kao_projects::MAX_BATCH_TAGS,
        "maxTake": MAX_TAKE,
        "minImagesPerTag": kao_projects::MIN_IMAGES_PER_TAG,
        "maxPredictionBytes": st.max_body,
        "urlFetch": st.fetcher.is_some(),
        "maxCrawlImages": crate::crawls::MAX_IMAGES,
        "predictionKey": st.prediction_key,
        "thumbnailSide": THUMBNAIL_SIDE,
    }))
}

// ---- domains ----

#[derive(Deserialize)]
struct VersionPath {
    #[allow(dead_code)]
    version: String,
}

async fn domains(Path(_): Path<VersionPath>) -> Answer {
    ok(kao_projects::domains())
}

#[derive(Deserialize)]
struct DomainPath {
    #[allow(dead_code)]
    version: String,
    domain: String,
}

async fn domain(Path(p): Path<DomainPath>) -> Answer {
    let id = p.domain.to_ascii_lowercase();
    if id == kao_projects::FACE_DOMAIN_ID || id == kao_projects::GENERAL_DOMAIN_ID {
        return ok(&kao_projects::domains()[0]);
    }
    Err(ApiError::coded(
        StatusCode::NOT_FOUND,
        "NotFoundDomain",
        format!(
            "Domain {} not found: Kao has one domain, Faces ({})",
            p.domain,
            kao_projects::FACE_DOMAIN_ID
        ),
    ))
}

// ---- projects ----

#[derive(Deserialize)]
struct ProjectPath {
    #[allow(dead_code)]
    version: String,
    project: String,
}

async fn projects(State(st): State<Arc<AppState>>) -> Answer {
    ok(call(&st, |s| s.projects()).await?)
}

async fn create_project(
    State(st): State<Arc<AppState>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let q = Params(q);
    let name = q.required("name")?.to_string();
    let description = q.get("description").map(str::to_string);
    let domain = q.get("domainId").map(str::to_string);
    let classification = q.get("classificationType").map(str::to_string);
    ok(call(&st, move |s| {
        s.create_project(
            &name,
            description.as_deref(),
            domain.as_deref(),
            classification.as_deref(),
        )
    })
    .await?)
}

async fn project(State(st): State<Arc<AppState>>, Path(p): Path<ProjectPath>) -> Answer {
    ok(call(&st, move |s| s.project(&p.project)).await?)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ProjectBody {
    name: Option<String>,
    description: Option<String>,
    settings: Option<SettingsBody>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SettingsBody {
    domain_id: Option<String>,
    classification_type: Option<String>,
    store_predictions: Option<bool>,
}

async fn update_project(
    State(st): State<Arc<AppState>>,
    Path(p): Path<ProjectPath>,
    body: Bytes,
) -> Answer {
    let b: ProjectBody = json_body(&body, "Project")?;
    let settings = b.settings.unwrap_or_default();
    let update = ProjectUpdate {
        name: b.name,
        description: b.description,
        domain_id: settings.domain_id,
        classification_type: settings.classification_type,
        store_predictions: settings.store_predictions,
    };
    ok(call(&st, move |s| s.update_project(&p.project, &update)).await?)
}

async fn delete_project(State(st): State<Arc<AppState>>, Path(p): Path<ProjectPath>) -> Answer {
    let id = p.project.clone();
    call(&st, move |s| s.delete_project(&p.project)).await?;
    st.projects.forget(&id);
    no_content()
}

// ---- tags ----

#[derive(Deserialize)]
struct TagPath {
    #[allow(dead_code)]
    version: String,
    project: String,
    tag: String,
}

async fn tags(State(st): State<Arc<AppState>>, Path(p): Path<ProjectPath>) -> Answer {
    ok(call(&st, move |s| s.tags(&p.project)).await?)
}

async fn create_tag(
    State(st): State<Arc<AppState>>,
    Path(p): Path<ProjectPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let q = Params(q);
    let name = q.required("name")?.to_string();
    let description = q.get("description").map(str::to_string);
    let kind = q.get("type").map(str::to_string);
    ok(call(&st, move |s| {
        s.create_tag(&p.project, &name, description.as_deref(), kind.as_deref())
    })
    .await?)
}

async fn tag(State(st): State<Arc<AppState>>, Path(p): Path<TagPath>) -> Answer {
    ok(call(&st, move |s| s.tag(&p.project, &p.tag)).await?)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TagBody {
    name: Option<String>,
    description: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

async fn update_tag(
    State(st): State<Arc<AppState>>,
    Path(p): Path<TagPath>,
    body: Bytes,
) -> Answer {
    let b: TagBody = json_body(&body, "Tag")?;
    ok(call(&st, move |s| {
        s.update_tag(
            &p.project,
            &p.tag,
            b.name.as_deref(),
            b.description.as_deref(),
            b.kind.as_deref(),
        )
    })
    .await?)
}

async fn delete_tag(State(st): State<Arc<AppState>>, Path(p): Path<TagPath>) -> Answer {
    call(&st, move |s| s.delete_tag(&p.project, &p.tag)).await?;
    no_content()
}

// ---- image listings ----

fn image_query(q: &Params, tagging: Tagging) -> Result<ImageQuery, ApiError> {
    let take = q.number::<u64>("take")?.unwrap_or(50);
    if take > MAX_TAKE {
        return Err(bad(format!("take={take} is more than {MAX_TAKE}")));
    }
    let tag_ids = q.list("tagIds");
    if tag_ids.len() > kao_projects::MAX_BATCH_TAGS {
        return Err(bad("tagIds lists at most 20 tags"));
    }
    let newest_first = match q.get("orderBy").map(str::to_ascii_lowercase).as_deref() {
        None | Some("newest") | Some("suggested") => true,
        Some("oldest") => false,
        Some(other) => return Err(bad(format!("orderBy={other:?} is not Newest or Oldest"))),
    };
    Ok(ImageQuery {
        tagging,
        tag_ids,
        newest_first,
        skip: q.number("skip")?.unwrap_or(0),
        take,
    })
}

fn tagging_param(q: &Params) -> Result<Tagging, ApiError> {
    match q
        .get("taggingStatus")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("all") => Ok(Tagging::All),
        Some("tagged") => Ok(Tagging::Tagged),
        Some("untagged") => Ok(Tagging::Untagged),
        Some(other) => Err(bad(format!(
            "taggingStatus={other:?} is not All, Tagged or Untagged"
        ))),
    }
}

async fn list(st: Arc<AppState>, headers: HeaderMap, project: String, query: ImageQuery) -> Answer {
    let p = project.clone();
    let found = call(&st, move |s| s.images(&p, &query)).await?;
    let uris = Uris::new(&st, &headers);
    let project = project.to_ascii_lowercase();
    ok(found
        .iter()
        .map(|i| uris.image(&project, i))
        .collect::<Vec<_>>())
}

async fn count(st: Arc<AppState>, project: String, tagging: Tagging, tags: Vec<String>) -> Answer {
    ok(call(&st, move |s| s.image_count(&project, tagging, &tags)).await?)
}

async fn images_all(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(p): Path<ProjectPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let q = Params(q);
    let query = image_query(&q, tagging_param(&q)?)?;
    list(st, headers, p.project, query).await
}

async fn images_all_count(
    State(st): State<Arc<AppState>>,
    Path(p): Path<ProjectPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let q = Params(q);
    count(st, p.project, tagging_param(&q)?, q.list("tagIds")).await
}

async fn images_tagged(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(p): Path<ProjectPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let query = image_query(&Params(q), Tagging::Tagged)?;
    list(st, headers, p.project, query).await
}

async fn images_tagged_count(
    State(st): State<Arc<AppState>>,
    Path(p): Path<ProjectPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    count(st, p.project, Tagging::Tagged, Params(q).list("tagIds")).await
}

async fn images_untagged(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(p): Path<ProjectPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let query = image_query(&Params(q), Tagging::Untagged)?;
    list(st, headers, p.project, query).await
}

async fn images_untagged_count(
    State(st): State<Arc<AppState>>,
    Path(p): Path<ProjectPath>,
) -> Answer {
    count(st, p.project, Tagging::Untagged, Vec::new()).await
}

/// Kao: the images the latest training's crop stage rejected (no face, low score, …),
/// newest first, each with `rejectReason` and `rejectDetail` (as `…/images/{id}/faces`).
async fn images_rejected(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(p): Path<ProjectPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let query = image_query(&Params(q), Tagging::All)?;
    let project = p.project.clone();
    let (found, _) = call(&st, move |s| {
        s.rejected_images(&project, query.skip, query.take)
    })
    .await?;
    let uris = Uris::new(&st, &headers);
    let project = p.project.to_ascii_lowercase();
    ok(found
        .iter()
        .map(|r| {
            let mut v = uris.image(&project, &r.image);
            v["rejectReason"] = json!(r.reason);
            v["rejectDetail"] = json!(r.detail);
            v
        })
        .collect::<Vec<_>>())
}

async fn images_rejected_count(
    State(st): State<Arc<AppState>>,
    Path(p): Path<ProjectPath>,
) -> Answer {
    let (_, total) = call(&st, move |s| s.rejected_images(&p.project, 0, 0)).await?;
    ok(total)
}

async fn images_by_ids(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(p): Path<ProjectPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let ids = Params(q).list("imageIds");
    if ids.len() > MAX_TAKE as usize {
        return Err(bad("imageIds lists at most 256 images"));
    }
    let project = p.project.clone();
    let found = call(&st, move |s| s.images_by_ids(&project, &ids)).await?;
    let uris = Uris::new(&st, &headers);
    let project = p.project.to_ascii_lowercase();
    ok(found
        .iter()
        .map(|i| uris.image(&project, i))
        .collect::<Vec<_>>())
}

async fn delete_images(
    State(st): State<Arc<AppState>>,
    Path(p): Path<ProjectPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let q = Params(q);
    let all = q.bool("allImages")?.unwrap_or(false);
    let ids = q.list("imageIds");
    if !all && ids.is_empty() {
        return Err(ApiError::coded(
            StatusCode::BAD_REQUEST,
            "BadRequestRequiredParamIsNull",
            "imageIds (or allImages=true) is required",
        ));
    }
    if ids.len() > MAX_TAKE as usize {
        return Err(bad("imageIds lists at most 256 images"));
    }
    call(&st, move |s| {
        s.delete_images(&p.project, (!all).then_some(ids.as_slice()))
    })
    .await?;
    no_content()
}

#[derive(Deserialize)]
struct ImageTagBatch {
    tags: Vec<ImageTagEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageTagEntry {
    image_id: String,
    tag_id: String,
}

async fn create_image_tags(
    State(st): State<Arc<AppState>>,
    Path(p): Path<ProjectPath>,
    body: Bytes,
) -> Answer {
    let b: ImageTagBatch = json_body(&body, "ImageTagCreateBatch")?;
    let pairs: Vec<(String, String)> = b.tags.into_iter().map(|t| (t.image_id, t.tag_id)).collect();
    let (created, duplicated, exceeded) =
        call(&st, move |s| s.add_image_tags(&p.project, &pairs)).await?;
    let entries = |v: Vec<(String, String)>| -> Vec<Value> {
        v.into_iter()
            .map(|(i, t)| json!({"imageId": i, "tagId": t}))
            .collect()
    };
    ok(json!({
        "created": entries(created),
        "duplicated": entries(duplicated),
        "exceeded": entries(exceeded),
    }))
}

async fn delete_image_tags(
    State(st): State<Arc<AppState>>,
    Path(p): Path<ProjectPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let q = Params(q);
    let images = q.list("imageIds");
    let tags = q.list("tagIds");
    if images.is_empty() || tags.is_empty() {
        return Err(ApiError::coded(
            StatusCode::BAD_REQUEST,
            "BadRequestRequiredParamIsNull",
            "imageIds and tagIds are required",
        ));
    }
    call(&st, move |s| {
        s.remove_image_tags(&p.project, &images, &tags)
    })
    .await?;
    no_content()
}

// ---- uploads ----

/// Custom Vision's `ImageCreateSummary`: 200 when every image went in, 207 otherwise.
fn summary(
    st: &AppState,
    headers: &HeaderMap,
    project: &str,
    results: Vec<CreateResult>,
) -> Answer {
    let uris = Uris::new(st, headers);
    let project = project.to_ascii_lowercase();
    let all_ok = results.iter().all(|r| r.status.is_ok());
    let images: Vec<Value> = results
        .iter()
        .map(|r| {
            json!({
                "sourceUrl": r.source,
                "status": r.status,
                "image": r.image.as_ref().map(|i| uris.image(&project, i)),
                "kaoReason": r.reason,
            })
        })
        .collect();
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    Ok((
        status,
        Json(json!({"isBatchSuccessful": all_ok, "images": images})),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileBatch {
    #[serde(default)]
    images: Vec<FileEntry>,
    #[serde(default)]
    tag_ids: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileEntry {
    name: Option<String>,
    #[serde(default)]
    contents: String,
    #[serde(default)]
    tag_ids: Option<Vec<String>>,
}

async fn images_files(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(p): Path<ProjectPath>,
    body: Bytes,
) -> Answer {
    let b: FileBatch = json_body(&body, "ImageFileCreateBatch")?;
    drop(body);
    let images: Vec<NewImage> = b
        .images
        .into_iter()
        .enumerate()
        .map(|(i, e)| NewImage {
            source: e.name.unwrap_or_else(|| format!("image {}", i + 1)),
            bytes: base64::engine::general_purpose::STANDARD
                .decode(e.contents.trim())
                .map_err(|err| {
                    (
                        CreateStatus::ErrorImageFormat,
                        format!("contents is not base64: {err}"),
                    )
                }),
            tag_ids: e.tag_ids.unwrap_or_default(),
        })
        .collect();
    let batch = b.tag_ids.unwrap_or_default();
    let project = p.project.clone();
    let results = call(&st, move |s| s.add_images(&project, images, &batch)).await?;
    summary(&st, &headers, &p.project, results)
}

async fn images_data(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(p): Path<ProjectPath>,
    Query(q): Query<Vec<(String, String)>>,
    req: Request,
) -> Answer {
    let tags = Params(q).list("tagIds");
    let is_multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"));
    let mut images = Vec::new();
    if is_multipart {
        let mut form = Multipart::from_request(req, &st)
            .await
            .map_err(|e| bad(e.body_text()))?;
        while let Some(field) = form.next_field().await.map_err(|e| bad(e.body_text()))? {
            let name = field
                .file_name()
                .or(field.name())
                .unwrap_or("imageData")
                .to_string();
            let bytes = field.bytes().await.map_err(|e| bad(e.body_text()))?;
            images.push(NewImage {
                source: name,
                bytes: Ok(bytes.to_vec()),
                tag_ids: Vec::new(),
            });
            if images.len() > kao_projects::MAX_BATCH_IMAGES {
                break;
            }
        }
    } else {
        let bytes = Bytes::from_request(req, &st)
            .await
            .map_err(|e| bad(e.body_text()))?;
        images.push(NewImage {
            source: "imageData".into(),
            bytes: Ok(bytes.to_vec()),
            tag_ids: Vec::new(),
        });
    }
    let project = p.project.clone();
    let results = call(&st, move |s| s.add_images(&project, images, &tags)).await?;
    summary(&st, &headers, &p.project, results)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UrlBatch {
    #[serde(default)]
    images: Vec<UrlEntry>,
    #[serde(default)]
    tag_ids: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UrlEntry {
    url: String,
    #[serde(default)]
    tag_ids: Option<Vec<String>>,
}

async fn images_urls(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(p): Path<ProjectPath>,
    body: Bytes,
) -> Answer {
    let b: UrlBatch = json_body(&body, "ImageUrlCreateBatch")?;
    if b.images.len() > kao_projects::MAX_BATCH_IMAGES {
        return Err(ApiError::coded(
            StatusCode::BAD_REQUEST,
            "BadRequestImageBatch",
            format!(
                "A batch holds at most {} images; this one has {}",
                kao_projects::MAX_BATCH_IMAGES,
                b.images.len()
            ),
        ));
    }
    let fetches = b.images.into_iter().map(|e| {
        let st = Arc::clone(&st);
        async move {
            let bytes = match &st.fetcher {
                None => Err((
                    CreateStatus::ErrorSource,
                    "fetching image URLs is disabled on this server (start it with --allow-url-fetch)"
                        .to_string(),
                )),
                Some(f) => f.fetch(&e.url).await.map_err(|err| {
                    let status = if err.code == "BadRequestImageSizeBytes" {
                        CreateStatus::ErrorImageSize
                    } else {
                        CreateStatus::ErrorSource
                    };
                    (status, err.message)
                }),
            };
            NewImage {
                source: e.url,
                bytes,
                tag_ids: e.tag_ids.unwrap_or_default(),
            }
        }
    });
    let images = futures_util::future::join_all(fetches).await;
    let batch = b.tag_ids.unwrap_or_default();
    let project = p.project.clone();
    let results = call(&st, move |s| s.add_images(&project, images, &batch)).await?;
    summary(&st, &headers, &p.project, results)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdBatch {
    #[serde(default)]
    images: Vec<IdEntry>,
    #[serde(default)]
    tag_ids: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdEntry {
    id: String,
    #[serde(default)]
    tag_ids: Option<Vec<String>>,
}

async fn images_predictions(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(p): Path<ProjectPath>,
    body: Bytes,
) -> Answer {
    let b: IdBatch = json_body(&body, "ImageIdCreateBatch")?;
    let entries: Vec<(String, Vec<String>)> = b
        .images
        .into_iter()
        .map(|e| (e.id, e.tag_ids.unwrap_or_default()))
        .collect();
    let batch = b.tag_ids.unwrap_or_default();
    let project = p.project.clone();
    let results = call(&st, move |s| {
        s.add_images_from_predictions(&project, &entries, &batch)
    })
    .await?;
    summary(&st, &headers, &p.project, results)
}

#[derive(Deserialize)]
struct ImagePath {
    #[allow(dead_code)]
    version: String,
    project: String,
    image: String,
}

/// Kao: what the crop stage made of an image — face boxes, chips, or why it was rejected.
async fn image_faces(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(p): Path<ImagePath>,
) -> Answer {
    let project = p.project.to_ascii_lowercase();
    let faces = call(&st, move |s| s.image_faces(&p.project, &p.image)).await?;
    let uris = Uris::new(&st, &headers);
    let mut v = serde_json::to_value(&faces).map_err(|e| ApiError::internal(e.to_string()))?;
    // Kao: each chip's signed URI (the 150 px image the descriptor is computed from).
    for (face, out) in faces
        .faces
        .iter()
        .zip(v["faces"].as_array_mut().into_iter().flatten())
    {
        let id = format!("{}_{}", faces.image_id, face.face_index);
        out["chipUri"] = json!(uris.file(&project, "chips", &id, "original"));
    }
    ok(v)
}

// ---- training and iterations ----

async fn train(
    State(st): State<Arc<AppState>>,
    Path(p): Path<ProjectPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let q = Params(q);
    if q.get("trainingType")
        .is_some_and(|t| !t.eq_ignore_ascii_case("regular"))
    {
        return Err(ApiError::coded(
            StatusCode::BAD_REQUEST,
            "BadRequestNotSupported",
            "Kao trains one way (trainingType Regular); Advanced training is not supported",
        ));
    }
    let force = q.bool("forceTrain")?.unwrap_or(false);
    ok(call(&st, move |s| s.train(&p.project, force)).await?)
}

#[derive(Deserialize)]
struct IterationPath {
    #[allow(dead_code)]
    version: String,
    project: String,
    iteration: String,
}

async fn iterations(State(st): State<Arc<AppState>>, Path(p): Path<ProjectPath>) -> Answer {
    ok(call(&st, move |s| s.iterations(&p.project)).await?)
}

async fn iteration(State(st): State<Arc<AppState>>, Path(p): Path<IterationPath>) -> Answer {
    ok(call(&st, move |s| s.iteration(&p.project, &p.iteration)).await?)
}

#[derive(Deserialize)]
struct IterationBody {
    name: Option<String>,
}

async fn update_iteration(
    State(st): State<Arc<AppState>>,
    Path(p): Path<IterationPath>,
    body: Bytes,
) -> Answer {
    let b: IterationBody = json_body(&body, "Iteration")?;
    let name = b.name.unwrap_or_default();
    ok(call(&st, move |s| {
        s.rename_iteration(&p.project, &p.iteration, &name)
    })
    .await?)
}

async fn delete_iteration(State(st): State<Arc<AppState>>, Path(p): Path<IterationPath>) -> Answer {
    call(&st, move |s| s.delete_iteration(&p.project, &p.iteration)).await?;
    no_content()
}

async fn performance(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(p): Path<IterationPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let threshold = Params(q).number::<f64>("threshold")?;
    let project = p.project.to_ascii_lowercase();
    let perf = call(&st, move |s| {
        s.performance(&p.project, &p.iteration, threshold)
    })
    .await?;
    let uris = Uris::new(&st, &headers);
    let mut v = serde_json::to_value(&perf).map_err(|e| ApiError::internal(e.to_string()))?;
    // Kao: the misclassified faces' chips and photos by signed URI.
    for (m, out) in perf
        .misclassified
        .iter()
        .zip(v["misclassified"].as_array_mut().into_iter().flatten())
    {
        if let Some(image) = &m.image_id {
            let chip = format!("{image}_{}", m.face_index);
            out["chipUri"] = json!(uris.file(&project, "chips", &chip, "original"));
            out["thumbnailUri"] = json!(uris.file(&project, "images", image, "thumbnail"));
        }
    }
    ok(v)
}

async fn performance_images(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(p): Path<IterationPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let q = image_query(&Params(q), Tagging::All)?;
    let project = p.project.clone();
    let (found, _) = call(&st, move |s| {
        s.image_performances(
            &project,
            &p.iteration,
            &q.tag_ids,
            q.skip as usize,
            q.take as usize,
        )
    })
    .await?;
    let uris = Uris::new(&st, &headers);
    let project = p.project.to_ascii_lowercase();
    ok(found
        .iter()
        .map(|ip| {
            let mut v = uris.image(&project, &ip.image);
            v["imageUri"] = v["originalImageUri"].clone();
            v["predictions"] = ip
                .predictions
                .iter()
                .map(|(id, name, p)| json!({"probability": p, "tagId": id, "tagName": name}))
                .collect();
            v
        })
        .collect::<Vec<_>>())
}

async fn performance_images_count(
    State(st): State<Arc<AppState>>,
    Path(p): Path<IterationPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let tags = Params(q).list("tagIds");
    let (_, total) = call(&st, move |s| {
        s.image_performances(&p.project, &p.iteration, &tags, 0, 0)
    })
    .await?;
    ok(total)
}

async fn publish(
    State(st): State<Arc<AppState>>,
    Path(p): Path<IterationPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let q = Params(q);
    let name = q.required("publishName")?.to_string();
    let prediction = q.get("predictionId").unwrap_or_default().to_string();
    let project = p.project.clone();
    call(&st, move |s| {
        s.publish(&p.project, &p.iteration, &name, &prediction)
    })
    .await?;
    refresh(&st, &project).await;
    ok(true)
}

async fn unpublish(State(st): State<Arc<AppState>>, Path(p): Path<IterationPath>) -> Answer {
    let project = p.project.clone();
    call(&st, move |s| s.unpublish(&p.project, &p.iteration)).await?;
    refresh(&st, &project).await;
    no_content()
}

/// Makes the prediction routes see a publish or unpublish at once.
async fn refresh(st: &AppState, project: &str) {
    match st.projects.live(project).await {
        Ok(Some(live)) => {
            if let Err(e) = live.refresh().await {
                tracing::warn!(error = %e, "reloading published iterations failed");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "loading the project's published iterations failed"),
    }
}

async fn exports(State(st): State<Arc<AppState>>, Path(p): Path<IterationPath>) -> Answer {
    call(&st, move |s| s.iteration(&p.project, &p.iteration)).await?;
    ok(Vec::<Value>::new())
}

async fn export(
    State(st): State<Arc<AppState>>,
    Path(p): Path<IterationPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let q = Params(q);
    let platform = q.required("platform")?.to_string();
    call(&st, move |s| s.trained_number(&p.project, &p.iteration)).await?;
    Err(ApiError::coded(
        StatusCode::BAD_REQUEST,
        "BadRequestNotSupported",
        format!(
            "Export to {platform} is not supported: Kao exports no platform yet (Custom Vision's \
             CoreML, TensorFlow, DockerFile, ONNX, VAIDK and OpenVino are not available); \
             serve the iteration with `kao serve` instead"
        ),
    ))
}

// ---- quick test and stored predictions ----

async fn quick_test(
    st: Arc<AppState>,
    headers: HeaderMap,
    project: String,
    q: Params,
    bytes: Vec<u8>,
) -> Answer {
    let iteration = q.get("iterationId").map(str::to_string);
    let store_param = q.bool("store")?;
    let p = project.clone();
    let (predictor, iteration_id, keep) = call(&st, move |s| {
        let id = match iteration {
            Some(id) => id,
            None => s
                .iterations(&p)?
                .into_iter()
                .find(|i| i.status == "Completed")
                .map(|i| i.id)
                .ok_or_else(|| {
                    kao_projects::ProjectError::not_found_iteration("(latest trained)")
                })?,
        };
        let (project, n) = s.trained_number(&p, &id)?;
        let keep = match store_param {
            Some(k) => k,
            None => s.project(&project)?.settings.store_predictions,
        };
        Ok((s.predictor(&project, n)?, id, keep))
    })
    .await?;
    let slot = st.slot().await?;
    let limits = kao_image::Limits {
        max_bytes: st.max_body as u64,
        ..kao_image::Limits::default()
    };
    let max_body = st.max_body;
    let kept = keep.then(|| bytes.clone());
    let (faces, width, height) = tokio::task::spawn_blocking(move || {
        slot.install(|| {
            let decoded = kao_image::decode(&bytes, &limits)
                .map_err(|e| crate::predict::decode_error(e, max_body))?;
            let (w, h) = decoded.image.dimensions();
            let faces = predictor
                .predict(&decoded.image)
                .map_err(|e| ApiError::internal(format!("prediction failed: {e}")))?;
            Ok::<_, ApiError>((faces, w, h))
        })
    })
    .await
    .map_err(|e| ApiError::internal(format!("prediction task failed: {e}")))??;
    let project = project.to_ascii_lowercase();
    let answer = response::build(
        &response::Context {
            project: &project,
            iteration: &iteration_id,
            width,
            height,
        },
        &faces,
    );
    if let Some(bytes) = kept {
        let value = serde_json::to_value(&answer).unwrap_or_default();
        call(&st, move |s| {
            s.store_prediction(&project, &iteration_id, &bytes, width, height, &value)
        })
        .await?;
    }
    let _ = headers;
    ok(answer)
}

async fn quick_test_image(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(p): Path<ProjectPath>,
    Query(q): Query<Vec<(String, String)>>,
    req: Request,
) -> Answer {
    let bytes = crate::predict::read_image(&st, req).await?;
    quick_test(st, headers, p.project, Params(q), bytes).await
}

async fn quick_test_url(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(p): Path<ProjectPath>,
    Query(q): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Answer {
    let url = crate::predict::url_field(&body)?;
    let Some(fetcher) = &st.fetcher else {
        return Err(ApiError::image_url(
            "fetching image URLs is disabled on this server (start it with --allow-url-fetch)",
        ));
    };
    let bytes = fetcher.fetch(&url).await?;
    quick_test(st.clone(), headers, p.project, Params(q), bytes).await
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PredictionQuery {
    continuation: Option<String>,
    max_count: Option<u64>,
    iteration_id: Option<String>,
}

async fn query_predictions(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(p): Path<ProjectPath>,
    body: Bytes,
) -> Answer {
    let q: PredictionQuery = if body.is_empty() {
        PredictionQuery::default()
    } else {
        json_body(&body, "PredictionQueryToken")?
    };
    let skip: u64 = q
        .continuation
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse()
                .map_err(|_| bad("continuation is not one this server gave"))
        })
        .transpose()?
        .unwrap_or(0);
    let take = q.max_count.unwrap_or(50).clamp(1, MAX_TAKE);
    let project = p.project.clone();
    let iteration = q.iteration_id.clone();
    let (rows, total) = call(&st, move |s| {
        s.predictions(&project, iteration.as_deref(), skip, take)
    })
    .await?;
    let uris = Uris::new(&st, &headers);
    let project = p.project.to_ascii_lowercase();
    let results: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "resizedImageUri": uris.file(&project, "predictions", &r.id, "resized"),
                "thumbnailUri": uris.file(&project, "predictions", &r.id, "thumbnail"),
                "originalImageUri": uris.file(&project, "predictions", &r.id, "original"),
                "domain": kao_projects::FACE_DOMAIN_ID,
                "id": r.id,
                "project": r.project,
                "iteration": r.iteration,
                "created": r.created,
                "predictions": r.result.get("predictions").cloned().unwrap_or(json!([])),
                "kaoFaces": r.result.get("faces").cloned().unwrap_or(json!([])),
            })
        })
        .collect();
    let next = skip + rows.len() as u64;
    ok(json!({
        "token": {
            "continuation": if next < total { next.to_string() } else { String::new() },
            "maxCount": take,
            "iterationId": q.iteration_id,
        },
        "results": results,
    }))
}

async fn delete_predictions(
    State(st): State<Arc<AppState>>,
    Path(p): Path<ProjectPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let ids = Params(q).list("ids");
    call(&st, move |s| s.delete_predictions(&p.project, &ids)).await?;
    no_content()
}

// ---- Kao: crawl jobs ----

#[derive(Deserialize)]
struct CrawlPath {
    #[allow(dead_code)]
    version: String,
    project: String,
    job: String,
}

async fn crawls(State(st): State<Arc<AppState>>, Path(p): Path<ProjectPath>) -> Answer {
    let project = call(&st, move |s| s.project(&p.project)).await?.id;
    ok(st.crawls.list(&project))
}

async fn crawl(State(st): State<Arc<AppState>>, Path(p): Path<CrawlPath>) -> Answer {
    let project = p.project.clone();
    let project = call(&st, move |s| s.project(&project)).await?.id;
    st.crawls.get(&project, &p.job).map_or_else(
        || {
            Err(ApiError::coded(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("no crawl job {}", p.job),
            ))
        },
        ok,
    )
}

/// Kao: starts a crawl job that adds a tag's photos from the web; answers at once
/// (`202`) with the job, whose counts move as it runs (`GET …/crawls/{id}`).
async fn start_crawl(
    State(st): State<Arc<AppState>>,
    Path(p): Path<ProjectPath>,
    body: Bytes,
) -> Answer {
    let request: crate::crawls::CrawlRequest = json_body(&body, "crawl request")?;
    if st.fetcher.is_none() {
        return Err(ApiError::coded(
            StatusCode::BAD_REQUEST,
            "BadRequestNotSupported",
            "this server does not fetch from the web: start it with --allow-url-fetch to collect photos",
        ));
    }
    let tag_id = request.tag_id.clone();
    let project = p.project.clone();
    let (project, tag) = call(&st, move |s| {
        let tag = s.tag(&project, &tag_id)?;
        Ok((s.project(&project)?.id, tag))
    })
    .await?;
    let id = uuid::Uuid::new_v4().to_string();
    let store = store(&st)?;
    let staging = store
        .work_dir(&project)
        .root()
        .join("cache")
        .join("crawls")
        .join(&id);
    let source = request.source(&staging).map_err(bad)?;
    let job = crate::crawls::CrawlJob {
        id,
        project_id: project,
        tag_id: tag.id,
        tag_name: tag.name,
        request,
        status: "Running".into(),
        error: None,
        created: kao_infer::now_rfc3339(),
        finished: None,
        found: 0,
        settled: 0,
        pages: 0,
        kept: 0,
        duplicates: 0,
        rejected: Default::default(),
        added: 0,
        already_in_project: 0,
        not_added: Default::default(),
    };
    let allow_private = st.allow_private_urls;
    let options = kao_crawl::CrawlOptions {
        max_bytes: kao_projects::MAX_IMAGE_BYTES as u64,
        address_filter: Some(kao_crawl::AddressFilter::new(move |ip| {
            allow_private || !crate::fetch::is_internal(ip)
        })),
        ..kao_crawl::CrawlOptions::default()
    };
    let shown = st.crawls.start(store, job, source, staging, options);
    Ok((StatusCode::ACCEPTED, Json(shown)).into_response())
}

// ---- files ----

#[derive(Deserialize)]
struct FilePath {
    project: String,
    kind: String,
    id: String,
    size: String,
}

/// An image or stored prediction photo by signed URI: `original`, or a JPEG `thumbnail`
/// (at most 256 px a side) or `resized` (at most 1024), made once and cached.
async fn file(
    State(st): State<Arc<AppState>>,
    Path(p): Path<FilePath>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let expected = signature(&st.uri_secret, &p.project, &p.kind, &p.id, &p.size);
    let given = q.get("sig").map(String::as_str).unwrap_or_default();
    if st.training_keys.is_none() || !crate::auth::same_text(given, &expected) {
        return Err(ApiError::training_unauthorized());
    }
    let side = match p.size.as_str() {
        "original" => None,
        "thumbnail" => Some(THUMBNAIL_SIDE),
        "resized" => Some(1024),
        _ => return Err(ApiError::not_found()),
    };
    let (bytes, ext) = call(&st, move |s| s.file(&p.project, &p.kind, &p.id, side)).await?;
    let mime = match ext.as_str() {
        "png" => "image/png",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "webp" => "image/webp",
        _ => "image/jpeg",
    };
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "private, max-age=86400"),
        ],
        bytes,
    )
        .into_response())
}
