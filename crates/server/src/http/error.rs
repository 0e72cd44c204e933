//! The one error type of the API. Every failure becomes an RFC 9457 problem
//! (`application/problem+json`) with a stable `type`, a safe title and the
//! request id. The cause of an internal error goes to the log, never to the
//! client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rampart_protocol::{FieldProblem, Problem};

use super::middleware::current_request_id;

/// Problem types are `PROBLEM_BASE` + a slug; the slugs are part of the API.
pub const PROBLEM_BASE: &str = "https://rampart.example/problems/";

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: Option<String>,
    errors: Vec<FieldProblem>,
    retry_after: Option<u64>,
    /// What went wrong inside; logged, never sent.
    source: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(status: StatusCode, slug: &'static str, title: &'static str) -> Self {
        Self {
            status,
            slug,
            title,
            detail: None,
            errors: Vec::new(),
            retry_after: None,
            source: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "Something went wrong on our side",
        );
        error.source = Some(source.into());
        error
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "A valid access token is required",
        )
    }

    pub fn invalid_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid-credentials",
            "The e-mail address or the password is wrong",
        )
    }

    pub fn invalid_token() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-token",
            "The link or token is invalid, used or expired",
        )
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "There is nothing here")
    }

    pub fn validation(errors: Vec<FieldProblem>) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
            "Some fields are invalid",
        );
        error.errors = errors;
        error
    }

    pub fn field(pointer: &str, detail: impl Into<String>) -> Self {
        Self::validation(vec![FieldProblem {
            pointer: pointer.to_owned(),
            detail: detail.into(),
        }])
    }

    pub fn overloaded(retry_after_secs: u64) -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "The server is busy; try again shortly",
        );
        error.retry_after = Some(retry_after_secs);
        error
    }

    /// The generic problem for a status the router or a middleware produced.
    pub fn from_status(status: StatusCode) -> Self {
        let (slug, title) = match status {
            StatusCode::NOT_FOUND => ("not-found", "There is nothing here"),
            StatusCode::METHOD_NOT_ALLOWED => {
                ("method-not-allowed", "This method is not allowed here")
            }
            StatusCode::PAYLOAD_TOO_LARGE => ("payload-too-large", "The request body is too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported-media-type",
                "The body must be application/json",
            ),
            StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => {
                ("unavailable", "The request could not be completed in time")
            }
            status if status.is_server_error() => {
                ("internal-error", "Something went wrong on our side")
            }
            _ => ("bad-request", "The request is invalid"),
        };
        Self::new(status, slug, title)
    }

    /// Re-labels a problem (keeping its field errors).
    pub fn status_and_slug(&mut self, status: StatusCode, slug: &'static str, title: &'static str) {
        self.status = status;
        self.slug = slug;
        self.title = title;
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn slug(&self) -> &'static str {
        self.slug
    }
}

impl<E: Into<anyhow::Error>> From<E> for ApiError {
    fn from(source: E) -> Self {
        Self::internal(source)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(source) = &self.source {
            // `{:#}` prints the cause chain on one line, for the JSON log.
            tracing::error!(error = format!("{source:#}"), "request failed");
        }
        let body = Problem {
            kind: format!("{PROBLEM_BASE}{}", self.slug),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            request_id: current_request_id(),
            errors: self.errors,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
