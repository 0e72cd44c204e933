//! Customers see and change only their own addresses and orders; anybody
//! else's id is "not found", never "forbidden" and never data.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, TestResult, address_body};

async fn create_address(app: &TestApp, token: &str) -> String {
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/me/addresses",
            Some(token),
            Some(address_body()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap_or_default().to_owned()
}

async fn create_order(app: &TestApp, token: &str, address_id: &str) -> Value {
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/me/orders",
            Some(token),
            Some(json!({ "address_id": address_id })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

#[tokio::test]
async fn another_customers_addresses_and_orders_are_not_found() -> TestResult {
    let app = TestApp::spawn().await;
    let (alice, _) = app.signed_up("alice@example.com", "Alice").await;
    let (mallory, _) = app.signed_up("mallory@example.com", "Mallory").await;
    let address = create_address(&app, &alice).await;
    let order = create_order(&app, &alice, &address).await;
    let order_id = order["id"].as_str().unwrap_or_default();

    let attempts = [
        (Method::GET, format!("/v1/me/addresses/{address}"), None),
        (
            Method::PUT,
            format!("/v1/me/addresses/{address}"),
            Some(address_body()),
        ),
        (Method::DELETE, format!("/v1/me/addresses/{address}"), None),
        (Method::GET, format!("/v1/me/orders/{order_id}"), None),
        (
            Method::POST,
            format!("/v1/me/orders/{order_id}/cancel"),
            None,
        ),
        (
            Method::POST,
            "/v1/me/orders".to_owned(),
            Some(json!({ "address_id": address })),
        ),
    ];
    for (method, path, body) in attempts {
        let (status, answer) = app.call(method.clone(), &path, Some(&mallory), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
        assert!(!answer.to_string().contains("Bahnhofstrasse"));
    }
    assert_eq!(app.get_as("/v1/me/orders", &mallory).await.1, json!([]));
    assert_eq!(app.get_as("/v1/me/addresses", &mallory).await.1, json!([]));
    // Alice's data is untouched.
    let (status, fetched) = app
        .get_as(&format!("/v1/me/orders/{order_id}"), &alice)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["status"], "placed");
    assert_eq!(
        app.get_as(&format!("/v1/me/addresses/{address}"), &alice)
            .await
            .0,
        StatusCode::OK
    );
    Ok(())
}

#[tokio::test]
async fn an_order_can_be_cancelled_only_until_it_ships() -> TestResult {
    let app = TestApp::spawn().await;
    let (token, _) = app.signed_up("buyer@example.com", "Buyer").await;
    let address = create_address(&app, &token).await;
    let mut conn = app.db.admin_conn().await?;
    for (status, may_cancel) in [
        ("placed", true),
        ("preparing", true),
        ("shipped", false),
        ("delivered", false),
    ] {
        let order = create_order(&app, &token, &address).await;
        let id = order["id"].as_str().unwrap_or_default().to_owned();
        sqlx::query("UPDATE orders SET status = ? WHERE id = ?")
            .bind(status)
            .bind(uuid::Uuid::parse_str(&id)?)
            .execute(&mut conn)
            .await?;
        let (code, body) = app
            .call(
                Method::POST,
                &format!("/v1/me/orders/{id}/cancel"),
                Some(&token),
                None,
            )
            .await;
        if may_cancel {
            assert_eq!(code, StatusCode::OK, "{status}: {body}");
            assert_eq!(body["status"], "cancelled");
            // Cancelling twice is a conflict.
            let (code, _) = app
                .call(
                    Method::POST,
                    &format!("/v1/me/orders/{id}/cancel"),
                    Some(&token),
                    None,
                )
                .await;
            assert_eq!(code, StatusCode::CONFLICT);
        } else {
            assert_eq!(code, StatusCode::CONFLICT, "{status}: {body}");
            assert_eq!(crate::support::slug(&body), "order-not-cancellable");
        }
    }
    Ok(())
}

#[tokio::test]
async fn an_order_keeps_its_address_when_the_address_changes_or_goes() -> TestResult {
    let app = TestApp::spawn().await;
    let (token, _) = app.signed_up("keeper@example.com", "Keeper").await;
    let address = create_address(&app, &token).await;
    let order = create_order(&app, &token, &address).await;
    let id = order["id"].as_str().unwrap_or_default();

    let mut moved = address_body();
    moved["city"] = json!("Geneva");
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/v1/me/addresses/{address}"),
            Some(&token),
            Some(moved),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.get_as(&format!("/v1/me/orders/{id}"), &token).await.1["delivery_address"]["city"],
        "Zurich"
    );

    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/me/addresses/{address}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, kept) = app.get_as(&format!("/v1/me/orders/{id}"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kept["delivery_address"]["city"], "Zurich");
    assert_eq!(kept["address_id"], Value::Null);
    Ok(())
}
