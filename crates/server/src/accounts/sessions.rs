//! `/v1/me/sessions`: the customer's own sessions.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use rampart_protocol::{Problem, Session};
use sqlx::Row;
use uuid::Uuid;

use crate::audit::{self, Event, Outcome, Target};
use crate::auth::{Authenticated, sessions};
use crate::http::extract::{IdPath, NoContent, RequestMeta};
use crate::http::{ApiError, ApiResult};
use crate::state::AppState;

#[utoipa::path(
    get, path = "/v1/me/sessions", tag = "me",
    security(("bearer" = [])),
    responses((status = 200, description = "Active sessions, most recently seen first", body = [Session]))
)]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
) -> ApiResult<Json<Vec<Session>>> {
    let mut conn = state.db.acquire().await?;
    let key = super::data_key(&mut conn, &state.keys.ring(), claims.account_id).await?;
    let rows = sqlx::query(
        "SELECT id, device_ct, created_at, last_seen_at FROM sessions \
         WHERE account_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY last_seen_at DESC LIMIT 100",
    )
    .bind(claims.account_id)
    .bind(Utc::now())
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id: Uuid = row.try_get("id")?;
        let device_ct: Vec<u8> = row.try_get("device_ct")?;
        out.push(Session {
            id,
            device: key.open_string(sessions::device_field(&id), &device_ct)?,
            created_at: row.try_get::<DateTime<Utc>, _>("created_at")?,
            last_seen_at: row.try_get::<DateTime<Utc>, _>("last_seen_at")?,
            current: id == claims.session_id,
        });
    }
    Ok(Json(out))
}

async fn revoke_audited(
    state: &AppState,
    account_id: Uuid,
    meta: &RequestMeta,
    action: &'static str,
    target: Target,
    revoke: impl AsyncFnOnce(&mut sqlx::MySqlConnection) -> sqlx::Result<bool>,
) -> ApiResult<NoContent> {
    let ring = state.keys.ring();
    let mut tx = state.db.begin().await?;
    if !revoke(&mut tx).await? {
        return Err(ApiError::not_found());
    }
    let key = super::data_key(&mut tx, &ring, account_id).await?;
    let event = Event::by_customer(account_id, action, target, Outcome::Success, meta, &key);
    audit::record(&mut tx, &ring, event).await?;
    tx.commit().await?;
    Ok(NoContent)
}

#[utoipa::path(
    delete, path = "/v1/me/sessions/{id}", tag = "me",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 204, description = "The session has ended"),
        (status = 404, description = "No such active session of yours", body = Problem),
    )
)]
pub async fn revoke_one(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    meta: RequestMeta,
    IdPath(id): IdPath,
) -> ApiResult<NoContent> {
    let account = claims.account_id;
    revoke_audited(
        &state,
        account,
        &meta,
        "session.revoke",
        Target::session(id),
        async |conn| sessions::revoke(conn, account, id, "revoked_by_user").await,
    )
    .await
}

#[utoipa::path(
    delete, path = "/v1/me/sessions", tag = "me",
    security(("bearer" = [])),
    responses((status = 204, description = "Every other session has ended; this one goes on"))
)]
pub async fn revoke_others(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    meta: RequestMeta,
) -> ApiResult<NoContent> {
    let account = claims.account_id;
    let keep = claims.session_id;
    revoke_audited(
        &state,
        account,
        &meta,
        "session.revoke_others",
        Target::account(account),
        async |conn| {
            sessions::revoke_all(conn, account, Some(keep), "signed_out_everywhere")
                .await
                .map(|_| true)
        },
    )
    .await
}
