//! A dump of the database reveals no personal data.

use reqwest::Method;
use serde_json::json;

use crate::support::{TestApp, TestResult, address_body};

#[tokio::test]
async fn a_raw_dump_of_every_table_holds_no_email_name_phone_or_address() -> TestResult {
    let app = TestApp::spawn().await;
    let (token, _) = app
        .signed_up("dumped.person@example.com", "Dorothea Dumpling")
        .await;
    app.call(
        Method::PATCH,
        "/v1/me",
        Some(&token),
        Some(json!({ "phone": "+41791234567" })),
    )
    .await;
    let (_, address) = app
        .call(
            Method::POST,
            "/v1/me/addresses",
            Some(&token),
            Some(address_body()),
        )
        .await;
    app.call(
        Method::POST,
        "/v1/me/orders",
        Some(&token),
        Some(json!({ "address_id": address["id"], "delivery_instructions": "Leave at the blue door" })),
    )
    .await;

    let mut conn = app.db.admin_conn().await?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE()",
    )
    .fetch_all(&mut conn)
    .await?;
    let mut dump = Vec::<u8>::new();
    for table in &tables {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(column_name AS CHAR) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?",
        )
        .bind(table)
        .fetch_all(&mut conn)
        .await?;
        let concat = columns
            .iter()
            .map(|c| format!("COALESCE(CAST(`{c}` AS BINARY), '')"))
            .collect::<Vec<_>>()
            .join(", '|', ");
        let sql = format!("SELECT CONCAT({concat}) FROM `{table}`");
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut conn)
            .await?;
        for row in rows {
            dump.extend_from_slice(&row);
            dump.push(b'\n');
        }
    }
    assert!(dump.len() > 1000, "the dump is suspiciously small");
    let dump = String::from_utf8_lossy(&dump).to_lowercase();
    for needle in [
        "dumped.person",
        "example.com",
        "dorothea",
        "dumpling",
        "41791234567",
        "bahnhofstrasse",
        "zurich",
        "blue door",
        "127.0.0.1",
    ] {
        assert!(!dump.contains(needle), "the dump contains {needle:?}");
    }
    Ok(())
}
