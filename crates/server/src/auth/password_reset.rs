//! Forgotten, reset and changed passwords.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use rampart_protocol::{
    Accepted, ChangePasswordRequest, ForgotPasswordRequest, Problem, ResetPasswordRequest,
};
use sqlx::Row;

use super::register::{consume_email_token, new_email_token};
use super::{Authenticated, hash_error, sessions, strength};
use crate::accounts::{self, email};
use crate::audit::{self, Actor, Event, Outcome, Sealer, Target};
use crate::crypto::token_hash;
use crate::http::extract::{ApiJson, NoContent, RequestMeta};
use crate::http::{ApiError, ApiResult};
use crate::state::AppState;

pub const RESET_PURPOSE: &str = "password_reset";
pub const RESET_LIFETIME: Duration = Duration::minutes(30);

/// Retires every reset link of the account still out there: once the
/// password changed, an older leaked link must not change it again.
async fn retire_reset_links(
    conn: &mut sqlx::MySqlConnection,
    account_id: uuid::Uuid,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE email_tokens SET used_at = ? WHERE account_id = ? AND purpose = ? AND used_at IS NULL",
    )
    .bind(Utc::now())
    .bind(account_id)
    .bind(RESET_PURPOSE)
    .execute(conn)
    .await?;
    Ok(())
}

#[utoipa::path(
    post, path = "/v1/auth/password/forgot", tag = "auth",
    request_body = ForgotPasswordRequest,
    responses((status = 202, description = "The same answer whether or not the address has an account", body = Accepted))
)]
pub async fn forgot(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(request): ApiJson<ForgotPasswordRequest>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    // The answer goes out before the lookup: a known address costs a token
    // insert that an unknown one does not, and that difference must not show
    // in the response time. The work carries on in the request's span.
    let span = tracing::Span::current();
    let background = state.background.clone();
    background.spawn(tracing::Instrument::instrument(
        async move {
            if let Err(error) = send_reset_link(&state, &meta, &request.email).await {
                tracing::error!(error = format!("{error:#}"), "forgot-password failed");
            }
        },
        span,
    ));
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            message: "If an account uses this address, we sent it a link to reset the password."
                .to_owned(),
        }),
    ))
}

async fn send_reset_link(
    state: &AppState,
    meta: &RequestMeta,
    email: &rampart_protocol::Email,
) -> anyhow::Result<()> {
    let ring = state.keys.ring();
    let bidx = email::blind_index(&ring, email);
    let mut tx = state.db.begin().await?;
    let account = accounts::find_by_email_index(&mut tx, &bidx).await?;
    let Some(account) = account else {
        let event = Event {
            actor: Actor::Anonymous,
            action: "auth.password_forgot",
            target: Some(Target::unknown_email(bidx)),
            outcome: Outcome::Failure,
            meta,
            sealer: Sealer::AuditTrail,
        };
        audit::record(&mut tx, &ring, event).await?;
        tx.commit().await?;
        return Ok(());
    };
    let key = account.data_key(&ring)?;
    let token = new_email_token(&mut tx, account.id, RESET_PURPOSE, RESET_LIFETIME).await?;
    let event = Event {
        actor: Actor::Anonymous,
        action: "auth.password_forgot",
        target: Some(Target::account(account.id)),
        outcome: Outcome::Success,
        meta,
        sealer: Sealer::Customer(&key),
    };
    audit::record(&mut tx, &ring, event).await?;
    tx.commit().await?;
    state.mailer.reset_password(&account.email(&key)?, &token);
    Ok(())
}

