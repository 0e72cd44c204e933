//! The ceiling the issue compares `GET /v1/me` against: the same kind of
//! single-row primary-key read, answered as JSON by axum + sqlx on the same
//! database and runtime, with every security layer left out.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::{FromRow, MySqlPool};
use uuid::Uuid;

#[derive(FromRow)]
struct AccountRow {
    id: Uuid,
    email_ct: Vec<u8>,
    full_name_ct: Vec<u8>,
    email_verified_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

/// About as many bytes as Rampart's profile: the stored ciphertexts go out
/// as base64 instead of being opened.
#[derive(Serialize)]
struct Account {
    id: Uuid,
    email_ct: String,
    full_name_ct: String,
    email_verified: bool,
    created_at: DateTime<Utc>,
}

pub struct Pool {
    pub max_connections: u32,
    pub ping_before_acquire: bool,
}

pub async fn serve(
    admin_url: &str,
    database: &str,
    listen: SocketAddr,
    pool: Pool,
) -> anyhow::Result<()> {
    let options: MySqlConnectOptions = admin_url
        .parse()
        .context("the admin URL is not a mysql:// URL")?;
    let pool = MySqlPoolOptions::new()
        .max_connections(pool.max_connections)
        .test_before_acquire(pool.ping_before_acquire)
        .min_connections(1)
        .connect_with(options.database(database))
        .await
        .context("connecting to the database")?;
    let app = Router::new()
        .route("/accounts/{id}", get(account))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    println!("bare: listening on http://{listen}");
    axum::serve(listener, app)
        .with_graceful_shutdown(terminated())
        .await
        .context("serving")
}

async fn account(State(pool): State<MySqlPool>, Path(id): Path<Uuid>) -> Response {
    let row = sqlx::query_as::<_, AccountRow>(
        "SELECT id, email_ct, full_name_ct, email_verified_at, created_at \
         FROM accounts WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(&pool)
    .await;
    match row {
        Ok(Some(row)) => Json(Account {
            id: row.id,
            email_ct: STANDARD.encode(&row.email_ct),
            full_name_ct: STANDARD.encode(&row.full_name_ct),
            email_verified: row.email_verified_at.is_some(),
            created_at: row.created_at,
        })
        .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => {
            eprintln!("bare: query failed: {error}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C, so run.sh's clean-up stops us gracefully.
async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
