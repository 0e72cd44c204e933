//! Sessions and their refresh tokens. A session is one refresh-token family:
//! every refresh replaces the token, and presenting a replaced one again
//! (outside the short grace window) ends the whole session.

use chrono::{DateTime, Duration, Utc};
use sqlx::{MySqlConnection, Row};
use uuid::Uuid;

use super::AccessClaims;
use crate::crypto::envelope::{DataKey, Field};
use crate::crypto::new_token;

/// `last_seen_at` is written at most this often outside of refreshes.
pub const TOUCH_INTERVAL_SECS: i64 = 60;

pub fn device_field(id: &Uuid) -> Field<'_> {
    Field::new("sessions", "device", id.as_bytes())
}

/// Starts a session; returns its id and first refresh token.
pub async fn create(
    conn: &mut MySqlConnection,
    account_id: Uuid,
    key: &DataKey,
    user_agent: &str,
    lifetime: Duration,
) -> anyhow::Result<(Uuid, String)> {
    let id = Uuid::now_v7();
    let now = Utc::now();
    let device_ct = key.seal_str(device_field(&id), user_agent)?;
    sqlx::query(
        "INSERT INTO sessions (id, account_id, device_ct, created_at, last_seen_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(account_id)
    .bind(device_ct)
    .bind(now)
    .bind(now)
    .bind(now + lifetime)
    .execute(&mut *conn)
    .await?;
    let token = add_refresh_token(conn, id, None, now).await?;
    Ok((id, token))
}

/// Mints a refresh token for the session; `parent` is the hash of the token
/// it replaces.
pub async fn add_refresh_token(
    conn: &mut MySqlConnection,
    session_id: Uuid,
    parent: Option<&[u8]>,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let (token, hash) = new_token()?;
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, parent_hash, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(hash.as_slice())
    .bind(session_id)
    .bind(parent)
    .bind(now)
        .execute(conn)
        .await?;
    Ok(token)
}

/// Active sessions an account may have; signing in once more ends the one
/// seen least recently.
pub const MAX_ACTIVE_SESSIONS: i64 = 50;

/// Ends the account's least recently seen sessions beyond the limit.
pub async fn enforce_limit(conn: &mut MySqlConnection, account_id: Uuid) -> sqlx::Result<u64> {
    // The inner derived table is needed: MySQL takes no LIMIT directly in
    // an IN subquery.
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = ?, revoke_reason = 'session_limit' \
         WHERE account_id = ? AND revoked_at IS NULL AND id NOT IN ( \
           SELECT id FROM ( \
             SELECT id FROM sessions WHERE account_id = ? AND revoked_at IS NULL \
             ORDER BY last_seen_at DESC, created_at DESC LIMIT ? \
           ) AS newest \
         )",
    )
    .bind(Utc::now())
    .bind(account_id)
    .bind(account_id)
    .bind(MAX_ACTIVE_SESSIONS)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Ends one session. Returns whether it was active.
pub async fn revoke(
    conn: &mut MySqlConnection,
    account_id: Uuid,
    session_id: Uuid,
    reason: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = ?, revoke_reason = ? \
         WHERE id = ? AND account_id = ? AND revoked_at IS NULL",
    )
    .bind(Utc::now())
    .bind(reason)
    .bind(session_id)
    .bind(account_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every session of an account except `keep`. Returns how many.
pub async fn revoke_all(
    conn: &mut MySqlConnection,
    account_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = ?, revoke_reason = ? \
         WHERE account_id = ? AND revoked_at IS NULL AND (? IS NULL OR id <> ?)",
    )
    .bind(Utc::now())
    .bind(reason)
    .bind(account_id)
    .bind(keep)
    .bind(keep)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Whether the token's session is active; records activity at most once a
/// minute.
pub async fn check_active(conn: &mut MySqlConnection, claims: &AccessClaims) -> sqlx::Result<bool> {
    let now = Utc::now();
    let row = sqlx::query(
        "SELECT last_seen_at FROM sessions \
         WHERE id = ? AND account_id = ? AND revoked_at IS NULL AND expires_at > ?",
    )
    .bind(claims.session_id)
    .bind(claims.account_id)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(false) };
    touch_if_stale(conn, claims.session_id, row.try_get("last_seen_at")?, now).await?;
    Ok(true)
}

pub async fn touch_if_stale(
    conn: &mut MySqlConnection,
    session_id: Uuid,
    last_seen: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    if now - last_seen >= Duration::seconds(TOUCH_INTERVAL_SECS) {
        sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE id = ?")
            .bind(now)
            .bind(session_id)
            .execute(conn)
            .await?;
    }
    Ok(())
}
