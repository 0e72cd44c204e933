//! The whole customer journey, as a client sees it.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{PASSWORD, TestApp, TestResult, address_body, slug, tokens_of};

#[tokio::test]
async fn a_customer_registers_verifies_signs_in_orders_refreshes_and_signs_out() -> TestResult {
    let app = TestApp::spawn().await;
    let email = "ada@example.com";

    let (status, body) = app.register(email, "Ada Lovelace").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    // Signing in before confirming is refused with a clear problem.
    let (status, body) = app
        .post(
            "/v1/auth/login",
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(slug(&body), "email-not-verified");

    let token = app.link_token(email, "/verify-email", 1).await;
    let (status, _) = app
        .post("/v1/auth/verify-email", json!({ "token": token }))
        .await;
    assert_eq!(status, StatusCode::OK);
    // The link works once.
    let (status, body) = app
        .post("/v1/auth/verify-email", json!({ "token": token }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(slug(&body), "invalid-token");

    let (status, body) = app
        .post(
            "/v1/auth/login",
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(
        body["expires_in"]
            .as_u64()
            .is_some_and(|s| s > 0 && s <= 600)
    );
    let (access, refresh) = tokens_of(&body);

    let (status, profile) = app.get_as("/v1/me", &access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["email"], email);
    assert_eq!(profile["full_name"], "Ada Lovelace");
    assert_eq!(profile["phone"], serde_json::Value::Null);

    let (status, profile) = app
        .call(
            Method::PATCH,
            "/v1/me",
            Some(&access),
            Some(json!({ "phone": "+41446681800" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["phone"], "+41446681800");
    assert_eq!(
        app.get_as("/v1/me", &access).await.1["phone"],
        "+41446681800"
    );

    let response = app
        .client
        .post(app.url("/v1/me/addresses"))
        .bearer_auth(&access)
        .json(&address_body())
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let address: serde_json::Value = response.json().await?;
    let address_id = address["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(location, Some(format!("/v1/me/addresses/{address_id}")));
    let (status, listed) = app.get_as("/v1/me/addresses", &access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));

    let (status, order) = app
        .call(
            Method::POST,
            "/v1/me/orders",
            Some(&access),
            Some(json!({ "address_id": address_id, "delivery_instructions": "Ring twice" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(order["status"], "placed");
    assert_eq!(order["delivery_address"]["city"], "Zurich");
    let order_id = order["id"].as_str().unwrap_or_default().to_owned();
    let (status, fetched) = app
        .get_as(&format!("/v1/me/orders/{order_id}"), &access)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["delivery_instructions"], "Ring twice");

    let (status, body) = app
        .post("/v1/auth/refresh", json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (access2, refresh2) = tokens_of(&body);
    assert_ne!(refresh2, refresh);
    assert_eq!(app.get_as("/v1/me", &access2).await.0, StatusCode::OK);

    let (status, _) = app
        .call(Method::POST, "/v1/auth/logout", Some(&access2), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The session is over at once: both access tokens of it are refused
    // although neither has expired, and so is its refresh token.
    assert_eq!(
        app.get_as("/v1/me", &access2).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get_as("/v1/me/orders", &access).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = app
        .post("/v1/auth/refresh", json!({ "refresh_token": refresh2 }))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn verification_mail_is_resent_at_most_once_per_ten_minutes() -> TestResult {
    let app = TestApp::spawn().await;
    let email = "grace@example.com";
    app.register(email, "Grace Hopper").await;
    app.wait_for_mails(email, 1).await;
    let mut conn = app.db.admin_conn().await?;
    // Age the first link past ten minutes: the next sign-in sends a new one.
    sqlx::query("UPDATE email_tokens SET created_at = created_at - INTERVAL 11 MINUTE")
        .execute(&mut conn)
        .await?;
    let login = json!({ "email": email, "password": PASSWORD });
    assert_eq!(
        app.post("/v1/auth/login", login.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    app.wait_for_mails(email, 2).await;
    // Right after, another attempt sends nothing more.
    assert_eq!(
        app.post("/v1/auth/login", login).await.0,
        StatusCode::FORBIDDEN
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.mails_to(email).len(), 2);
    Ok(())
}

#[tokio::test]
async fn an_expired_verification_link_is_refused() -> TestResult {
    let app = TestApp::spawn().await;
    let email = "expired@example.com";
    app.register(email, "Late Reader").await;
    let token = app.link_token(email, "/verify-email", 1).await;
    let mut conn = app.db.admin_conn().await?;
    sqlx::query("UPDATE email_tokens SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE")
        .execute(&mut conn)
        .await?;
    let (status, body) = app
        .post("/v1/auth/verify-email", json!({ "token": token }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(slug(&body), "invalid-token");
    Ok(())
}

#[tokio::test]
async fn health_readiness_jwks_and_openapi_are_served() -> TestResult {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.call(Method::GET, "/healthz", None, None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.call(Method::GET, "/readyz", None, None).await.0,
        StatusCode::OK
    );
    let (status, jwks) = app
        .call(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    let (status, doc) = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    assert!(doc["paths"]["/v1/auth/login"]["post"].is_object());

    // Readiness follows the database: closed pool, 503 problem.
    app.state.db.close().await;
    let (status, body) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], 503);
    Ok(())
}
