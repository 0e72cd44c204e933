//! The audit trail records security-relevant actions in their transaction,
//! and `audit::verify` finds tampering.

use rampart_server::audit::{self, Verdict};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, TestResult, address_body};

async fn swap_records_3_and_4(conn: &mut sqlx::MySqlConnection) -> sqlx::Result<()> {
    for step in [
        "UPDATE audit_log SET seq = 100 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 4",
        "UPDATE audit_log SET seq = 4 WHERE seq = 100",
    ] {
        sqlx::query(step).execute(&mut *conn).await?;
    }
    Ok(())
}

async fn verdict(app: &TestApp) -> Verdict {
    audit::verify(&app.state.db)
        .await
        .unwrap_or_else(|e| panic!("verify: {e:#}"))
}

#[tokio::test]
async fn security_relevant_actions_are_recorded_by_id_not_by_address() -> TestResult {
    let app = TestApp::spawn().await;
    let (token, _) = app.signed_up("audited@example.com", "Audited Person").await;
    app.post(
        "/v1/auth/login",
        json!({ "email": "audited@example.com", "password": "wrong password here" }),
    )
    .await;
    app.post(
        "/v1/auth/login",
        json!({ "email": "stranger@example.com", "password": "wrong password here" }),
    )
    .await;
    app.call(
        Method::PATCH,
        "/v1/me",
        Some(&token),
        Some(json!({ "full_name": "Renamed" })),
    )
    .await;
    app.call(
        Method::POST,
        "/v1/me/addresses",
        Some(&token),
        Some(address_body()),
    )
    .await;
    app.call(Method::POST, "/v1/auth/logout", Some(&token), None)
        .await;

    let mut conn = app.db.admin_conn().await?;
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT action, outcome, target_kind FROM audit_log ORDER BY seq")
            .fetch_all(&mut conn)
            .await?;
    let actions: Vec<(&str, &str)> = rows
        .iter()
        .map(|(a, o, _)| (a.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("account.register", "success"),
            ("account.verify_email", "success"),
            ("auth.login", "success"),
            ("auth.login", "failure"),
            ("auth.login", "failure"),
            ("profile.update", "success"),
            ("address.create", "success"),
            ("auth.logout", "success"),
        ]
    );
    // The unknown e-mail appears as its blind index, never in clear.
    assert_eq!(rows[4].2.as_deref(), Some("email_bidx"));
    let dump: Vec<(Vec<u8>,)> = sqlx::query_as(
        "SELECT CONCAT_WS('|', actor_kind, HEX(actor_id), action, target_kind, HEX(target_ref), outcome, HEX(client_addr_ct), request_id) FROM audit_log",
    )
    .fetch_all(&mut conn)
    .await?;
    let text = dump
        .iter()
        .map(|(r,)| String::from_utf8_lossy(r).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !text.contains("example.com") && !text.contains("127.0.0.1") && !text.contains("Renamed")
    );
    assert_eq!(verdict(&app).await, Verdict::Intact { records: 8 });
    Ok(())
}

#[tokio::test]
async fn verify_reports_the_first_altered_removed_or_reordered_record() -> TestResult {
    let app = TestApp::spawn().await;
    for i in 0..3 {
        app.post(
            "/v1/auth/login",
            json!({ "email": format!("n{i}@example.com"), "password": "wrong password here" }),
        )
        .await;
    }
    app.signed_up("chain@example.com", "Chain").await; // 3 more records
    assert_eq!(verdict(&app).await, Verdict::Intact { records: 6 });
    let mut conn = app.db.admin_conn().await?;

    // Altered: an attacker turns a failure into a success.
    sqlx::query("UPDATE audit_log SET outcome = 'success' WHERE seq = 2")
        .execute(&mut conn)
        .await?;
    assert!(matches!(
        verdict(&app).await,
        Verdict::Broken { seq: 2, .. }
    ));
    sqlx::query("UPDATE audit_log SET outcome = 'failure' WHERE seq = 2")
        .execute(&mut conn)
        .await?;
    assert_eq!(verdict(&app).await, Verdict::Intact { records: 6 });

    // Reordered: records 3 and 4 swap places.
    swap_records_3_and_4(&mut conn).await?;
    assert!(matches!(
        verdict(&app).await,
        Verdict::Broken { seq: 3, .. }
    ));
    swap_records_3_and_4(&mut conn).await?;
    assert_eq!(verdict(&app).await, Verdict::Intact { records: 6 });

    // Removed from the middle, then from the end.
    sqlx::query("DELETE FROM audit_log WHERE seq = 6")
        .execute(&mut conn)
        .await?;
    assert!(matches!(
        verdict(&app).await,
        Verdict::Broken { seq: 6, .. }
    ));
    sqlx::query("DELETE FROM audit_log WHERE seq = 4")
        .execute(&mut conn)
        .await?;
    assert!(matches!(
        verdict(&app).await,
        Verdict::Broken { seq: 4, .. }
    ));
    Ok(())
}

#[tokio::test]
async fn concurrent_actions_neither_break_the_chain_nor_lose_a_record() -> TestResult {
    // A long hashing wait: on a busy machine the 20 sign-ins must queue, not get 503.
    let app =
        TestApp::spawn_with(json!({ "database_max_connections": 16, "hash_wait_ms": 30000 })).await;
    let (token, _) = app.signed_up("busy@example.com", "Busy").await;
    let before = match verdict(&app).await {
        Verdict::Intact { records } => records,
        broken => panic!("{broken:?}"),
    };
    let mut tasks = Vec::new();
    for i in 0..40 {
        let client = app.client.clone();
        let url = app.address.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let request = if i % 2 == 0 {
                client.post(format!("{url}/v1/me/addresses")).bearer_auth(&token).json(&address_body())
            } else {
                client
                    .post(format!("{url}/v1/auth/login"))
                    .json(&json!({ "email": format!("x{i}@example.com"), "password": "wrong password here" }))
            };
            request.send().await.map(|r| r.status())
        }));
    }
    for task in tasks {
        let status = task.await??;
        assert!(
            status == StatusCode::CREATED || status == StatusCode::UNAUTHORIZED,
            "{status}"
        );
    }
    assert_eq!(
        verdict(&app).await,
        Verdict::Intact {
            records: before + 40
        }
    );
    Ok(())
}

#[tokio::test]
async fn deleting_a_customers_key_erases_their_addresses_but_not_the_chain() -> TestResult {
    let app = TestApp::spawn().await;
    app.signed_up("forget@example.com", "Forget Me").await;
    let mut conn = app.db.admin_conn().await?;
    let row: (Vec<u8>, Vec<u8>, u64, Vec<u8>) = sqlx::query_as(
        "SELECT k.id, k.wrapped_key, l.seq, l.client_addr_ct FROM data_keys k JOIN accounts a ON a.data_key_id = k.id \
         JOIN audit_log l ON l.actor_id = a.id ORDER BY l.seq LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await?;
    let key = app
        .state
        .keys
        .ring()
        .unwrap_data_key(uuid::Uuid::from_slice(&row.0)?, &row.1)?;
    assert_eq!(
        audit::open_client_addr(&key, row.2, &row.3)
            .map(|ip| ip.to_string())
            .as_deref(),
        Some("127.0.0.1")
    );
    // Crypto-shredding: the key row goes (the account with it).
    sqlx::query("SET FOREIGN_KEY_CHECKS = 0")
        .execute(&mut conn)
        .await?;
    sqlx::query("DELETE FROM data_keys")
        .execute(&mut conn)
        .await?;
    assert!(matches!(verdict(&app).await, Verdict::Intact { .. }));
    Ok(())
}
