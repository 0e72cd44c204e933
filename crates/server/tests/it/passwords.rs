//! Password storage, change and reset.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{PASSWORD, TestApp, TestResult, slug};

const NEW_PASSWORD: &str = "quartz meadow pylon drift";

async fn stored_hash(app: &TestApp) -> String {
    let mut conn = app.db.admin_conn().await.unwrap_or_else(|e| panic!("{e}"));
    sqlx::query_scalar("SELECT password_hash FROM accounts")
        .fetch_one(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_and_rehashed_when_the_costs_rise() -> TestResult {
    let app = TestApp::spawn().await;
    app.signed_up("hash@example.com", "Hash Person").await;
    let original = stored_hash(&app).await;
    assert!(
        original.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{original}"
    );
    assert!(!original.contains(PASSWORD));

    let stronger = TestApp::spawn_on(
        app.db.clone(),
        json!({ "argon2": { "m_cost_kib": 19456, "t_cost": 3, "p_cost": 1 } }),
        axum::Router::new(),
    )
    .await;
    stronger.login("hash@example.com", PASSWORD).await;
    let upgraded = stored_hash(&app).await;
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=19456,t=3,p=1$"),
        "{upgraded}"
    );
    // The old instance still verifies the new hash (parameters are in it).
    app.login("hash@example.com", PASSWORD).await;
    Ok(())
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_but_not_this_one() -> TestResult {
    let app = TestApp::spawn().await;
    let (here, _) = app.signed_up("change@example.com", "Changer").await;
    let (elsewhere, elsewhere_refresh) = app.login("change@example.com", PASSWORD).await;

    let wrong = json!({ "current_password": "not my password", "new_password": NEW_PASSWORD });
    let (status, body) = app
        .call(Method::POST, "/v1/me/password", Some(&here), Some(wrong))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(slug(&body), "wrong-password");
    assert_eq!(app.get_as("/v1/me", &elsewhere).await.0, StatusCode::OK);

    let weak = json!({ "current_password": PASSWORD, "new_password": "password1234" });
    assert_eq!(
        app.call(Method::POST, "/v1/me/password", Some(&here), Some(weak))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let change = json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD });
    let (status, _) = app
        .call(Method::POST, "/v1/me/password", Some(&here), Some(change))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.get_as("/v1/me", &here).await.0, StatusCode::OK);
    assert_eq!(
        app.get_as("/v1/me", &elsewhere).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.post(
            "/v1/auth/refresh",
            json!({ "refresh_token": elsewhere_refresh })
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    app.login("change@example.com", NEW_PASSWORD).await;
    let old = app
        .post(
            "/v1/auth/login",
            json!({ "email": "change@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(old.0, StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn a_reset_link_works_once_within_thirty_minutes_and_ends_every_session() -> TestResult {
    let app = TestApp::spawn().await;
    let email = "reset@example.com";
    let (session, _) = app.signed_up(email, "Resetter").await;
    let (status, _) = app
        .post("/v1/auth/password/forgot", json!({ "email": email }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let token = app.link_token(email, "/reset-password", 2).await;

    let reset = json!({ "token": token, "new_password": NEW_PASSWORD });
    let (status, body) = app.post("/v1/auth/password/reset", reset.clone()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        app.get_as("/v1/me", &session).await.0,
        StatusCode::UNAUTHORIZED
    );
    app.login(email, NEW_PASSWORD).await;
    // Single use.
    let (status, body) = app.post("/v1/auth/password/reset", reset).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(slug(&body), "invalid-token");

    // A link older than thirty minutes is dead.
    app.post("/v1/auth/password/forgot", json!({ "email": email }))
        .await;
    let late = app.link_token(email, "/reset-password", 4).await;
    let mut conn = app.db.admin_conn().await?;
    sqlx::query("UPDATE email_tokens SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE purpose = 'password_reset'")
        .execute(&mut conn)
        .await?;
    let (status, _) = app
        .post(
            "/v1/auth/password/reset",
            json!({ "token": late, "new_password": "another fine long passphrase" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let lifetime: i64 = sqlx::query_scalar(
        "SELECT MAX(TIMESTAMPDIFF(MINUTE, created_at, expires_at)) FROM email_tokens WHERE purpose = 'password_reset'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap_or(0);
    assert!(lifetime <= 30);
    Ok(())
}

#[tokio::test]
async fn a_flood_of_sign_ins_gets_503_with_retry_after_instead_of_piling_up() -> TestResult {
    let app = TestApp::spawn_with(
        json!({ "hash_workers": 1, "hash_max_in_flight": 1, "hash_wait_ms": 1 }),
    )
    .await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let client = app.client.clone();
        let url = app.url("/v1/auth/login");
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .json(&json!({ "email": format!("flood{i}@example.com"), "password": "some password or other" }))
                .send()
                .await?;
            let retry_after = response.headers().get("retry-after").is_some();
            Ok::<_, reqwest::Error>((response.status(), retry_after))
        }));
    }
    let mut busy = 0;
    for task in tasks {
        let (status, retry_after) = task.await??;
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::SERVICE_UNAVAILABLE,
            "{status}"
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(retry_after);
            busy += 1;
        }
    }
    assert!(busy > 0, "no request was turned away");
    Ok(())
}

#[tokio::test]
async fn a_new_password_retires_every_reset_link_still_out_there() -> TestResult {
    let app = TestApp::spawn().await;
    let email = "links@example.com";
    app.signed_up(email, "Link Holder").await;
    app.post("/v1/auth/password/forgot", json!({ "email": email }))
        .await;
    let first = app.link_token(email, "/reset-password", 2).await;
    app.post("/v1/auth/password/forgot", json!({ "email": email }))
        .await;
    let second = app.link_token(email, "/reset-password", 3).await;
    assert_ne!(first, second);

    // Resetting with one link kills the other.
    let reset = json!({ "token": second, "new_password": NEW_PASSWORD });
    assert_eq!(
        app.post("/v1/auth/password/reset", reset).await.0,
        StatusCode::NO_CONTENT
    );
    let stale = json!({ "token": first, "new_password": "another fine long passphrase" });
    assert_eq!(
        app.post("/v1/auth/password/reset", stale).await.0,
        StatusCode::BAD_REQUEST
    );

    // So does changing the password while signed in.
    let (access, _) = app.login(email, NEW_PASSWORD).await;
    app.post("/v1/auth/password/forgot", json!({ "email": email }))
        .await;
    // Mails so far: verify, two links, "password changed", this link.
    let third = app.link_token(email, "/reset-password", 5).await;
    let change = json!({ "current_password": NEW_PASSWORD, "new_password": PASSWORD });
    assert_eq!(
        app.call(Method::POST, "/v1/me/password", Some(&access), Some(change))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let stale = json!({ "token": third, "new_password": "another fine long passphrase" });
    assert_eq!(
        app.post("/v1/auth/password/reset", stale).await.0,
        StatusCode::BAD_REQUEST
    );
    Ok(())
}
