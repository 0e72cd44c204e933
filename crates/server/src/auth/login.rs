//! `POST /v1/auth/login`, `/refresh` and `/logout`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use rampart_protocol::{LoginRequest, Problem, RefreshRequest, TokenResponse};
use sqlx::Row;
use uuid::Uuid;

use super::register::{
    VERIFY_LIFETIME, VERIFY_PURPOSE, VERIFY_RESEND_AFTER, last_email_token, new_email_token,
};
use super::{Authenticated, hash_error, sessions};
use crate::accounts::{self, email};
use crate::audit::{self, Actor, Event, Outcome, Sealer, Target};
use crate::crypto::token_hash;
use crate::http::extract::{ApiJson, NoContent, RequestMeta};
use crate::http::{ApiError, ApiResult};
use crate::state::AppState;

fn token_response(
    state: &AppState,
    account_id: Uuid,
    session_id: Uuid,
    refresh: String,
) -> ApiResult<Json<TokenResponse>> {
    let access = state
        .tokens
        .issue(&state.keys.ring(), account_id, session_id, Utc::now())
        .map_err(ApiError::internal)?;
    Ok(Json(TokenResponse {
        access_token: access,
        token_type: "Bearer".to_owned(),
        expires_in: state.tokens.ttl().as_secs(),
        refresh_token: refresh,
    }))
}

fn session_lifetime(state: &AppState) -> Duration {
    Duration::days(i64::try_from(state.config.session_ttl_days).unwrap_or(30))
}

#[utoipa::path(
    post, path = "/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Wrong e-mail or password (`invalid-credentials`), the same for both", body = Problem),
        (status = 403, description = "Right password, address not yet confirmed (`email-not-verified`)", body = Problem),
        (status = 503, description = "Too busy hashing passwords; retry", body = Problem),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(request): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let ring = state.keys.ring();
    let bidx = email::blind_index(&ring, &request.email);
    let account = {
        let mut conn = state.db.acquire().await?;
        accounts::find_by_email_index(&mut conn, &bidx).await?
    };

    let Some(account) = account else {
        // Same work as a wrong password: verify against the decoy hash.
        state
            .hasher
            .verify(request.password.expose(), &state.decoy_hash)
            .await
            .map_err(hash_error)?;
        let event = Event {
            actor: Actor::Anonymous,
            action: "auth.login",
            target: Some(Target::unknown_email(bidx)),
            outcome: Outcome::Failure,
            meta: &meta,
            sealer: Sealer::AuditTrail,
        };
        audit::record_alone(&state.db, &ring, event).await?;
        return Err(ApiError::invalid_credentials());
    };

    let verdict = state
        .hasher
        .verify(request.password.expose(), &account.password_hash)
        .await
        .map_err(hash_error)?;
    let key = account.data_key(&ring)?;
    let event = |outcome| {
        Event::by_customer(
            account.id,
            "auth.login",
            Target::account(account.id),
            outcome,
            &meta,
            &key,
        )
    };
    if !verdict.matches {
        audit::record_alone(&state.db, &ring, event(Outcome::Failure)).await?;
        return Err(ApiError::invalid_credentials());
    }

    if account.email_verified_at.is_none() {
        let mut tx = state.db.begin().await?;
        let last = last_email_token(&mut tx, account.id, VERIFY_PURPOSE).await?;
        let resend = last.is_none_or(|at| Utc::now() - at >= VERIFY_RESEND_AFTER);
        let token = if resend {
            Some(new_email_token(&mut tx, account.id, VERIFY_PURPOSE, VERIFY_LIFETIME).await?)
        } else {
            None
        };
        audit::record(&mut tx, &ring, event(Outcome::Denied)).await?;
        tx.commit().await?;
        if let Some(token) = token {
            state.mailer.verify_email(&account.email(&key)?, &token);
        }
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "email-not-verified",
            "Confirm your e-mail address first",
        )
        .with_detail(
            "We sent you a mail with a confirmation link; it may take a minute to arrive.",
        ));
    }

    // Parameters were raised since this hash was made: upgrade it now, while
    // the password is at hand (outside the transaction below).
    let upgraded = if verdict.needs_rehash {
        Some(
            state
                .hasher
                .hash(request.password.expose())
                .await
                .map_err(hash_error)?,
        )
    } else {
        None
    };

    let mut tx = state.db.begin().await?;
    if let Some(phc) = upgraded {
        sqlx::query("UPDATE accounts SET password_hash = ? WHERE id = ? AND password_hash = ?")
            .bind(phc)
            .bind(account.id)
            .bind(&account.password_hash)
            .execute(&mut *tx)
            .await?;
    }
    let (session_id, refresh) = sessions::create(
        &mut tx,
        account.id,
        &key,
        &meta.user_agent,
        session_lifetime(&state),
    )
    .await?;
    sessions::enforce_limit(&mut tx, account.id).await?;
    audit::record(&mut tx, &ring, event(Outcome::Success)).await?;
    tx.commit().await?;
    token_response(&state, account.id, session_id, refresh)
}

