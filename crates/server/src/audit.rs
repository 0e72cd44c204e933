//! The audit trail: one record per security-relevant action, written in the
//! same transaction as the action, hash-chained so that `rampart audit
//! verify` finds the first record that was altered, removed or reordered.
//!
//! Actors and targets appear by id (an unknown e-mail by its blind index),
//! never by e-mail or name. The client address is sealed under the
//! customer's data key (or the audit key when there is no customer), so
//! deleting a customer's key erases it while the chain still verifies: the
//! hash covers the ciphertext, not the address.

use std::net::IpAddr;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{MySqlConnection, MySqlPool, Row};
use uuid::Uuid;

use crate::crypto::envelope::{DataKey, Field};
use crate::crypto::keyring::KeyRing;
use crate::crypto::sha256;
use crate::http::extract::RequestMeta;

#[derive(Debug, Clone, Copy)]
pub enum Actor {
    Customer(Uuid),
    Anonymous,
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub kind: &'static str,
    pub reference: Vec<u8>,
}

impl Target {
    pub fn account(id: Uuid) -> Self {
        Self {
            kind: "account",
            reference: id.as_bytes().to_vec(),
        }
    }
    pub fn session(id: Uuid) -> Self {
        Self {
            kind: "session",
            reference: id.as_bytes().to_vec(),
        }
    }
    pub fn address(id: Uuid) -> Self {
        Self {
            kind: "address",
            reference: id.as_bytes().to_vec(),
        }
    }
    pub fn order(id: Uuid) -> Self {
        Self {
            kind: "order",
            reference: id.as_bytes().to_vec(),
        }
    }
    /// An e-mail that matches no account, by its blind index.
    pub fn unknown_email(blind_index: [u8; 32]) -> Self {
        Self {
            kind: "email_bidx",
            reference: blind_index.to_vec(),
        }
    }
}

/// Which key seals the client address.
pub enum Sealer<'a> {
    Customer(&'a DataKey),
    AuditTrail,
}

pub struct Event<'a> {
    pub actor: Actor,
    pub action: &'static str,
    pub target: Option<Target>,
    pub outcome: Outcome,
    pub meta: &'a RequestMeta,
    pub sealer: Sealer<'a>,
}

impl<'a> Event<'a> {
    /// What a customer did (or tried) to their own account, with the client
    /// address sealed under their data key.
    pub fn by_customer(
        account_id: Uuid,
        action: &'static str,
        target: Target,
        outcome: Outcome,
        meta: &'a RequestMeta,
        key: &'a DataKey,
    ) -> Self {
        Self {
            actor: Actor::Customer(account_id),
            action,
            target: Some(target),
            outcome,
            meta,
            sealer: Sealer::Customer(key),
        }
    }
}

/// One stored record, as hashed.
struct Record {
    seq: u64,
    occurred_at: DateTime<Utc>,
    actor_kind: String,
    actor_id: Option<Uuid>,
    action: String,
    target_kind: Option<String>,
    target_ref: Option<Vec<u8>>,
    outcome: String,
    client_addr_ct: Option<Vec<u8>>,
    request_id: Option<String>,
    prev_hash: Vec<u8>,
}

impl Record {
    /// SHA-256 over every field, each length-prefixed so that no two
    /// different records encode alike.
    fn hash(&self) -> [u8; 32] {
        fn put(out: &mut Vec<u8>, field: Option<&[u8]>) {
            match field {
                None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
                Some(bytes) => {
                    out.extend_from_slice(
                        &u32::try_from(bytes.len())
                            .unwrap_or(u32::MAX - 1)
                            .to_be_bytes(),
                    );
                    out.extend_from_slice(bytes);
                }
            }
        }
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"rampart-audit-v1");
        put(&mut out, Some(&self.seq.to_be_bytes()));
        let time = self
            .occurred_at
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string();
        put(&mut out, Some(time.as_bytes()));
        put(&mut out, Some(self.actor_kind.as_bytes()));
        put(
            &mut out,
            self.actor_id.as_ref().map(|id| id.as_bytes().as_slice()),
        );
        put(&mut out, Some(self.action.as_bytes()));
        put(&mut out, self.target_kind.as_deref().map(str::as_bytes));
        put(&mut out, self.target_ref.as_deref());
        put(&mut out, Some(self.outcome.as_bytes()));
        put(&mut out, self.client_addr_ct.as_deref());
        put(&mut out, self.request_id.as_deref().map(str::as_bytes));
        put(&mut out, Some(&self.prev_hash));
        sha256(&out)
    }
}

