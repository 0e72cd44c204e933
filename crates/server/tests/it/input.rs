//! Bad input gets a clear problem-details error, and never leaks internals.

use axum::routing::get;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, TestResult, slug};

async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    token: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .header("content-type", content_type)
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap_or_else(|e| panic!("{e}"))
}

/// Asserts an RFC 9457 body with the given status and slug, whose
/// request_id matches the X-Request-Id header.
async fn assert_problem(
    response: reqwest::Response,
    status: StatusCode,
    expected_slug: &str,
) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let header_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(slug(&body), expected_slug, "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(header_id.is_some());
    assert_eq!(body["request_id"].as_str(), header_id.as_deref());
    body
}

#[tokio::test]
async fn malformed_wrong_typed_and_oversized_bodies_are_problems() -> TestResult {
    let app = TestApp::spawn().await;
    let login = "/v1/auth/login";

    let response = raw(
        &app,
        Method::POST,
        login,
        "application/json",
        b"{\"email\":".to_vec(),
        None,
    )
    .await;
    assert_problem(response, StatusCode::BAD_REQUEST, "malformed-json").await;

    let response = raw(
        &app,
        Method::POST,
        login,
        "text/plain",
        b"{}".to_vec(),
        None,
    )
    .await;
    assert_problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;

    let response = raw(
        &app,
        Method::POST,
        login,
        "application/json",
        br#"{"email":5,"password":"x"}"#.to_vec(),
        None,
    )
    .await;
    let body = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    assert_eq!(body["errors"][0]["pointer"], "/email");

    let response = raw(
        &app,
        Method::POST,
        login,
        "application/json",
        br#"{"password":"x"}"#.to_vec(),
        None,
    )
    .await;
    let body = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    assert_eq!(body["errors"][0]["pointer"], "/email");

    let big = format!(
        r#"{{"email":"a@example.com","password":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let response = raw(
        &app,
        Method::POST,
        login,
        "application/json",
        big.into_bytes(),
        None,
    )
    .await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
    Ok(())
}

#[tokio::test]
async fn unknown_fields_are_refused_so_mass_assignment_cannot_happen() -> TestResult {
    let app = TestApp::spawn().await;
    let (token, _) = app.signed_up("mass@example.com", "Mass Assign").await;
    for body in [
        json!({ "full_name": "New Name", "role": "admin" }),
        json!({ "email": "other@example.com" }),
        json!({ "email_verified": true }),
    ] {
        let response = raw(
            &app,
            Method::PATCH,
            "/v1/me",
            "application/json",
            body.to_string().into_bytes(),
            Some(&token),
        )
        .await;
        let problem = assert_problem(response, StatusCode::BAD_REQUEST, "unknown-field").await;
        assert_eq!(
            problem["errors"][0]["detail"], "is not a field of this request",
            "{problem}"
        );
    }
    // Nothing changed.
    let (_, profile) = app.get_as("/v1/me", &token).await;
    assert_eq!(profile["full_name"], "Mass Assign");
    assert_eq!(profile["email"], "mass@example.com");

    let (status, body) = app
        .call(
            Method::PATCH,
            "/v1/me",
            Some(&token),
            Some(json!({ "phone": "0791234567" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["pointer"], "/phone");
    assert!(
        body["errors"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("E.164"))
    );
    Ok(())
}

#[tokio::test]
async fn unknown_routes_methods_and_ids_are_problems_too() -> TestResult {
    let app = TestApp::spawn().await;
    let (token, _) = app.signed_up("routes@example.com", "Router").await;
    let response = app.client.get(app.url("/v1/nothing-here")).send().await?;
    assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    let response = app.client.delete(app.url("/v1/auth/login")).send().await?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("allow").as_deref(), Some("POST"));
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    assert_problem(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
    )
    .await;
    let response = app
        .client
        .get(app.url("/v1/me/orders/not-a-uuid"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    let response = app.client.get(app.url("/v1/me")).send().await?;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    Ok(())
}

#[tokio::test]
async fn a_panicking_handler_becomes_a_generic_500() -> TestResult {
    let first = TestApp::spawn().await;
    async fn explode() -> &'static str {
        panic!("secret internals: SELECT * FROM accounts")
    }
    let app = TestApp::spawn_on(
        first.db.clone(),
        json!({}),
        axum::Router::new().route("/test/panic", get(explode)),
    )
    .await;
    let response = app.client.get(app.url("/test/panic")).send().await?;
    let body = assert_problem(
        response,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal-error",
    )
    .await;
    assert!(!body.to_string().contains("secret internals"));
    assert!(!body.to_string().contains("SELECT"));
    Ok(())
}

#[tokio::test]
async fn every_answer_carries_the_api_security_headers() -> TestResult {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/healthz")).send().await?;
    let headers = response.headers();
    assert_eq!(
        headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert_eq!(
        headers
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    assert_eq!(
        headers.get("x-frame-options").and_then(|v| v.to_str().ok()),
        Some("DENY")
    );
    assert!(headers.get("x-request-id").is_some());
    Ok(())
}

#[tokio::test]
async fn forwarded_for_counts_only_from_a_trusted_proxy() -> TestResult {
    use rampart_server::crypto::envelope::Field;
    let trusting = TestApp::spawn().await; // trusts loopback, like the default web server setup
    let distrusting = TestApp::spawn_on(
        trusting.db.clone(),
        json!({ "trusted_proxies": [] }),
        axum::Router::new(),
    )
    .await;
    let attempt = json!({ "email": "nobody@example.com", "password": "whatever it is" });
    for app in [&trusting, &distrusting] {
        app.client
            .post(app.url("/v1/auth/login"))
            .header("x-forwarded-for", "198.51.100.7")
            .json(&attempt)
            .send()
            .await?;
    }
    let mut conn = trusting.db.admin_conn().await?;
    let rows: Vec<(u64, Vec<u8>)> = sqlx::query_as(
        "SELECT seq, client_addr_ct FROM audit_log WHERE action = 'auth.login' ORDER BY seq",
    )
    .fetch_all(&mut conn)
    .await?;
    assert_eq!(rows.len(), 2);
    let ring = trusting.state.keys.ring();
    let open = |(seq, ct): &(u64, Vec<u8>)| {
        let seq_bytes = seq.to_be_bytes();
        ring.open_audit(Field::new("audit_log", "client_addr", &seq_bytes), ct)
            .map(|plain| String::from_utf8_lossy(&plain).into_owned())
            .unwrap_or_default()
    };
    assert_eq!(open(&rows[0]), "198.51.100.7");
    assert_eq!(open(&rows[1]), "127.0.0.1");
    Ok(())
}
