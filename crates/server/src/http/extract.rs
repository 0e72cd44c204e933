//! Extractors that turn a request into typed values, with every rejection
//! sent through `ApiError` so that malformed input gets the same problem
//! envelope as everything else.

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rampart_protocol::{FieldProblem, INVALID_MESSAGES};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::ApiError;
use super::client_addr::ClientAddr;
use super::middleware::current_request_id;

/// A JSON body parsed into `T`. Wrong content type is 415, malformed JSON
/// 400, a body that parses but breaks a rule 422 with a pointer per field.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection: BytesRejection| ApiError::from_status(rejection.status()))?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON body, describing a failure without echoing the input.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde would also fill a struct from a JSON array, by position; every
    // request body of this API is an object, so anything else is refused.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "The body must be a JSON object",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize(&mut deserializer);
    if let Ok(value) = parsed {
        return match deserializer.end() {
            Ok(()) => Ok(value),
            // Trailing bytes after the JSON value.
            Err(_) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "The body is not valid JSON",
            )),
        };
    }
    parsed.map_err(|error| {
        let inner = error.inner();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "The body is not valid JSON",
            );
        }
        let mut pointer = json_pointer(error.path());
        let message = inner.to_string();
        let detail = if let Some(field) = between_backticks(&message, "missing field `") {
            pointer = format!("{}/{}", pointer.trim_end_matches('/'), field);
            "is required"
        } else if message.starts_with("unknown field") {
            // A field this request does not take (`role`, or `email` in a
            // profile update) is a malformed request, not a bad value.
            let mut error = ApiError::validation(vec![FieldProblem {
                pointer,
                detail: "is not a field of this request".to_owned(),
            }]);
            error.status_and_slug(
                StatusCode::BAD_REQUEST,
                "unknown-field",
                "The body has a field this request does not take",
            );
            return error;
        } else if let Some(known) = INVALID_MESSAGES.iter().find(|m| message.starts_with(**m)) {
            known
        } else {
            "has the wrong type"
        };
        ApiError::validation(vec![FieldProblem {
            pointer,
            detail: detail.to_owned(),
        }])
    })
}

fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        pointer.push('/');
        match segment {
            Segment::Seq { index } => pointer.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Unknown => pointer.push('?'),
        }
    }
    pointer
}

/// The field name in serde's "missing field `name`" message: our own
/// schema's name, never client input.
fn between_backticks<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix)?.split('`').next()
}

/// A UUID from the path; anything else is 404 (it names no record).
pub struct IdPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::not_found())?;
        Uuid::try_parse(&raw)
            .map(IdPath)
            .map_err(|_| ApiError::not_found())
    }
}

/// Facts about the request that the audit trail records.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub client: ClientAddr,
    pub request_id: String,
    pub user_agent: String,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let client = ClientAddr::from_request_parts(parts, state).await?;
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown")
            .chars()
            .take(200)
            .collect();
        Ok(Self {
            client,
            request_id: current_request_id(),
            user_agent,
        })
    }
}

/// 204 No Content.
pub struct NoContent;

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        StatusCode::NO_CONTENT.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_protocol::UpdateProfileRequest;

    fn problem(body: &str) -> (StatusCode, Vec<FieldProblem>) {
        match parse_json::<UpdateProfileRequest>(body.as_bytes()) {
            Ok(_) => (StatusCode::OK, vec![]),
            Err(e) => (e.status(), Vec::new()),
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert_eq!(problem(r#"{"role":"admin"}"#).0, StatusCode::BAD_REQUEST);
        assert_eq!(
            problem(r#"{"full_name":"Ada","role":"admin"}"#).0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(problem(r#"{"full_name":"Ada"}"#).0, StatusCode::OK);
    }

    #[test]
    fn arrays_are_not_taken_for_objects() {
        assert_eq!(
            problem(r#"["Positional Name", null]"#).0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(problem(r#" []"#).0, StatusCode::BAD_REQUEST);
        assert_eq!(problem(r#""text""#).0, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        assert_eq!(problem(r#"{"full_name":"#).0, StatusCode::BAD_REQUEST);
        assert_eq!(problem(r#"{} trailing"#).0, StatusCode::BAD_REQUEST);
    }
}
