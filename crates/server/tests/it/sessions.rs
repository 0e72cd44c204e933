//! `/v1/me/sessions`: see and end your own sessions.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{PASSWORD, TestApp, TestResult};

#[tokio::test]
async fn a_customer_lists_and_ends_their_sessions() -> TestResult {
    let app = TestApp::spawn().await;
    let (first, _) = app.signed_up("multi@example.com", "Multi Device").await;
    let (second, _) = app.login("multi@example.com", PASSWORD).await;
    let (third, _) = app.login("multi@example.com", PASSWORD).await;

    let (status, sessions) = app.get_as("/v1/me/sessions", &first).await;
    assert_eq!(status, StatusCode::OK);
    let sessions = sessions.as_array().cloned().unwrap_or_default();
    assert_eq!(sessions.len(), 3);
    assert!(sessions.iter().all(|s| s["device"] == "rampart-tests/1.0"));
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    let current_id = current[0]["id"].as_str().unwrap_or_default().to_owned();

    // End one other session by id.
    let (_, from_second) = app.get_as("/v1/me/sessions", &second).await;
    let second_id = from_second
        .as_array()
        .and_then(|s| s.iter().find(|s| s["current"] == true))
        .and_then(|s| s["id"].as_str())
        .unwrap_or_default()
        .to_owned();
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/me/sessions/{second_id}"),
            Some(&first),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_as("/v1/me", &second).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get_as("/v1/me", &third).await.0, StatusCode::OK);

    // Someone else cannot end it (nor learn that it exists).
    let (stranger, _) = app.signed_up("stranger@example.com", "Stranger").await;
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/me/sessions/{current_id}"),
            Some(&stranger),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Sign out everywhere else.
    let (status, _) = app
        .call(Method::DELETE, "/v1/me/sessions", Some(&first), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_as("/v1/me", &third).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get_as("/v1/me", &first).await.0, StatusCode::OK);
    let (_, remaining) = app.get_as("/v1/me/sessions", &first).await;
    assert_eq!(remaining.as_array().map(Vec::len), Some(1));
    Ok(())
}

#[tokio::test]
async fn signing_in_past_the_session_limit_ends_the_least_recently_seen_session() -> TestResult {
    let app = TestApp::spawn().await;
    let (oldest, _) = app.signed_up("many@example.com", "Many Sessions").await;
    let mut conn = app.db.admin_conn().await?;
    // Make the first session the least recently seen, then fill up the rest.
    sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - INTERVAL 1 HOUR")
        .execute(&mut conn)
        .await?;
    let limit = rampart_server::auth::sessions::MAX_ACTIVE_SESSIONS;
    for _ in 1..limit {
        app.login("many@example.com", PASSWORD).await;
    }
    assert_eq!(app.get_as("/v1/me", &oldest).await.0, StatusCode::OK);
    // That request counted as activity; age the first session again.
    sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - INTERVAL 2 HOUR ORDER BY created_at LIMIT 1")
        .execute(&mut conn)
        .await?;
    let (newest, _) = app.login("many@example.com", PASSWORD).await;
    assert_eq!(
        app.get_as("/v1/me", &oldest).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get_as("/v1/me", &newest).await.0, StatusCode::OK);
    let active: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL")
        .fetch_one(&mut conn)
        .await?;
    assert_eq!(active, limit);
    Ok(())
}
