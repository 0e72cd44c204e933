//! Public endpoints outside `/v1`: the JWKS, health, readiness and the
//! OpenAPI document.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use serde_json::{Value, json};
use utoipa::OpenApi as _;

use crate::http::{ApiError, ApiResult};
use crate::openapi::ApiDoc;
use crate::state::AppState;

/// The public keys whose tokens may still be valid, including a new key
/// waiting to become active.
pub async fn jwks(State(state): State<AppState>) -> Json<Value> {
    let ring = state.keys.ring();
    let keys: Vec<Value> = ring
        .published_signing(Utc::now(), state.tokens.ttl())
        .map(|key| {
            json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": key.kid,
                "x": key.public_x,
            })
        })
        .collect();
    Json(json!({ "keys": keys }))
}

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let ping = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.db);
    match tokio::time::timeout(Duration::from_secs(2), ping).await {
        Ok(Ok(_)) => Ok(Json(json!({ "status": "ready" }))),
        Ok(Err(error)) => {
            tracing::warn!(error = %error, "readiness: database unreachable");
            Err(ApiError::from_status(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
            ))
        }
        Err(_) => {
            tracing::warn!("readiness: database did not answer within 2 s");
            Err(ApiError::from_status(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
            ))
        }
    }
}

pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