#[utoipa::path(
    post, path = "/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; the refresh token sent is now used up", body = TokenResponse),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token (`invalid-refresh-token`)", body = Problem),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let refused = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid-refresh-token",
            "The refresh token is invalid, expired or revoked; sign in again",
        )
    };
    let hash = token_hash(request.refresh_token.as_str());
    let now = Utc::now();
    let mut tx = state.db.begin().await?;
    // The row lock serializes concurrent uses of one token.
    let row = sqlx::query(
        "SELECT t.session_id, t.parent_hash, t.used_at, t.grace_used, s.account_id, s.revoked_at, \
         s.expires_at FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id \
         WHERE t.token_hash = ? FOR UPDATE",
    )
    .bind(hash.as_slice())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(refused());
    };
    let session_id: Uuid = row.try_get("session_id")?;
    let account_id: Uuid = row.try_get("account_id")?;
    let parent_hash: Option<Vec<u8>> = row.try_get("parent_hash")?;
    let used_at: Option<DateTime<Utc>> = row.try_get("used_at")?;
    let grace_used: bool = row.try_get("grace_used")?;
    let revoked_at: Option<DateTime<Utc>> = row.try_get("revoked_at")?;
    let expires_at: DateTime<Utc> = row.try_get("expires_at")?;
    if revoked_at.is_some() || expires_at <= now {
        return Err(refused());
    }

    if let Some(used_at) = used_at {
        let grace = Duration::seconds(i64::try_from(state.config.refresh_grace_secs).unwrap_or(0));
        let within_grace = !grace.is_zero() && !grace_used && now - used_at <= grace;
        if !within_grace {
            // A used token came back: it was stolen or the client is broken.
            // Either way the family is no longer trustworthy.
            sessions::revoke(&mut tx, account_id, session_id, "refresh_reuse").await?;
            let ring = state.keys.ring();
            let key = accounts::data_key(&mut tx, &ring, account_id).await?;
            let event = Event::by_customer(
                account_id,
                "auth.refresh_reuse",
                Target::session(session_id),
                Outcome::Denied,
                &meta,
                &key,
            );
            audit::record(&mut tx, &ring, event).await?;
            tx.commit().await?;
            tracing::warn!(%session_id, "refresh token reuse: session revoked");
            return Err(refused());
        }
        sqlx::query("UPDATE refresh_tokens SET grace_used = 1 WHERE token_hash = ?")
            .bind(hash.as_slice())
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query("UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ?")
            .bind(now)
            .bind(hash.as_slice())
            .execute(&mut *tx)
            .await?;
        // Siblings minted by a grace replay of the same parent are retired
        // without a grace of their own: one of them goes on, and presenting
        // another later is reuse. So a replay cannot fork the session into
        // two live chains.
        if let Some(parent) = &parent_hash {
            sqlx::query(
                "UPDATE refresh_tokens SET used_at = ?, grace_used = 1 \
                 WHERE parent_hash = ? AND session_id = ? AND used_at IS NULL",
            )
            .bind(now)
            .bind(parent)
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        }
    }
    let token =
        sessions::add_refresh_token(&mut tx, session_id, Some(hash.as_slice()), now).await?;
    sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE id = ?")
        .bind(now)
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    token_response(&state, account_id, session_id, token)
}

#[utoipa::path(
    post, path = "/v1/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "This session has ended"),
        (status = 401, description = "No valid access token", body = Problem),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    meta: RequestMeta,
) -> ApiResult<NoContent> {
    let ring = state.keys.ring();
    let mut tx = state.db.begin().await?;
    sessions::revoke(&mut tx, claims.account_id, claims.session_id, "logout").await?;
    let key = accounts::data_key(&mut tx, &ring, claims.account_id).await?;
    let event = Event::by_customer(
        claims.account_id,
        "auth.logout",
        Target::session(claims.session_id),
        Outcome::Success,
        &meta,
        &key,
    );
    audit::record(&mut tx, &ring, event).await?;
    tx.commit().await?;
    Ok(NoContent)
}
