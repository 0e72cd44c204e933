//! What every handler can reach.

use std::ops::Deref;
use std::sync::Arc;

use sqlx::MySqlPool;

use crate::auth::passwords::PasswordHasher;
use crate::auth::tokens::TokenService;
use crate::config::Config;
use crate::crypto::keyring::Keys;
use crate::mail::Mailer;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub db: MySqlPool,
    pub config: Config,
    pub keys: Arc<Keys>,
    pub hasher: PasswordHasher,
    pub tokens: TokenService,
    pub mailer: Mailer,
    /// A hash of a random password with the configured parameters: sign-in
    /// with an unknown e-mail verifies against it, so it costs the same
    /// time as a wrong password.
    pub decoy_hash: String,
    /// Work that goes on after the response (forgot-password); shutdown
    /// waits for it.
    pub background: tokio_util::task::TaskTracker,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
