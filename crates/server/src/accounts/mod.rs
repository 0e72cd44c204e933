//! Customer accounts: how they are stored (personal fields sealed under the
//! customer's data key) and the `/v1/me` routes.

pub mod addresses;
pub mod email;
pub mod profile;
pub mod sessions;

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, Row};
use uuid::Uuid;

use crate::crypto::envelope::{DataKey, Field};
use crate::crypto::keyring::KeyRing;

pub const TABLE: &str = "accounts";

/// Where each personal field of an account is sealed.
pub fn field<'a>(column: &'static str, id: &'a Uuid) -> Field<'a> {
    Field::new(TABLE, column, id.as_bytes())
}

/// An account row with its data key, as sign-in and the profile need it.
pub struct AccountRow {
    pub id: Uuid,
    pub email_ct: Vec<u8>,
    pub full_name_ct: Vec<u8>,
    pub phone_ct: Option<Vec<u8>>,
    pub password_hash: String,
    pub data_key_id: Uuid,
    pub wrapped_key: Vec<u8>,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The columns `AccountRow::from_row` reads, for `concat!` into queries
/// (sqlx only takes SQL that is a literal).
#[macro_export]
macro_rules! account_columns {
    () => {
        "a.id, a.email_ct, a.full_name_ct, a.phone_ct, a.password_hash, \
         a.data_key_id, k.wrapped_key, a.email_verified_at, a.created_at"
    };
}

impl AccountRow {
    pub fn from_row(row: &sqlx::mysql::MySqlRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            email_ct: row.try_get("email_ct")?,
            full_name_ct: row.try_get("full_name_ct")?,
            phone_ct: row.try_get("phone_ct")?,
            password_hash: row.try_get("password_hash")?,
            data_key_id: row.try_get("data_key_id")?,
            wrapped_key: row.try_get("wrapped_key")?,
            email_verified_at: row.try_get("email_verified_at")?,
            created_at: row.try_get("created_at")?,
        })
    }

    pub fn data_key(&self, ring: &KeyRing) -> anyhow::Result<DataKey> {
        Ok(ring.unwrap_data_key(self.data_key_id, &self.wrapped_key)?)
    }

    pub fn email(&self, key: &DataKey) -> anyhow::Result<String> {
        Ok(key.open_string(field("email", &self.id), &self.email_ct)?)
    }

    pub fn full_name(&self, key: &DataKey) -> anyhow::Result<String> {
        Ok(key.open_string(field("full_name", &self.id), &self.full_name_ct)?)
    }

    pub fn phone(&self, key: &DataKey) -> anyhow::Result<Option<String>> {
        self.phone_ct
            .as_deref()
            .map(|ct| key.open_string(field("phone", &self.id), ct))
            .transpose()
            .map_err(Into::into)
    }
}

pub async fn find_by_email_index(
    conn: &mut MySqlConnection,
    blind_index: &[u8; 32],
) -> sqlx::Result<Option<AccountRow>> {
    let sql = concat!(
        "SELECT ",
        account_columns!(),
        " FROM accounts a JOIN data_keys k ON k.id = a.data_key_id WHERE a.email_bidx = ?"
    );
    let row = sqlx::query(sql)
        .bind(blind_index.as_slice())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(AccountRow::from_row).transpose()
}

pub async fn find_by_id(conn: &mut MySqlConnection, id: Uuid) -> sqlx::Result<Option<AccountRow>> {
    let sql = concat!(
        "SELECT ",
        account_columns!(),
        " FROM accounts a JOIN data_keys k ON k.id = a.data_key_id WHERE a.id = ?"
    );
    let row = sqlx::query(sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(AccountRow::from_row).transpose()
}

/// The data key of an account, for handlers that seal or open its data.
pub async fn data_key(
    conn: &mut MySqlConnection,
    ring: &KeyRing,
    account_id: Uuid,
) -> anyhow::Result<DataKey> {
    let row = sqlx::query(
        "SELECT k.id, k.wrapped_key FROM accounts a JOIN data_keys k ON k.id = a.data_key_id WHERE a.id = ?",
    )
    .bind(account_id)
    .fetch_one(conn)
    .await?;
    Ok(ring.unwrap_data_key(
        row.try_get("id")?,
        &row.try_get::<Vec<u8>, _>("wrapped_key")?,
    )?)
}
