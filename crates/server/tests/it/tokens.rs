//! Access tokens are refused unless they are exactly what the server signs;
//! refresh tokens rotate and their reuse ends the session.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, TestResult, slug, tokens_of};
use rampart_server::crypto::keyring::{self, Purpose};

fn part(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD.decode(segment).unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn forged_and_altered_access_tokens_are_refused() -> TestResult {
    let app = TestApp::spawn().await;
    let (good, _) = app.signed_up("victim@example.com", "Victim").await;
    let (other, _) = app.signed_up("other@example.com", "Other").await;
    assert_eq!(app.get_as("/v1/me", &good).await.0, StatusCode::OK);
    let header = part(&good, 0);
    let claims = part(&good, 1);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "at+jwt");
    for claim in ["iss", "aud", "sub", "sid", "iat", "nbf", "exp", "jti"] {
        assert!(!claims[claim].is_null(), "claim {claim} missing");
    }
    let signature = good.split('.').nth(2).unwrap_or_default().to_owned();
    let kid = header["kid"].as_str().unwrap_or_default().to_owned();
    let ring = app.state.keys.ring();
    let key = ring.current_signing(Utc::now()).ok_or("no signing key")?;

    let mut forged: Vec<(&str, String)> = Vec::new();

    let none_header = json!({ "alg": "none", "typ": "at+jwt", "kid": kid });
    forged.push((
        "alg none",
        format!("{}.{}.", encode(&none_header), encode(&claims)),
    ));

    // The classic confusion: HMAC keyed with the public key.
    let jwks = app
        .call(Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .1;
    let public = jwks["keys"][0]["x"].as_str().unwrap_or_default().to_owned();
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(kid.clone());
    hs.typ = Some("at+jwt".into());
    forged.push((
        "HS256 with the public key",
        jsonwebtoken::encode(&hs, &claims, &EncodingKey::from_secret(public.as_bytes())?)?,
    ));

    let pkcs8 =
        aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
            .map_err(|_| "keygen")?;
    let mut foreign = Header::new(Algorithm::EdDSA);
    foreign.kid = Some("attacker-key".into());
    foreign.typ = Some("at+jwt".into());
    forged.push((
        "unknown kid",
        jsonwebtoken::encode(&foreign, &claims, &EncodingKey::from_ed_der(pkcs8.as_ref()))?,
    ));
    foreign.kid = Some(kid.clone());
    forged.push((
        "our kid, another key",
        jsonwebtoken::encode(&foreign, &claims, &EncodingKey::from_ed_der(pkcs8.as_ref()))?,
    ));

    let mut real = Header::new(Algorithm::EdDSA);
    real.kid = Some(kid.clone());
    real.typ = Some("at+jwt".into());
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("another-api");
    forged.push((
        "wrong audience",
        jsonwebtoken::encode(&real, &wrong_aud, &key.encoding)?,
    ));
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("https://evil.example");
    forged.push((
        "wrong issuer",
        jsonwebtoken::encode(&real, &wrong_iss, &key.encoding)?,
    ));
    let mut expired = claims.clone();
    expired["exp"] = json!(Utc::now().timestamp() - 120);
    forged.push((
        "expired",
        jsonwebtoken::encode(&real, &expired, &key.encoding)?,
    ));
    let mut long_lived = claims.clone();
    long_lived["exp"] = json!(Utc::now().timestamp() + 10 * 365 * 24 * 3600);
    forged.push((
        "ten-year lifetime",
        jsonwebtoken::encode(&real, &long_lived, &key.encoding)?,
    ));
    let mut future = claims.clone();
    future["iat"] = json!(Utc::now().timestamp() + 3600);
    future["exp"] = json!(Utc::now().timestamp() + 3900);
    forged.push((
        "issued in the future",
        jsonwebtoken::encode(&real, &future, &key.encoding)?,
    ));
    let mut early = claims.clone();
    early["nbf"] = json!(Utc::now().timestamp() + 600);
    forged.push((
        "not yet valid",
        jsonwebtoken::encode(&real, &early, &key.encoding)?,
    ));
    let mut plain_jwt = real.clone();
    plain_jwt.typ = Some("JWT".into());
    forged.push((
        "typ JWT (an ID token, say)",
        jsonwebtoken::encode(&plain_jwt, &claims, &key.encoding)?,
    ));

    // Somebody else's account id in a genuinely signed payload.
    let mut altered = claims.clone();
    altered["sub"] = part(&other, 1)["sub"].clone();
    forged.push((
        "altered payload",
        format!("{}.{}.{signature}", encode(&header), encode(&altered)),
    ));

    for (what, token) in forged {
        let (status, body) = app.get_as("/v1/me", &token).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{what} was accepted: {body}"
        );
        assert_eq!(slug(&body), "unauthorized");
    }
    Ok(())
}

