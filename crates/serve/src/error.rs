use std::net::SocketAddr;
use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error(transparent)]
    Infer(#[from] kao_infer::InferError),
    #[error(transparent)]
    Projects(#[from] kao_projects::ProjectError),
    #[error("URL fetch client: {0}")]
    Client(String),
    #[error("background task failed: {0}")]
    Task(String),
}

/// An error answer in Custom Vision's shape, `{"code","message"}`, so that clients written
/// for it branch on the same codes.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            code: self.code,
            message: &self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// An error of the project store, with its Custom Vision code and status.
    pub fn project(e: kao_projects::ProjectError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %e, "a Training API request failed");
        }
        Self::new(status, e.code(), e.to_string())
    }

    pub fn training_unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Access denied due to a missing or invalid Training-Key header",
        )
    }

    pub fn coded(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(status, code, message)
    }

    pub fn image_format(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequestImageFormat",
            format!("Bad Request Image Format: {detail}"),
        )
    }

    pub fn image_size(limit: usize) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequestImageSizeBytes",
            format!("Image size exceeds the limit of {limit} bytes"),
        )
    }

    pub fn image_dimensions(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequestImageDimensions",
            format!("Image dimensions are out of range: {detail}"),
        )
    }

    pub fn image_url(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequestImageUrl",
            format!("Bad Request Image Url: {detail}"),
        )
    }

    pub fn bad_request(detail: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", detail.to_string())
    }

    pub fn not_found_project(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFoundProject",
            format!("Project {id} not found"),
        )
    }

    pub fn not_found_iteration(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFoundIteration",
            format!("No iteration is published under the name {name:?}"),
        )
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", "Resource not found")
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Access denied due to a missing or invalid Prediction-Key header",
        )
    }

    pub fn busy() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests are waiting; retry later",
        )
    }

    pub fn timeout() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Timeout",
            "The prediction did not finish within the server's time limit",
        )
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            detail.to_string(),
        )
    }
}
