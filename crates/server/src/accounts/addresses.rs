//! `/v1/me/addresses`: the customer's own delivery addresses. Each address
//! is stored as one JSON document sealed under the customer's data key.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use rampart_protocol::{Address, AddressInput, DeliveryAddress, Problem};
use sqlx::{MySqlConnection, Row};
use uuid::Uuid;

use crate::audit::{self, Target};
use crate::auth::Authenticated;
use crate::crypto::envelope::{DataKey, Field};
use crate::http::extract::{ApiJson, IdPath, NoContent, RequestMeta};
use crate::http::{ApiError, ApiResult};
use crate::state::AppState;

/// A customer may keep this many addresses.
pub const MAX_ADDRESSES: i64 = 50;

fn address_field(id: &Uuid) -> Field<'_> {
    Field::new("addresses", "address", id.as_bytes())
}

pub fn to_plain(input: &AddressInput) -> DeliveryAddress {
    DeliveryAddress {
        label: input.label.as_str().to_owned(),
        line1: input.line1.as_str().to_owned(),
        line2: input.line2.as_ref().map(|l| l.as_str().to_owned()),
        city: input.city.as_str().to_owned(),
        postal_code: input.postal_code.as_str().to_owned(),
        country: input.country.as_str().to_owned(),
    }
}

fn seal(key: &DataKey, id: &Uuid, input: &AddressInput) -> anyhow::Result<Vec<u8>> {
    let json = serde_json::to_vec(&to_plain(input))?;
    Ok(key.seal(address_field(id), &json)?)
}

fn from_row(key: &DataKey, row: &sqlx::mysql::MySqlRow) -> anyhow::Result<Address> {
    let id: Uuid = row.try_get("id")?;
    let stored: Vec<u8> = row.try_get("address_ct")?;
    let plain: DeliveryAddress = serde_json::from_slice(&key.open(address_field(&id), &stored)?)?;
    Ok(Address {
        id,
        label: plain.label,
        line1: plain.line1,
        line2: plain.line2,
        city: plain.city,
        postal_code: plain.postal_code,
        country: plain.country,
        created_at: row.try_get::<DateTime<Utc>, _>("created_at")?,
        updated_at: row.try_get::<DateTime<Utc>, _>("updated_at")?,
    })
}

/// One of the customer's own addresses, decrypted; `None` for anybody
/// else's (the caller answers 404 either way).
pub async fn find_own(
    conn: &mut MySqlConnection,
    key: &DataKey,
    account_id: Uuid,
    id: Uuid,
) -> anyhow::Result<Option<Address>> {
    let row = sqlx::query(
        "SELECT id, address_ct, created_at, updated_at FROM addresses WHERE id = ? AND account_id = ?",
    )
    .bind(id)
    .bind(account_id)
    .fetch_optional(conn)
    .await?;
    row.map(|row| from_row(key, &row)).transpose()
}

#[utoipa::path(
    get, path = "/v1/me/addresses", tag = "addresses",
    security(("bearer" = [])),
    responses((status = 200, description = "Your addresses, oldest first", body = [Address]))
)]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
) -> ApiResult<Json<Vec<Address>>> {
    let mut conn = state.db.acquire().await?;
    let key = super::data_key(&mut conn, &state.keys.ring(), claims.account_id).await?;
    let rows = sqlx::query(
        "SELECT id, address_ct, created_at, updated_at FROM addresses WHERE account_id = ? ORDER BY created_at, id",
    )
    .bind(claims.account_id)
    .fetch_all(&mut *conn)
    .await?;
    let addresses = rows
        .iter()
        .map(|row| from_row(&key, row))
        .collect::<anyhow::Result<_>>()?;
    Ok(Json(addresses))
}