#[tokio::test]
async fn a_rotated_signing_key_stays_published_for_tokens_it_signed() -> TestResult {
    let app = TestApp::spawn().await;
    let (old_token, _) = app.signed_up("rotate@example.com", "Rotor").await;
    let old_kid = part(&old_token, 0)["kid"].clone();

    let master = rampart_server::app::master_key(&app.state.config)?;
    let new_kid = keyring::rotate(
        &app.state.db,
        &master,
        Purpose::Signing,
        std::time::Duration::ZERO,
    )
    .await?;
    app.state.keys.refresh(&app.state.db).await?;

    let (new_token, _) = app
        .login("rotate@example.com", crate::support::PASSWORD)
        .await;
    assert_eq!(part(&new_token, 0)["kid"], json!(new_kid));
    assert_eq!(app.get_as("/v1/me", &old_token).await.0, StatusCode::OK);
    assert_eq!(app.get_as("/v1/me", &new_token).await.0, StatusCode::OK);
    let jwks = app
        .call(Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .1;
    let kids: Vec<&Value> = jwks["keys"]
        .as_array()
        .map(|k| k.iter().map(|k| &k["kid"]).collect())
        .unwrap_or_default();
    assert!(
        kids.contains(&&old_kid) && kids.contains(&&json!(new_kid)),
        "{jwks}"
    );
    Ok(())
}

#[tokio::test]
async fn another_instance_sees_a_rotation_through_the_database() -> TestResult {
    let first = TestApp::spawn().await;
    let second = TestApp::spawn_on(
        first.db.clone(),
        json!({ "key_ring_poll_secs": 1 }),
        axum::Router::new(),
    )
    .await;
    first.signed_up("shared@example.com", "Shared").await;
    let master = rampart_server::app::master_key(&first.state.config)?;
    let new_kid = keyring::rotate(
        &first.state.db,
        &master,
        Purpose::Signing,
        std::time::Duration::ZERO,
    )
    .await?;
    first.state.keys.refresh(&first.state.db).await?;
    let (token, _) = first
        .login("shared@example.com", crate::support::PASSWORD)
        .await;
    assert_eq!(part(&token, 0)["kid"], json!(new_kid));
    // The second instance learns of the key by polling, without a restart.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(second.get_as("/v1/me", &token).await.0, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn reusing_a_refresh_token_revokes_the_whole_session() -> TestResult {
    let app = TestApp::spawn_with(json!({ "refresh_grace_secs": 0 })).await;
    let (_, first) = app.signed_up("reuse@example.com", "Reuser").await;
    let (status, body) = app
        .post("/v1/auth/refresh", json!({ "refresh_token": first }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (access, second) = tokens_of(&body);

    // The stolen first token comes back.
    let (status, body) = app
        .post("/v1/auth/refresh", json!({ "refresh_token": first }))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(slug(&body), "invalid-refresh-token");
    // Everything of that session is dead now, including the newest token.
    assert_eq!(
        app.post("/v1/auth/refresh", json!({ "refresh_token": second }))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get_as("/v1/me", &access).await.0,
        StatusCode::UNAUTHORIZED
    );

    let mut conn = app.db.admin_conn().await?;
    let recorded: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.refresh_reuse'")
            .fetch_one(&mut conn)
            .await?;
    assert_eq!(recorded, 1);
    Ok(())
}

#[tokio::test]
async fn a_token_just_replaced_is_accepted_once_more_for_racing_clients() -> TestResult {
    let app = TestApp::spawn().await; // grace 10 s by default
    let (_, first) = app.signed_up("racer@example.com", "Racer").await;
    let (status, _) = app
        .post("/v1/auth/refresh", json!({ "refresh_token": first }))
        .await;
    assert_eq!(status, StatusCode::OK);
    // A parallel request of the same client used the same token a moment later.
    let (status, body) = app
        .post("/v1/auth/refresh", json!({ "refresh_token": first }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (access, _) = tokens_of(&body);
    assert_eq!(app.get_as("/v1/me", &access).await.0, StatusCode::OK);
    // But only once: a third use is reuse.
    assert_eq!(
        app.post("/v1/auth/refresh", json!({ "refresh_token": first }))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get_as("/v1/me", &access).await.0,
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

#[tokio::test]
async fn refresh_tokens_are_stored_only_as_hashes_and_expire_with_the_session() -> TestResult {
    let app = TestApp::spawn().await;
    let (_, refresh) = app.signed_up("hash@example.com", "Hasher").await;
    assert!(
        URL_SAFE_NO_PAD
            .decode(&refresh)
            .map(|b| b.len())
            .unwrap_or(0)
            >= 32
    );
    let mut conn = app.db.admin_conn().await?;
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_hash FROM refresh_tokens")
        .fetch_all(&mut conn)
        .await?;
    assert!(!stored.iter().any(|h| h.as_slice() == refresh.as_bytes()));
    // Past the session's absolute lifetime the token is dead.
    sqlx::query("UPDATE sessions SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND")
        .execute(&mut conn)
        .await?;
    assert_eq!(
        app.post("/v1/auth/refresh", json!({ "refresh_token": refresh }))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

#[tokio::test]
async fn a_grace_replay_cannot_fork_the_session_into_two_live_chains() -> TestResult {
    let app = TestApp::spawn().await;
    let (_, r0) = app.signed_up("fork@example.com", "Forked").await;
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.post("/v1/auth/refresh", json!({ "refresh_token": token }))
                .await
        }
    };
    // The victim refreshes; a thief replays the same token within the grace.
    let (_, victim) = refresh(r0.clone()).await;
    let (status, thief) = refresh(r0).await;
    assert_eq!(status, StatusCode::OK);
    let (_, r1) = tokens_of(&victim);
    let (thief_access, r1_thief) = tokens_of(&thief);
    // The victim goes on first: the thief's sibling is retired, and using it
    // is reuse, which ends the session for both.
    let (status, victim) = refresh(r1).await;
    assert_eq!(status, StatusCode::OK);
    let (victim_access, r2) = tokens_of(&victim);
    assert_eq!(refresh(r1_thief).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(r2).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get_as("/v1/me", &victim_access).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get_as("/v1/me", &thief_access).await.0,
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

#[tokio::test]
async fn a_racing_client_may_go_on_with_either_of_the_two_tokens_it_got() -> TestResult {
    let app = TestApp::spawn().await;
    for keep_second in [false, true] {
        let email = if keep_second {
            "second@example.com"
        } else {
            "first@example.com"
        };
        let (_, r0) = app.signed_up(email, "Racer").await;
        let (_, a) = app
            .post("/v1/auth/refresh", json!({ "refresh_token": r0 }))
            .await;
        let (_, b) = app
            .post("/v1/auth/refresh", json!({ "refresh_token": r0 }))
            .await;
        let kept = if keep_second {
            tokens_of(&b).1
        } else {
            tokens_of(&a).1
        };
        let (status, next) = app
            .post("/v1/auth/refresh", json!({ "refresh_token": kept }))
            .await;
        assert_eq!(status, StatusCode::OK, "{next}");
        let (access, later) = tokens_of(&next);
        assert_eq!(
            app.post("/v1/auth/refresh", json!({ "refresh_token": later }))
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(app.get_as("/v1/me", &access).await.0, StatusCode::OK);
    }
    Ok(())
}
