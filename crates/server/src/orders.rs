//! `/v1/me/orders`: a customer's own orders. An order keeps its own sealed
//! copy of the delivery address, so editing or deleting the address later
//! does not change where the order goes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use rampart_protocol::{CreateOrderRequest, DeliveryAddress, Order, OrderStatus, Problem};
use sqlx::{MySqlConnection, Row};
use uuid::Uuid;

use crate::accounts::addresses::{self, created};
use crate::accounts::data_key;
use crate::audit::{self, Target};
use crate::auth::Authenticated;
use crate::crypto::envelope::{DataKey, Field};
use crate::http::extract::{ApiJson, IdPath, RequestMeta};
use crate::http::{ApiError, ApiResult};
use crate::state::AppState;

macro_rules! order_columns {
    () => {
        "id, address_id, delivery_address_ct, instructions_ct, status, created_at, updated_at"
    };
}

fn from_row(key: &DataKey, row: &sqlx::mysql::MySqlRow) -> anyhow::Result<Order> {
    let id: Uuid = row.try_get("id")?;
    let address_ct: Vec<u8> = row.try_get("delivery_address_ct")?;
    let instructions_ct: Vec<u8> = row.try_get("instructions_ct")?;
    let status: String = row.try_get("status")?;
    let delivery_address: DeliveryAddress = serde_json::from_slice(&key.open(
        Field::new("orders", "delivery_address", id.as_bytes()),
        &address_ct,
    )?)?;
    Ok(Order {
        id,
        status: OrderStatus::parse(&status)
            .ok_or_else(|| anyhow::anyhow!("unknown order status {status}"))?,
        address_id: row.try_get("address_id")?,
        delivery_address,
        delivery_instructions: key.open_string(
            Field::new("orders", "instructions", id.as_bytes()),
            &instructions_ct,
        )?,
        created_at: row.try_get::<DateTime<Utc>, _>("created_at")?,
        updated_at: row.try_get::<DateTime<Utc>, _>("updated_at")?,
    })
}

async fn find_own(
    conn: &mut MySqlConnection,
    key: &DataKey,
    account_id: Uuid,
    id: Uuid,
) -> anyhow::Result<Option<Order>> {
    let sql = concat!(
        "SELECT ",
        order_columns!(),
        " FROM orders WHERE id = ? AND account_id = ?"
    );
    let row = sqlx::query(sql)
        .bind(id)
        .bind(account_id)
        .fetch_optional(conn)
        .await?;
    row.map(|row| from_row(key, &row)).transpose()
}

#[utoipa::path(
    get, path = "/v1/me/orders", tag = "orders",
    security(("bearer" = [])),
    responses((status = 200, description = "Your orders, newest first (at most 100)", body = [Order]))
)]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
) -> ApiResult<Json<Vec<Order>>> {
    let mut conn = state.db.acquire().await?;
    let key = data_key(&mut conn, &state.keys.ring(), claims.account_id).await?;
    let sql = concat!(
        "SELECT ",
        order_columns!(),
        " FROM orders WHERE account_id = ? ORDER BY created_at DESC, id DESC LIMIT 100"
    );
    let rows = sqlx::query(sql)
        .bind(claims.account_id)
        .fetch_all(&mut *conn)
        .await?;
    let orders = rows
        .iter()
        .map(|row| from_row(&key, row))
        .collect::<anyhow::Result<_>>()?;
    Ok(Json(orders))
}

#[utoipa::path(
    post, path = "/v1/me/orders", tag = "orders",
    security(("bearer" = [])),
    request_body = CreateOrderRequest,
    responses(
        (status = 201, description = "Placed; `Location` names it", body = Order),
        (status = 404, description = "`address_id` is not one of your addresses", body = Problem),
        (status = 422, description = "A field is invalid", body = Problem),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    meta: RequestMeta,
    ApiJson(request): ApiJson<CreateOrderRequest>,
) -> ApiResult<Response> {
    let account_id = claims.account_id;
    let ring = state.keys.ring();
    let mut tx = state.db.begin().await?;
    let key = data_key(&mut tx, &ring, account_id).await?;
    // Someone else's address id is "not found", exactly like a random one.
    let address = addresses::find_own(&mut tx, &key, account_id, request.address_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let id = Uuid::now_v7();
    let now = Utc::now();
    let copy = DeliveryAddress {
        label: address.label,
        line1: address.line1,
        line2: address.line2,
        city: address.city,
        postal_code: address.postal_code,
        country: address.country,
    };
    let instructions = request
        .delivery_instructions
        .as_ref()
        .map_or("", |i| i.as_str());
    sqlx::query(
        "INSERT INTO orders (id, account_id, address_id, delivery_address_ct, instructions_ct, status, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(account_id)
    .bind(address.id)
    .bind(key.seal(Field::new("orders", "delivery_address", id.as_bytes()), &serde_json::to_vec(&copy)?)?)
    .bind(key.seal_str(Field::new("orders", "instructions", id.as_bytes()), instructions)?)
    .bind(OrderStatus::Placed.as_str())
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit::record_customer_change(
        &mut tx,
        &state.keys.ring(),
        &key,
        account_id,
        &meta,
        "order.create",
        Target::order(id),
    )
    .await?;
    let order = find_own(&mut tx, &key, account_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(created(&format!("/v1/me/orders/{id}"), order))
}

#[utoipa::path(
    get, path = "/v1/me/orders/{id}", tag = "orders",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, body = Order),
        (status = 404, description = "No such order of yours", body = Problem),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    IdPath(id): IdPath,
) -> ApiResult<Json<Order>> {
    let mut conn = state.db.acquire().await?;
    let key = data_key(&mut conn, &state.keys.ring(), claims.account_id).await?;
    find_own(&mut conn, &key, claims.account_id, id)
        .await?
        .map(Json)
        .ok_or_else(ApiError::not_found)
}

#[utoipa::path(
    post, path = "/v1/me/orders/{id}/cancel", tag = "orders",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "Cancelled", body = Order),
        (status = 404, description = "No such order of yours", body = Problem),
        (status = 409, description = "Already shipped, delivered or cancelled (`order-not-cancellable`)", body = Problem),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    meta: RequestMeta,
    IdPath(id): IdPath,
) -> ApiResult<Json<Order>> {
    let account_id = claims.account_id;
    let mut tx = state.db.begin().await?;
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM orders WHERE id = ? AND account_id = ? FOR UPDATE")
            .bind(id)
            .bind(account_id)
            .fetch_optional(&mut *tx)
            .await?;
    let status = status.ok_or_else(ApiError::not_found)?;
    if !OrderStatus::parse(&status).is_some_and(OrderStatus::customer_may_cancel) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "order-not-cancellable",
            "This order can no longer be cancelled",
        ));
    }
    sqlx::query("UPDATE orders SET status = ?, updated_at = ? WHERE id = ?")
        .bind(OrderStatus::Cancelled.as_str())
        .bind(Utc::now())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let key = data_key(&mut tx, &state.keys.ring(), account_id).await?;
    audit::record_customer_change(
        &mut tx,
        &state.keys.ring(),
        &key,
        account_id,
        &meta,
        "order.cancel",
        Target::order(id),
    )
    .await?;
    let order = find_own(&mut tx, &key, account_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(Json(order))
}
