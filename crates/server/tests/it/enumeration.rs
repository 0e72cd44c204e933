//! Nobody can learn from the API whether an e-mail address has an account.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp, TestResult, slug};

/// A body without its per-request id, for comparing two answers.
fn without_request_id(mut body: Value) -> Value {
    if let Some(object) = body.as_object_mut() {
        object.remove("request_id");
    }
    body
}

#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_get_the_same_answer() -> TestResult {
    let app = TestApp::spawn().await;
    app.signed_up("known@example.com", "Known Person").await;

    let wrong = json!({ "email": "known@example.com", "password": "not the password at all" });
    let unknown = json!({ "email": "nobody@example.com", "password": "not the password at all" });
    let (status_wrong, body_wrong) = app.post("/v1/auth/login", wrong).await;
    let (status_unknown, body_unknown) = app.post("/v1/auth/login", unknown).await;
    assert_eq!(status_wrong, StatusCode::UNAUTHORIZED);
    assert_eq!(status_unknown, status_wrong);
    assert_eq!(
        without_request_id(body_unknown),
        without_request_id(body_wrong)
    );
    Ok(())
}

#[tokio::test]
async fn an_unknown_email_costs_a_password_hash_like_a_known_one() -> TestResult {
    let app = TestApp::spawn().await;
    app.signed_up("known@example.com", "Known Person").await;
    let hashes_for = |email: &'static str| {
        let app = &app;
        async move {
            let before = app.state.hasher.computed();
            let attempt = json!({ "email": email, "password": "wrong password here" });
            assert_eq!(
                app.post("/v1/auth/login", attempt).await.0,
                StatusCode::UNAUTHORIZED
            );
            app.state.hasher.computed() - before
        }
    };
    // Counting hashes instead of timing them: the same Argon2 work on both
    // paths is what makes their timing alike, and a count is not noisy.
    assert_eq!(hashes_for("known@example.com").await, 1);
    assert_eq!(hashes_for("nobody@example.com").await, 1);
    Ok(())
}

#[tokio::test]
async fn register_and_forgot_password_answer_the_same_for_taken_and_free_addresses() -> TestResult {
    let app = TestApp::spawn().await;
    app.signed_up("taken@example.com", "Taken Person").await;

    let (status_taken, taken) = app.register("taken@example.com", "Somebody Else").await;
    let (status_free, free) = app.register("free@example.com", "Somebody Else").await;
    assert_eq!(status_taken, StatusCode::ACCEPTED);
    assert_eq!((status_free, free), (status_taken, taken));

    // The owner is told somebody tried; the account is unchanged.
    let mails = app.wait_for_mails("taken@example.com", 2).await;
    assert!(mails.iter().any(|m| m.contains("Someone tried to sign up")));
    app.login("taken@example.com", PASSWORD).await;

    let (status_known, known) = app
        .post(
            "/v1/auth/password/forgot",
            json!({ "email": "taken@example.com" }),
        )
        .await;
    let (status_unknown, unknown) = app
        .post(
            "/v1/auth/password/forgot",
            json!({ "email": "ghost@example.com" }),
        )
        .await;
    assert_eq!(status_known, StatusCode::ACCEPTED);
    assert_eq!((status_unknown, unknown), (status_known, known));
    Ok(())
}

#[tokio::test]
async fn look_alike_spellings_of_an_address_cannot_make_a_second_account() -> TestResult {
    let app = TestApp::spawn().await;
    app.signed_up("alice@example.com", "Alice").await;
    // Upper case and a fullwidth "a" (U+FF41) are the same address.
    for variant in ["ALICE@Example.com", "\u{ff41}lice@example.com"] {
        let (status, _) = app.register(variant, "Mallory").await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let mut conn = app.db.admin_conn().await?;
    let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
        .fetch_one(&mut conn)
        .await?;
    assert_eq!(accounts, 1);
    // And the owner can sign in with any spelling.
    app.login("ALICE@EXAMPLE.COM", PASSWORD).await;
    Ok(())
}

#[tokio::test]
async fn a_weak_password_is_refused_at_registration() -> TestResult {
    let app = TestApp::spawn().await;
    for weak in ["password1234", "aaaaaaaaaaaaaaaa", "short"] {
        let (status, body) = app
            .post(
                "/v1/auth/register",
                json!({ "email": "weak@example.com", "password": weak, "full_name": "W" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{weak}: {body}");
        assert_eq!(slug(&body), "validation-failed");
        assert_eq!(body["errors"][0]["pointer"], "/password");
    }
    let long = "x".repeat(257);
    let (status, _) = app
        .post(
            "/v1/auth/register",
            json!({ "email": "weak@example.com", "password": long, "full_name": "W" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    Ok(())
}