#[utoipa::path(
    post, path = "/v1/me/addresses", tag = "addresses",
    security(("bearer" = [])),
    request_body = AddressInput,
    responses(
        (status = 201, description = "Created; `Location` names it", body = Address),
        (status = 409, description = "You already have the most addresses allowed (`too-many-addresses`)", body = Problem),
        (status = 422, description = "A field is invalid", body = Problem),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    meta: RequestMeta,
    ApiJson(input): ApiJson<AddressInput>,
) -> ApiResult<Response> {
    let account_id = claims.account_id;
    let mut tx = state.db.begin().await?;
    let key = super::data_key(&mut tx, &state.keys.ring(), account_id).await?;
    // Lock the account row so that concurrent creates respect the limit.
    sqlx::query("SELECT id FROM accounts WHERE id = ? FOR UPDATE")
        .bind(account_id)
        .fetch_one(&mut *tx)
        .await?;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM addresses WHERE account_id = ?")
        .bind(account_id)
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_ADDRESSES {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "too-many-addresses",
            "You have the most addresses allowed; delete one first",
        ));
    }
    let id = Uuid::now_v7();
    let now = Utc::now();
    sqlx::query(
        "INSERT INTO addresses (id, account_id, address_ct, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(account_id)
    .bind(seal(&key, &id, &input)?)
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
        "address.create",
        Target::address(id),
    )
    .await?;
    let address = find_own(&mut tx, &key, account_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(created(&format!("/v1/me/addresses/{id}"), address))
}

/// 201 Created with a `Location` header and the new resource as the body.
pub fn created<T: serde::Serialize>(location: &str, body: T) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

#[utoipa::path(
    get, path = "/v1/me/addresses/{id}", tag = "addresses",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Address id")),
    responses(
        (status = 200, body = Address),
        (status = 404, description = "No such address of yours", body = Problem),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    IdPath(id): IdPath,
) -> ApiResult<Json<Address>> {
    let mut conn = state.db.acquire().await?;
    let key = super::data_key(&mut conn, &state.keys.ring(), claims.account_id).await?;
    let address = find_own(&mut conn, &key, claims.account_id, id).await?;
    address.map(Json).ok_or_else(ApiError::not_found)
}

#[utoipa::path(
    put, path = "/v1/me/addresses/{id}", tag = "addresses",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Address id")),
    request_body = AddressInput,
    responses(
        (status = 200, description = "Replaced", body = Address),
        (status = 404, description = "No such address of yours", body = Problem),
        (status = 422, description = "A field is invalid", body = Problem),
    )
)]
pub async fn replace(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    meta: RequestMeta,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<AddressInput>,
) -> ApiResult<Json<Address>> {
    let account_id = claims.account_id;
    let mut tx = state.db.begin().await?;
    let key = super::data_key(&mut tx, &state.keys.ring(), account_id).await?;
    let updated = sqlx::query(
        "UPDATE addresses SET address_ct = ?, updated_at = ? WHERE id = ? AND account_id = ?",
    )
    .bind(seal(&key, &id, &input)?)
    .bind(Utc::now())
    .bind(id)
    .bind(account_id)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(ApiError::not_found());
    }
    audit::record_customer_change(
        &mut tx,
        &state.keys.ring(),
        &key,
        account_id,
        &meta,
        "address.update",
        Target::address(id),
    )
    .await?;
    let address = find_own(&mut tx, &key, account_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(Json(address))
}

#[utoipa::path(
    delete, path = "/v1/me/addresses/{id}", tag = "addresses",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Address id")),
    responses(
        (status = 204, description = "Deleted; orders placed with it keep their own copy"),
        (status = 404, description = "No such address of yours", body = Problem),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    meta: RequestMeta,
    IdPath(id): IdPath,
) -> ApiResult<NoContent> {
    let account_id = claims.account_id;
    let mut tx = state.db.begin().await?;
    let deleted = sqlx::query("DELETE FROM addresses WHERE id = ? AND account_id = ?")
        .bind(id)
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    if deleted.rows_affected() != 1 {
        return Err(ApiError::not_found());
    }
    let key = super::data_key(&mut tx, &state.keys.ring(), account_id).await?;
    audit::record_customer_change(
        &mut tx,
        &state.keys.ring(),
        &key,
        account_id,
        &meta,
        "address.delete",
        Target::address(id),
    )
    .await?;
    tx.commit().await?;
    Ok(NoContent)
}