#[utoipa::path(
    post, path = "/v1/auth/password/reset", tag = "auth",
    request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "Password replaced; every session of the account has ended"),
        (status = 400, description = "Unknown, used or expired token (`invalid-token`)", body = Problem),
        (status = 422, description = "The new password is too weak", body = Problem),
    )
)]
pub async fn reset(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(request): ApiJson<ResetPasswordRequest>,
) -> ApiResult<NoContent> {
    let ring = state.keys.ring();
    // Look the token up before hashing, so that junk tokens cost no hash.
    let account_id: uuid::Uuid = {
        let row = sqlx::query(
            "SELECT account_id FROM email_tokens \
             WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?",
        )
        .bind(token_hash(request.token.as_str()).as_slice())
        .bind(RESET_PURPOSE)
        .bind(Utc::now())
        .fetch_optional(&state.db)
        .await?;
        row.ok_or_else(ApiError::invalid_token)?
            .try_get("account_id")?
    };
    let account = {
        let mut conn = state.db.acquire().await?;
        accounts::find_by_id(&mut conn, account_id)
            .await?
            .ok_or_else(ApiError::invalid_token)?
    };
    let key = account.data_key(&ring)?;
    let (email, name) = (account.email(&key)?, account.full_name(&key)?);
    strength::check(&request.new_password, &[&email, &name])
        .map_err(|why| ApiError::field("/new_password", why))?;
    let phc = state
        .hasher
        .hash(request.new_password.expose())
        .await
        .map_err(hash_error)?;

    let mut tx = state.db.begin().await?;
    if consume_email_token(&mut tx, request.token.as_str(), RESET_PURPOSE).await?
        != Some(account_id)
    {
        return Err(ApiError::invalid_token());
    }
    // Following the link proves the address, so it counts as verified.
    sqlx::query(
        "UPDATE accounts SET password_hash = ?, email_verified_at = COALESCE(email_verified_at, ?), updated_at = ? \
         WHERE id = ?",
    )
    .bind(phc)
    .bind(Utc::now())
    .bind(Utc::now())
    .bind(account_id)
    .execute(&mut *tx)
    .await?;
    sessions::revoke_all(&mut tx, account_id, None, "password_reset").await?;
    retire_reset_links(&mut tx, account_id).await?;
    let event = Event::by_customer(
        account_id,
        "auth.password_reset",
        Target::account(account_id),
        Outcome::Success,
        &meta,
        &key,
    );
    audit::record(&mut tx, &ring, event).await?;
    tx.commit().await?;
    state.mailer.password_changed(&email);
    Ok(NoContent)
}

#[utoipa::path(
    post, path = "/v1/me/password", tag = "me",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Password changed; the other sessions have ended"),
        (status = 403, description = "The current password is wrong (`wrong-password`)", body = Problem),
        (status = 422, description = "The new password is too weak", body = Problem),
    )
)]
pub async fn change(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    meta: RequestMeta,
    ApiJson(request): ApiJson<ChangePasswordRequest>,
) -> ApiResult<NoContent> {
    let ring = state.keys.ring();
    let account = {
        let mut conn = state.db.acquire().await?;
        accounts::find_by_id(&mut conn, claims.account_id)
            .await?
            .ok_or_else(ApiError::unauthorized)?
    };
    let key = account.data_key(&ring)?;
    let verdict = state
        .hasher
        .verify(request.current_password.expose(), &account.password_hash)
        .await
        .map_err(hash_error)?;
    let event = |outcome| {
        Event::by_customer(
            account.id,
            "auth.password_change",
            Target::account(account.id),
            outcome,
            &meta,
            &key,
        )
    };
    if !verdict.matches {
        audit::record_alone(&state.db, &ring, event(Outcome::Failure)).await?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong-password",
            "The current password is wrong",
        ));
    }
    let (email, name) = (account.email(&key)?, account.full_name(&key)?);
    strength::check(&request.new_password, &[&email, &name])
        .map_err(|why| ApiError::field("/new_password", why))?;
    let phc = state
        .hasher
        .hash(request.new_password.expose())
        .await
        .map_err(hash_error)?;

    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE accounts SET password_hash = ?, updated_at = ? WHERE id = ?")
        .bind(phc)
        .bind(Utc::now())
        .bind(account.id)
        .execute(&mut *tx)
        .await?;
    sessions::revoke_all(
        &mut tx,
        account.id,
        Some(claims.session_id),
        "password_change",
    )
    .await?;
    retire_reset_links(&mut tx, account.id).await?;
    audit::record(&mut tx, &ring, event(Outcome::Success)).await?;
    tx.commit().await?;
    state.mailer.password_changed(&email);
    Ok(NoContent)
}
