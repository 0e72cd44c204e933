//! `POST /v1/auth/register` and `POST /v1/auth/verify-email`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use rampart_protocol::{Accepted, Problem, RegisterRequest, VerifyEmailRequest};
use sqlx::{MySqlConnection, Row};
use uuid::Uuid;

use super::{hash_error, strength};
use crate::accounts::{self, email};
use crate::audit::{self, Actor, Event, Outcome, Sealer, Target};
use crate::crypto::envelope::DataKey;
use crate::crypto::{new_token, token_hash};
use crate::http::extract::{ApiJson, RequestMeta};
use crate::http::{ApiError, ApiResult};
use crate::state::AppState;

pub const VERIFY_PURPOSE: &str = "verify_email";
pub const VERIFY_LIFETIME: Duration = Duration::hours(24);
/// Sign-in with an unverified address re-sends the link at most this often.
pub const VERIFY_RESEND_AFTER: Duration = Duration::minutes(10);

const REGISTER_ACCEPTED: &str =
    "If this address can be used, we sent a mail to it. Follow its link to continue.";

/// Creates a single-use e-mail token for `purpose`; returns the token.
pub async fn new_email_token(
    conn: &mut MySqlConnection,
    account_id: Uuid,
    purpose: &str,
    lifetime: Duration,
) -> anyhow::Result<String> {
    let (token, hash) = new_token()?;
    let now = Utc::now();
    sqlx::query(
        "INSERT INTO email_tokens (token_hash, account_id, purpose, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(hash.as_slice())
    .bind(account_id)
    .bind(purpose)
    .bind(now)
    .bind(now + lifetime)
    .execute(conn)
    .await?;
    Ok(token)
}

/// When the newest token of `purpose` was made for the account.
pub async fn last_email_token(
    conn: &mut MySqlConnection,
    account_id: Uuid,
    purpose: &str,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar(
        "SELECT MAX(created_at) FROM email_tokens WHERE account_id = ? AND purpose = ?",
    )
    .bind(account_id)
    .bind(purpose)
    .fetch_one(conn)
    .await
}

#[utoipa::path(
    post, path = "/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 202, description = "The same answer whether or not the address is taken", body = Accepted),
        (status = 422, description = "A field is invalid or the password too weak", body = Problem),
        (status = 503, description = "Too busy hashing passwords; retry", body = Problem),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    strength::check(
        &request.password,
        &[request.email.as_str(), request.full_name.as_str()],
    )
    .map_err(|why| ApiError::field("/password", why))?;
    // Hash before looking the address up, on both paths: a taken address
    // must cost the same time as a free one.
    let phc = state
        .hasher
        .hash(request.password.expose())
        .await
        .map_err(hash_error)?;
    let ring = state.keys.ring();
    let bidx = email::blind_index(&ring, &request.email);

    let mut tx = state.db.begin().await?;
    if let Some(existing) = accounts::find_by_email_index(&mut tx, &bidx).await? {
        let key = existing.data_key(&ring)?;
        let event = Event {
            actor: Actor::Anonymous,
            action: "account.register",
            target: Some(Target::account(existing.id)),
            outcome: Outcome::Denied,
            meta: &meta,
            sealer: Sealer::Customer(&key),
        };
        audit::record(&mut tx, &ring, event).await?;
        tx.commit().await?;
        state
            .mailer
            .someone_tried_to_register(&existing.email(&key)?);
        return Ok(accepted());
    }

    let id = Uuid::now_v7();
    let key = DataKey::generate()?;
    let (wrapping_kid, wrapped) = ring.wrap_data_key(&key)?;
    let now = Utc::now();
    sqlx::query(
        "INSERT INTO data_keys (id, wrapping_kid, wrapped_key, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(key.id)
    .bind(wrapping_kid)
    .bind(wrapped)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO accounts (id, email_bidx, email_ct, full_name_ct, password_hash, data_key_id, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(bidx.as_slice())
    .bind(key.seal_str(accounts::field("email", &id), request.email.as_str())?)
    .bind(key.seal_str(accounts::field("full_name", &id), request.full_name.as_str())?)
    .bind(&phc)
    .bind(key.id)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await;
    if let Err(sqlx::Error::Database(e)) = &inserted
        && e.is_unique_violation()
    {
        // A concurrent registration of the same address won the race; its
        // owner gets the mail. The answer stays the same.
        return Ok(accepted());
    }
    inserted?;
    let token = new_email_token(&mut tx, id, VERIFY_PURPOSE, VERIFY_LIFETIME).await?;
    let event = Event::by_customer(
        id,
        "account.register",
        Target::account(id),
        Outcome::Success,
        &meta,
        &key,
    );
    audit::record(&mut tx, &ring, event).await?;
    tx.commit().await?;
    state.mailer.verify_email(request.email.as_str(), &token);
    Ok(accepted())
}

fn accepted() -> (StatusCode, Json<Accepted>) {
    (
        StatusCode::ACCEPTED,
        Json(Accepted {
            message: REGISTER_ACCEPTED.to_owned(),
        }),
    )
}

/// Marks an unused, unexpired e-mail token used and returns its account.
/// The conditional UPDATE makes a token single-use even under races.
pub async fn consume_email_token(
    conn: &mut MySqlConnection,
    token: &str,
    purpose: &str,
) -> anyhow::Result<Option<Uuid>> {
    let hash = token_hash(token);
    let now = Utc::now();
    let row = sqlx::query(
        "SELECT account_id FROM email_tokens \
         WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ? FOR UPDATE",
    )
    .bind(hash.as_slice())
    .bind(purpose)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let used =
        sqlx::query("UPDATE email_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL")
            .bind(now)
            .bind(hash.as_slice())
            .execute(&mut *conn)
            .await?;
    if used.rows_affected() != 1 {
        return Ok(None);
    }
    Ok(Some(row.try_get("account_id")?))
}

#[utoipa::path(
    post, path = "/v1/auth/verify-email", tag = "auth",
    request_body = VerifyEmailRequest,
    responses(
        (status = 200, description = "The address is confirmed; the account can sign in", body = Accepted),
        (status = 400, description = "Unknown, used or expired token (`invalid-token`)", body = Problem),
    )
)]
pub async fn verify_email(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(request): ApiJson<VerifyEmailRequest>,
) -> ApiResult<Json<Accepted>> {
    let ring = state.keys.ring();
    let mut tx = state.db.begin().await?;
    let Some(account_id) =
        consume_email_token(&mut tx, request.token.as_str(), VERIFY_PURPOSE).await?
    else {
        return Err(ApiError::invalid_token());
    };
    sqlx::query(
        "UPDATE accounts SET email_verified_at = COALESCE(email_verified_at, ?) WHERE id = ?",
    )
    .bind(Utc::now())
    .bind(account_id)
    .execute(&mut *tx)
    .await?;
    let key = accounts::data_key(&mut tx, &ring, account_id).await?;
    let event = Event::by_customer(
        account_id,
        "account.verify_email",
        Target::account(account_id),
        Outcome::Success,
        &meta,
        &key,
    );
    audit::record(&mut tx, &ring, event).await?;
    tx.commit().await?;
    Ok(Json(Accepted {
        message: "Your e-mail address is confirmed. You can sign in now.".to_owned(),
    }))
}
