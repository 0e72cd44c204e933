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
