//! Authentication: registration, e-mail verification, sign-in, tokens,
//! sessions and passwords.

pub mod login;
pub mod password_reset;
pub mod passwords;
pub mod register;
pub mod sessions;
pub mod strength;
pub mod tokens;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::http::ApiError;
use crate::state::AppState;
pub use tokens::AccessClaims;

/// Maps the hashing pool's refusal to 503 + Retry-After.
pub fn hash_error(error: passwords::HashError) -> ApiError {
    match error {
        passwords::HashError::Busy => ApiError::overloaded(1),
        passwords::HashError::Failed(e) => ApiError::internal(e),
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// A verified access token whose session has NOT been checked yet. Only for
/// handlers that check the session in their own query (`GET /v1/me` does
/// it in the same round trip as the profile read); everything else takes
/// [`Authenticated`].
pub struct BearerClaims(pub AccessClaims);

impl FromRequestParts<AppState> for BearerClaims {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        state
            .tokens
            .verify(&state.keys.ring(), token)
            .map(BearerClaims)
            .ok_or_else(ApiError::unauthorized)
    }
}

/// A verified access token of a session that is still active: ended
/// sessions are refused on their next request, not at token expiry.
pub struct Authenticated(pub AccessClaims);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let BearerClaims(claims) = BearerClaims::from_request_parts(parts, state).await?;
        let mut conn = state.db.acquire().await?;
        if sessions::check_active(&mut conn, &claims).await? {
            Ok(Authenticated(claims))
        } else {
            Err(ApiError::unauthorized())
        }
    }
}
