//! `GET` and `PATCH /v1/me`.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use rampart_protocol::{Problem, Profile, UpdateProfileRequest};
use sqlx::Row;

use super::{AccountRow, field};
use crate::audit::{self, Event, Outcome, Target};
use crate::auth::sessions::touch_if_stale;
use crate::auth::{Authenticated, BearerClaims};
use crate::crypto::envelope::DataKey;
use crate::http::extract::{ApiJson, RequestMeta};
use crate::http::{ApiError, ApiResult};
use crate::state::AppState;

fn profile(account: &AccountRow, key: &DataKey) -> anyhow::Result<Profile> {
    Ok(Profile {
        id: account.id,
        email: account.email(key)?,
        full_name: account.full_name(key)?,
        phone: account.phone(key)?,
        email_verified: account.email_verified_at.is_some(),
        created_at: account.created_at,
    })
}

#[utoipa::path(
    get, path = "/v1/me", tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's own profile", body = Profile),
        (status = 401, description = "No valid access token, or its session has ended", body = Problem),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    BearerClaims(claims): BearerClaims,
) -> ApiResult<Json<Profile>> {
    let now = Utc::now();
    let mut conn = state.db.acquire().await?;
    // The session check and the profile read in one round trip: this is the
    // hottest read of the API.
    let sql = concat!(
        "SELECT s.last_seen_at, ",
        crate::account_columns!(),
        " FROM sessions s \
         JOIN accounts a ON a.id = s.account_id \
         JOIN data_keys k ON k.id = a.data_key_id \
         WHERE s.id = ? AND s.account_id = ? AND s.revoked_at IS NULL AND s.expires_at > ?"
    );
    let row = sqlx::query(sql)
        .bind(claims.session_id)
        .bind(claims.account_id)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let account = AccountRow::from_row(&row)?;
    touch_if_stale(
        &mut conn,
        claims.session_id,
        row.try_get("last_seen_at")?,
        now,
    )
    .await?;
    let key = account.data_key(&state.keys.ring())?;
    Ok(Json(profile(&account, &key)?))
}

#[utoipa::path(
    patch, path = "/v1/me", tag = "me",
    security(("bearer" = [])),
    request_body = UpdateProfileRequest,
    responses(
        (status = 200, description = "The updated profile", body = Profile),
        (status = 422, description = "A field is invalid, or not one that can change here (such as `email`)", body = Problem),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    meta: RequestMeta,
    ApiJson(request): ApiJson<UpdateProfileRequest>,
) -> ApiResult<Json<Profile>> {
    let ring = state.keys.ring();
    let id = claims.account_id;
    let mut tx = state.db.begin().await?;
    let account = super::find_by_id(&mut tx, id)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let key = account.data_key(&ring)?;
    let full_name_ct = match &request.full_name {
        Some(name) => key.seal_str(field("full_name", &id), name.as_str())?,
        None => account.full_name_ct.clone(),
    };
    let phone_ct = match &request.phone {
        Some(Some(phone)) => Some(key.seal_str(field("phone", &id), phone.as_str())?),
        Some(None) => None,
        None => account.phone_ct.clone(),
    };
    sqlx::query("UPDATE accounts SET full_name_ct = ?, phone_ct = ?, updated_at = ? WHERE id = ?")
        .bind(&full_name_ct)
        .bind(&phone_ct)
        .bind(Utc::now())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let event = Event::by_customer(
        id,
        "profile.update",
        Target::account(id),
        Outcome::Success,
        &meta,
        &key,
    );
    audit::record(&mut tx, &ring, event).await?;
    tx.commit().await?;
    let updated = AccountRow {
        full_name_ct,
        phone_ct,
        ..account
    };
    Ok(Json(profile(&updated, &key)?))
}
