//! Builds the application: state from configuration, the router with its
//! middleware, and the server loop.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use crate::accounts::{addresses, profile, sessions};
use crate::auth::passwords::PasswordHasher;
use crate::auth::tokens::TokenService;
use crate::auth::{login, password_reset, register};
use crate::config::{Config, Mode};
use crate::crypto::SymmetricKey;
use crate::crypto::keyring::Keys;
use crate::http::{ApiError, client_addr, middleware};
use crate::mail::Mailer;
use crate::state::{AppState, Inner};
use crate::{db, orders, wellknown};

/// Request bodies above this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The master key: from configuration, or in development from
/// `<state_dir>/master.key`, generated on first run.
pub fn master_key(config: &Config) -> anyhow::Result<SymmetricKey> {
    let encoded = match (&config.master_key, config.env) {
        (Some(key), _) => key.clone(),
        (None, Mode::Production) => bail!("production mode needs RAMPART_MASTER_KEY"),
        (None, Mode::Development) => development_master_key(&config.state_dir)?,
    };
    let bytes = STANDARD
        .decode(encoded.expose_secret().trim())
        .context("RAMPART_MASTER_KEY is not base64")?;
    SymmetricKey::from_slice(&bytes).context("RAMPART_MASTER_KEY must be 32 bytes")
}

fn development_master_key(state_dir: &Path) -> anyhow::Result<SecretString> {
    let path = state_dir.join("master.key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(SecretString::from(existing));
    }
    std::fs::create_dir_all(state_dir)?;
    let key = SymmetricKey::generate()?;
    let encoded = STANDARD.encode(key.as_bytes());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&path)?, encoded.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a development master key");
    Ok(SecretString::from(encoded))
}

/// Connects, loads the key ring and starts the hashing pool.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let url = config
        .database_url
        .clone()
        .context("RAMPART_DATABASE_URL is not set")?;
    let db = db::connect(&url, config.database_max_connections).await?;
    db::check_schema(&db).await?;
    let keys = Keys::open(&db, master_key(&config)?).await?;
    keys.spawn_poller(
        db.clone(),
        Duration::from_secs(config.key_ring_poll_secs.max(1)),
    );
    let workers = config.hash_workers();
    let hasher = PasswordHasher::start(
        config.argon2,
        config.password_pepper.clone(),
        workers,
        config.hash_max_in_flight.unwrap_or(workers * 4),
        Duration::from_millis(config.hash_wait_ms),
    )?;
    let decoy: [u8; 32] = crate::crypto::random_array()?;
    let decoy_hash = hasher
        .hash(&STANDARD.encode(decoy))
        .await
        .map_err(|e| anyhow::anyhow!("hashing the decoy password: {e}"))?;
    let tokens = TokenService::new(
        &config.token_issuer,
        &config.token_audience,
        Duration::from_secs(config.access_token_ttl_secs),
    );
    let mailer = Mailer::new(&config)?;
    Ok(AppState::new(Inner {
        db,
        keys,
        hasher,
        tokens,
        mailer,
        decoy_hash,
        background: tokio_util::task::TaskTracker::new(),
        config,
    }))
}

pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The router with `extra` routes merged in under the same middleware
/// (tests use it to add a route that panics).
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let trusted = Arc::new(state.config.trusted_proxies.clone());
    let timeout = Duration::from_secs(state.config.request_timeout_secs.max(1));
    let v1 = Router::new()
        .route("/auth/register", post(register::register))
        .route("/auth/verify-email", post(register::verify_email))
        .route("/auth/login", post(login::login))
        .route("/auth/refresh", post(login::refresh))
        .route("/auth/logout", post(login::logout))
        .route("/auth/password/forgot", post(password_reset::forgot))
        .route("/auth/password/reset", post(password_reset::reset))
        .route("/me", get(profile::get).patch(profile::update))
        .route("/me/password", post(password_reset::change))
        .route(
            "/me/addresses",
            get(addresses::list).post(addresses::create),
        )
        .route(
            "/me/addresses/{id}",
            get(addresses::get)
                .put(addresses::replace)
                .delete(addresses::delete),
        )
        .route("/me/orders", get(orders::list).post(orders::create))
        .route("/me/orders/{id}", get(orders::get))
        .route("/me/orders/{id}/cancel", post(orders::cancel))
        .route(
            "/me/sessions",
            get(sessions::list).delete(sessions::revoke_others),
        )
        .route(
            "/me/sessions/{id}",
            axum::routing::delete(sessions::revoke_one),
        );
    Router::new()
        .nest("/v1", v1)
        .route("/.well-known/jwks.json", get(wellknown::jwks))
        .route("/healthz", get(wellknown::healthz))
        .route("/readyz", get(wellknown::readyz))
        .route("/openapi.json", get(wellknown::openapi))
        .merge(extra)
        .fallback(|| async { ApiError::not_found() })
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Layers run outside-in from the last added: every response gets a
        // request id, a problem body if it is an error, and the security
        // headers; panics and timeouts become problems too.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(from_fn_with_state(trusted, client_addr::layer))
        .layer(from_fn(middleware::problem_fallback))
        .layer(from_fn(middleware::security_headers))
        .layer(from_fn(middleware::request_id))
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_router(listener, router(state), shutdown).await
}

pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
