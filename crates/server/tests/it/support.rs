//! The test application and helpers that act like a client.

use std::path::PathBuf;
use std::time::Duration;

use rampart_server::app;
use rampart_server::config::Config;
use rampart_server::db::{self, Provision};
use rampart_server::state::AppState;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::mysql::MySqlConnectOptions;
use sqlx::{ConnectOptions, Connection, MySqlConnection};

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A strong password for tests.
pub const PASSWORD: &str = "lantern orbit cobalt ferry";

pub fn admin_url() -> SecretString {
    let url = std::env::var("RAMPART_TEST_ADMIN_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| {
            panic!(
                "set RAMPART_TEST_ADMIN_URL or DATABASE_URL to an admin URL; `make test` does this"
            )
        });
    SecretString::from(url)
}

/// Database and users of one test; dropped with it, even on panic.
pub struct TestDb {
    pub admin: MySqlConnectOptions,
    pub provision: Provision,
}

impl TestDb {
    pub async fn create() -> anyhow::Result<Self> {
        let admin = db::admin_options(&admin_url())?;
        let name = format!("rt_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let provision = Provision::new(&name)?;
        db::provision(&admin, &provision).await?;
        Ok(Self { admin, provision })
    }

    pub fn app_url(&self) -> SecretString {
        self.provision.app_url(&self.admin)
    }

    /// A connection as the administrator, to the test database: for
    /// tampering and for reading raw tables.
    pub async fn admin_conn(&self) -> anyhow::Result<MySqlConnection> {
        Ok(self
            .admin
            .clone()
            .database(&self.provision.database)
            .connect()
            .await?)
    }

    /// A connection as the application user.
    pub async fn app_conn(&self) -> anyhow::Result<MySqlConnection> {
        use secrecy::ExposeSecret;
        Ok(MySqlConnection::connect(self.app_url().expose_secret()).await?)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let provision = Provision {
            database: self.provision.database.clone(),
            app_user: self.provision.app_user.clone(),
            app_password: SecretString::from(""),
            migrator_user: self.provision.migrator_user.clone(),
            migrator_password: SecretString::from(""),
            hosts: self.provision.hosts.clone(),
        };
        // Drop runs outside any runtime we may block, so clean up on a
        // thread with a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                let _ = runtime.block_on(db::deprovision(&admin, &provision));
            }
        });
        let _ = cleanup.join();
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub outbox: PathBuf,
    // Field order matters: the server task is aborted before the database goes.
    _server: AbortOnDrop,
    _state_dir: tempfile::TempDir,
    pub db: std::sync::Arc<TestDb>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(json!({})).await
    }

    /// Starts the application with configuration overrides.
    pub async fn spawn_with(overrides: Value) -> TestApp {
        let db = std::sync::Arc::new(
            TestDb::create()
                .await
                .unwrap_or_else(|e| panic!("test database: {e:#}")),
        );
        Self::spawn_on(db, overrides, axum::Router::new()).await
    }

    /// Starts an application on an existing test database (a second
    /// instance, or one with other settings).
    pub async fn spawn_on(
        db: std::sync::Arc<TestDb>,
        overrides: Value,
        extra: axum::Router<AppState>,
    ) -> TestApp {
        use secrecy::ExposeSecret;
        let state_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let mut settings = json!({
            "database_url": db.app_url().expose_secret(),
            "state_dir": state_dir.path(),
            "database_max_connections": 8,
            "hash_workers": 2,
            "signing_key_activation_delay_secs": 0,
            // A shared master key, so that several instances on one
            // database can open each other's key ring.
            "master_key": "q0qgZ1ZC7p3K3oKQ0e2pT3n9wF0jv1Yt8cA6R2m4b5E=",
        });
        merge(&mut settings, overrides);
        let config = Config::from_defaults(settings).unwrap_or_else(|e| panic!("config: {e:#}"));
        let outbox = config.outbox_dir();
        let state = app::build_state(config)
            .await
            .unwrap_or_else(|e| panic!("state: {e:#}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let address = format!(
            "http://{}",
            listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        let router = app::router_with(state.clone(), extra);
        let server = tokio::spawn(async move {
            let _ = app::serve_router(listener, router, std::future::pending()).await;
        });
        TestApp {
            address,
            client: reqwest::Client::builder()
                .user_agent("rampart-tests/1.0")
                .build()
                .unwrap_or_else(|e| panic!("client: {e}")),
            state,
            outbox,
            _server: AbortOnDrop(server),
            _state_dir: state_dir,
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Sends a JSON request; returns status and JSON body (Null if empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("request to {path}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, None, Some(body)).await
    }

    pub async fn get_as(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn register(&self, email: &str, name: &str) -> (StatusCode, Value) {
        self.post(
            "/v1/auth/register",
            json!({ "email": email, "password": PASSWORD, "full_name": name }),
        )
        .await
    }

    /// Every mail in the outbox to `to`, oldest first, as raw text.
    pub fn mails_to(&self, to: &str) -> Vec<String> {
        let mut mails: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(&self.outbox)
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .filter(|entry| entry.path().extension().is_some_and(|e| e == "eml"))
                    .filter_map(|entry| {
                        let modified = entry.metadata().ok()?.modified().ok()?;
                        Some((modified, std::fs::read_to_string(entry.path()).ok()?))
                    })
                    .filter(|(_, text)| {
                        text.lines()
                            .any(|l| l.starts_with("To: ") && l.contains(to))
                    })
                    .collect()
            })
            .unwrap_or_default();
        mails.sort_by_key(|(time, _)| *time);
        mails.into_iter().map(|(_, text)| text).collect()
    }

    /// Waits (mail goes out in the background) until `to` has `count` mails.
    pub async fn wait_for_mails(&self, to: &str, count: usize) -> Vec<String> {
        for _ in 0..100 {
            let mails = self.mails_to(to);
            if mails.len() >= count {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "expected {count} mail(s) to {to}, found {}",
            self.mails_to(to).len()
        );
    }

    /// The token of the newest link to `path` (e.g. "/verify-email") in the
    /// mails to `to`.
    pub async fn link_token(&self, to: &str, path: &str, count: usize) -> String {
        let mails = self.wait_for_mails(to, count).await;
        let needle = format!("{path}?token=");
        mails
            .iter()
            .rev()
            .find_map(|mail| {
                let start = mail.find(&needle)? + needle.len();
                Some(
                    mail[start..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect::<String>(),
                )
            })
            .unwrap_or_else(|| panic!("no {path} link in the mails to {to}"))
    }

    /// Registers, verifies and signs in; returns (access, refresh).
    pub async fn signed_up(&self, email: &str, name: &str) -> (String, String) {
        let (status, _) = self.register(email, name).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let token = self.link_token(email, "/verify-email", 1).await;
        let (status, body) = self
            .post("/v1/auth/verify-email", json!({ "token": token }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        self.login(email, PASSWORD).await
    }

    pub async fn login(&self, email: &str, password: &str) -> (String, String) {
        let (status, body) = self
            .post(
                "/v1/auth/login",
                json!({ "email": email, "password": password }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login: {body}");
        tokens_of(&body)
    }
}

pub fn tokens_of(body: &Value) -> (String, String) {
    let access = body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token in {body}"));
    let refresh = body["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh token in {body}"));
    (access.to_owned(), refresh.to_owned())
}

/// The problem `type` slug of an error body.
pub fn slug(body: &Value) -> &str {
    body["type"]
        .as_str()
        .and_then(|t| t.rsplit('/').next())
        .unwrap_or("")
}

fn merge(base: &mut Value, overrides: Value) {
    if let (Some(base), Value::Object(overrides)) = (base.as_object_mut(), overrides) {
        for (key, value) in overrides {
            base.insert(key, value);
        }
    }
}

pub fn address_body() -> Value {
    json!({
        "label": "Home",
        "line1": "Bahnhofstrasse 12",
        "city": "Zurich",
        "postal_code": "8001",
        "country": "CH",
    })
}