fn addr_field(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Appends a record inside the caller's transaction. The head row's lock is
/// held until that transaction ends, so call this as the last statement.
pub async fn record(
    conn: &mut MySqlConnection,
    ring: &KeyRing,
    event: Event<'_>,
) -> anyhow::Result<()> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
        .fetch_one(&mut *conn)
        .await?;
    let prev_seq: u64 = head.try_get("seq")?;
    let prev_hash: Vec<u8> = head.try_get("hash")?;
    let seq = prev_seq + 1;

    let seq_bytes = addr_field(seq);
    let field = Field::new("audit_log", "client_addr", &seq_bytes);
    let addr = event.meta.client.0.to_string();
    let client_addr_ct = match event.sealer {
        Sealer::Customer(key) => key.seal(field, addr.as_bytes())?,
        Sealer::AuditTrail => ring.seal_audit(field, addr.as_bytes())?,
    };
    let (actor_kind, actor_id) = match event.actor {
        Actor::Customer(id) => ("customer", Some(id)),
        Actor::Anonymous => ("anonymous", None),
        Actor::System => ("system", None),
    };
    let record = Record {
        seq,
        occurred_at: Utc::now().trunc_subsecs(6),
        actor_kind: actor_kind.to_owned(),
        actor_id,
        action: event.action.to_owned(),
        target_kind: event.target.as_ref().map(|t| t.kind.to_owned()),
        target_ref: event.target.map(|t| t.reference),
        outcome: event.outcome.as_str().to_owned(),
        client_addr_ct: Some(client_addr_ct),
        request_id: Some(event.meta.request_id.clone()),
        prev_hash,
    };
    let hash = record.hash();
    sqlx::query(
        "INSERT INTO audit_log (seq, occurred_at, actor_kind, actor_id, action, target_kind, target_ref, \
         outcome, client_addr_ct, request_id, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(record.seq)
    .bind(record.occurred_at)
    .bind(&record.actor_kind)
    .bind(record.actor_id)
    .bind(&record.action)
    .bind(&record.target_kind)
    .bind(&record.target_ref)
    .bind(&record.outcome)
    .bind(&record.client_addr_ct)
    .bind(&record.request_id)
    .bind(&record.prev_hash)
    .bind(hash.as_slice())
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1")
        .bind(seq)
        .bind(hash.as_slice())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records a change a customer made to their own data (addresses, orders).
pub async fn record_customer_change(
    conn: &mut MySqlConnection,
    ring: &KeyRing,
    key: &DataKey,
    account_id: Uuid,
    meta: &RequestMeta,
    action: &'static str,
    target: Target,
) -> anyhow::Result<()> {
    let event = Event::by_customer(account_id, action, target, Outcome::Success, meta, key);
    record(conn, ring, event).await
}

/// Writes one record in a transaction of its own (for events with no other
/// database change, such as a failed sign-in).
pub async fn record_alone(db: &MySqlPool, ring: &KeyRing, event: Event<'_>) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    record(&mut tx, ring, event).await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every record checks out.
    Intact { records: u64 },
    /// The first record that does not; `seq` is where the chain breaks.
    Broken { seq: u64, reason: String },
}

/// Walks the whole chain in order and reports the first break.
pub async fn verify(db: &MySqlPool) -> anyhow::Result<Verdict> {
    use futures_util::TryStreamExt as _;
    // The head first: records appended while we walk lie beyond it and are
    // left for the next run, so a busy server reads as intact.
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(db)
        .await?;
    let head_seq: u64 = head.try_get("seq")?;
    let head_hash: Vec<u8> = head.try_get("hash")?;
    let mut rows = sqlx::query(
        "SELECT seq, occurred_at, actor_kind, actor_id, action, target_kind, target_ref, outcome, \
         client_addr_ct, request_id, prev_hash, hash FROM audit_log WHERE seq <= ? ORDER BY seq",
    )
    .bind(head_seq)
    .fetch(db);
    let mut expected_seq = 1u64;
    let mut expected_prev = vec![0u8; 32];
    while let Some(row) = rows.try_next().await? {
        let record = Record {
            seq: row.try_get("seq")?,
            occurred_at: row.try_get("occurred_at")?,
            actor_kind: row.try_get("actor_kind")?,
            actor_id: row.try_get("actor_id")?,
            action: row.try_get("action")?,
            target_kind: row.try_get("target_kind")?,
            target_ref: row.try_get("target_ref")?,
            outcome: row.try_get("outcome")?,
            client_addr_ct: row.try_get("client_addr_ct")?,
            request_id: row.try_get("request_id")?,
            prev_hash: row.try_get("prev_hash")?,
        };
        let stored: Vec<u8> = row.try_get("hash")?;
        if record.seq != expected_seq {
            return Ok(Verdict::Broken {
                seq: expected_seq,
                reason: format!("record {expected_seq} is missing (next is {})", record.seq),
            });
        }
        if record.prev_hash != expected_prev {
            return Ok(Verdict::Broken {
                seq: record.seq,
                reason: format!(
                    "record {} does not follow record {}: one was removed, reordered or altered",
                    record.seq,
                    record.seq - 1
                ),
            });
        }
        if record.hash().as_slice() != stored.as_slice() {
            return Ok(Verdict::Broken {
                seq: record.seq,
                reason: format!("record {} was altered", record.seq),
            });
        }
        expected_seq += 1;
        expected_prev = stored;
    }
    drop(rows);
    let records = expected_seq - 1;
    if head_seq != records || head_hash != expected_prev {
        return Ok(Verdict::Broken {
            seq: records + 1,
            reason: format!(
                "the chain ends at record {records} but its head says {head_seq}: records were removed from the end"
            ),
        });
    }
    Ok(Verdict::Intact { records })
}

/// The client address of a record, if its key still exists.
pub fn open_client_addr(key: &DataKey, seq: u64, stored: &[u8]) -> Option<IpAddr> {
    let seq_bytes = addr_field(seq);
    let plain = key
        .open(Field::new("audit_log", "client_addr", &seq_bytes), stored)
        .ok()?;
    std::str::from_utf8(&plain).ok()?.parse().ok()
}
