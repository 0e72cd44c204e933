//! The real binary's log output holds no password, token or e-mail address.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestDb, TestResult, tokens_of};

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn logs_are_json_lines_without_secrets_or_personal_data() -> TestResult {
    let db = TestDb::create().await?;
    let state_dir = tempfile::tempdir()?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("serve")
        .env("RAMPART_DATABASE_URL", db.app_url().expose_secret())
        .env("RAMPART_LISTEN", "127.0.0.1:0")
        .env("RAMPART_STATE_DIR", state_dir.path())
        .env("RAMPART_LOG", "debug")
        .env("RAMPART_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let _server = Server(child);
    let output = Arc::new(Mutex::new(Vec::<String>::new()));
    for stream in [
        Box::new(stdout) as Box<dyn std::io::Read + Send>,
        Box::new(stderr),
    ] {
        let output = Arc::clone(&output);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Ok(mut lines) = output.lock() {
                    lines.push(line);
                }
            }
        });
    }
    let lines = || output.lock().map(|l| l.clone()).unwrap_or_default();
    let mut address = None;
    for _ in 0..200 {
        address = lines()
            .iter()
            .find_map(|l| l.strip_prefix("rampart: API on ").map(str::to_owned));
        if address.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let address = address.ok_or_else(|| format!("server did not start: {:?}", lines()))?;
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| client.post(format!("{address}{path}")).json(&body).send();

    let email = "secret.person@example.com";
    let name = "Secretive Person";
    let response = post(
        "/v1/auth/register",
        json!({ "email": email, "password": PASSWORD, "full_name": name }),
    )
    .await?;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let mut verify_token = String::new();
    for _ in 0..100 {
        let mails = std::fs::read_dir(state_dir.path().join("outbox"))?
            .filter_map(Result::ok)
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect::<Vec<_>>();
        if let Some(at) = mails
            .iter()
            .find_map(|m| m.find("token=").map(|i| m[i + 6..].to_owned()))
        {
            verify_token = at
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!verify_token.is_empty());
    assert_eq!(
        post("/v1/auth/verify-email", json!({ "token": verify_token }))
            .await?
            .status(),
        StatusCode::OK
    );
    let failed = post(
        "/v1/auth/login",
        json!({ "email": email, "password": "a wrong password guess" }),
    )
    .await?;
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    let body: Value = post(
        "/v1/auth/login",
        json!({ "email": email, "password": PASSWORD }),
    )
    .await?
    .json()
    .await?;
    let (access, refresh) = tokens_of(&body);
    let me = client
        .get(format!("{address}/v1/me"))
        .bearer_auth(&access)
        .send()
        .await?;
    assert_eq!(me.status(), StatusCode::OK);
    let body: Value = post("/v1/auth/refresh", json!({ "refresh_token": refresh }))
        .await?
        .json()
        .await?;
    let (access2, refresh2) = tokens_of(&body);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let captured = lines();
    let text = captured.join("\n");
    assert!(
        text.contains("request finished"),
        "no request log lines: {text}"
    );
    for secret in [
        PASSWORD,
        "a wrong password guess",
        email,
        "secret.person",
        name,
        &verify_token,
        &access,
        &refresh,
        &access2,
        &refresh2,
    ] {
        assert!(!text.contains(secret), "the log contains {secret:?}");
    }
    // Every log line is JSON, and request lines carry the request id.
    let json_lines: Vec<Value> = captured
        .iter()
        .filter(|l| !l.starts_with("rampart: "))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert!(
        json_lines
            .iter()
            .filter(|l| l["message"] == "request finished")
            .all(|l| l["span"]["request_id"].is_string())
    );
    Ok(())
}
