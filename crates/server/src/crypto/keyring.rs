//! The key ring: token signing keys, the keys that wrap customers' data keys,
//! the audit trail's key and the blind-index key. It lives in the database,
//! each secret sealed under the master key from configuration, so every API
//! instance sees the same ring; instances poll a version counter and reload
//! when a rotation bumps it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, anyhow};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{DecodingKey, EncodingKey};
use sqlx::{MySqlPool, Row};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::envelope::{self, DataKey, Field, KeyRef};
use super::{CryptoError, SymmetricKey};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Ed25519 keys that sign access tokens.
    Signing,
    /// AES keys that wrap customers' data keys.
    Wrapping,
    /// AES keys for audit data that belongs to no customer.
    Audit,
    /// The HMAC key of the e-mail blind index. It does not rotate: a new key
    /// would need every address re-indexed (see docs/decisions).
    BlindIndex,
}

impl Purpose {
    pub const ALL: [Purpose; 4] = [Self::Signing, Self::Wrapping, Self::Audit, Self::BlindIndex];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signing => "signing",
            Self::Wrapping => "wrapping",
            Self::Audit => "audit",
            Self::BlindIndex => "blind_index",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

pub struct SigningKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// The raw Ed25519 public key, base64url: the JWK's `x`.
    pub public_x: String,
    pub activated_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

/// One loaded version of the ring.
pub struct KeyRing {
    pub version: i64,
    /// Newest activation first.
    signing: Vec<SigningKey>,
    wrapping: HashMap<String, SymmetricKey>,
    current_wrapping: String,
    audit: HashMap<String, SymmetricKey>,
    current_audit: String,
    blind_index: SymmetricKey,
}

impl KeyRing {
    /// The key that signs new tokens now.
    pub fn current_signing(&self, now: DateTime<Utc>) -> Option<&SigningKey> {
        self.signing
            .iter()
            .find(|k| k.activated_at <= now && k.retired_at.is_none_or(|r| r > now))
    }

    /// Keys whose tokens may still be valid (or soon will be): published in
    /// the JWKS and accepted by verification.
    pub fn published_signing(
        &self,
        now: DateTime<Utc>,
        token_ttl: Duration,
    ) -> impl Iterator<Item = &SigningKey> {
        let ttl = chrono::Duration::from_std(token_ttl).unwrap_or(chrono::Duration::MAX);
        let leeway = chrono::Duration::seconds(60);
        self.signing
            .iter()
            .filter(move |k| k.retired_at.is_none_or(|r| r + ttl + leeway > now))
    }

    pub fn blind_index(&self, normalized: &[u8]) -> [u8; 32] {
        self.blind_index.mac(normalized)
    }

    /// Wraps a new customer data key under the current wrapping key.
    pub fn wrap_data_key(&self, key: &DataKey) -> Result<(String, Vec<u8>), CryptoError> {
        let kid = self.current_wrapping.clone();
        let wrapping = self
            .wrapping
            .get(&kid)
            .ok_or_else(|| CryptoError::UnknownKey(kid.clone()))?;
        let field = Field::new("data_keys", "wrapped_key", key.id.as_bytes());
        let wrapped = envelope::seal(
            wrapping,
            &KeyRef::Ring(kid.clone()),
            field,
            key.key().as_bytes(),
        )?;
        Ok((kid, wrapped))
    }

    pub fn unwrap_data_key(&self, id: Uuid, wrapped: &[u8]) -> Result<DataKey, CryptoError> {
        let (key_ref, _) = envelope::key_ref(wrapped)?;
        let KeyRef::Ring(kid) = &key_ref else {
            return Err(CryptoError::Malformed);
        };
        let wrapping = self
            .wrapping
            .get(kid)
            .ok_or_else(|| CryptoError::UnknownKey(kid.clone()))?;
        let field = Field::new("data_keys", "wrapped_key", id.as_bytes());
        let raw = envelope::open(wrapping, &key_ref, field, wrapped)?;
        Ok(DataKey::from_parts(id, SymmetricKey::from_slice(&raw)?))
    }

    pub fn current_wrapping_kid(&self) -> &str {
        &self.current_wrapping
    }

    /// Seals audit data that belongs to no customer.
    pub fn seal_audit(&self, field: Field<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let kid = &self.current_audit;
        let key = self
            .audit
            .get(kid)
            .ok_or_else(|| CryptoError::UnknownKey(kid.clone()))?;
        envelope::seal(key, &KeyRef::Ring(kid.clone()), field, plaintext)
    }

    pub fn open_audit(
        &self,
        field: Field<'_>,
        stored: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (key_ref, _) = envelope::key_ref(stored)?;
        let KeyRef::Ring(kid) = &key_ref else {
            return Err(CryptoError::Malformed);
        };
        let key = self
            .audit
            .get(kid)
            .ok_or_else(|| CryptoError::UnknownKey(kid.clone()))?;
        envelope::open(key, &key_ref, field, stored)
    }
}

/// The live ring of one instance, swapped whole on reload.
pub struct Keys {
    master: SymmetricKey,
    current: RwLock<Arc<KeyRing>>,
}

impl Keys {
    /// Creates whatever keys are missing, then loads the ring.
    pub async fn open(db: &MySqlPool, master: SymmetricKey) -> anyhow::Result<Arc<Self>> {
        ensure_initialized(db, &master).await?;
        let ring = load(db, &master).await?;
        Ok(Arc::new(Self {
            master,
            current: RwLock::new(Arc::new(ring)),
        }))
    }

    pub fn ring(&self) -> Arc<KeyRing> {
        // A poisoned lock means a reload panicked half-way; the Arc inside is
        // still a complete ring, so keep serving it.
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Reloads the ring if its version in the database changed.
    pub async fn refresh(&self, db: &MySqlPool) -> anyhow::Result<bool> {
        let version: i64 = sqlx::query_scalar("SELECT version FROM key_ring_version WHERE id = 1")
            .fetch_one(db)
            .await?;
        if version == self.ring().version {
            return Ok(false);
        }
        let ring = Arc::new(load(db, &self.master).await?);
        match self.current.write() {
            Ok(mut guard) => *guard = ring,
            Err(poisoned) => *poisoned.into_inner() = ring,
        }
        tracing::info!(version, "key ring reloaded");
        Ok(true)
    }

    /// Polls for rotations made by other instances or the CLI.
    pub fn spawn_poller(self: &Arc<Self>, db: MySqlPool, every: Duration) {
        let keys = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(error) = keys.refresh(&db).await {
                    tracing::warn!(error = %error, "key ring reload failed; keeping the loaded ring");
                }
            }
        });
    }
}

fn ring_aad(kid: &str, purpose: Purpose) -> Vec<u8> {
    format!("key_ring\0{kid}\0{}", purpose.as_str()).into_bytes()
}

fn new_kid(purpose: Purpose) -> String {
    let short = Uuid::new_v4().simple().to_string();
    format!("{}-{}", purpose.as_str().replace('_', "-"), &short[..12])
}

struct NewKey {
    kid: String,
    secret: Zeroizing<Vec<u8>>,
    public_key: Option<Vec<u8>>,
}

fn generate(purpose: Purpose) -> anyhow::Result<NewKey> {
    let kid = new_kid(purpose);
    match purpose {
        Purpose::Signing => {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
                .map_err(|_| anyhow!("generating an Ed25519 key failed"))?;
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
                .map_err(|_| anyhow!("reading a new Ed25519 key failed"))?;
            Ok(NewKey {
                kid,
                secret: Zeroizing::new(pkcs8.as_ref().to_vec()),
                public_key: Some(pair.public_key().as_ref().to_vec()),
            })
        }
        _ => Ok(NewKey {
            kid,
            secret: Zeroizing::new(SymmetricKey::generate()?.as_bytes().to_vec()),
            public_key: None,
        }),
    }
}

async fn insert_key(
    tx: &mut sqlx::MySqlConnection,
    master: &SymmetricKey,
    purpose: Purpose,
    activated_at: DateTime<Utc>,
) -> anyhow::Result<String> {
    let key = generate(purpose)?;
    let wrapped = master.seal(&ring_aad(&key.kid, purpose), &key.secret)?;
    sqlx::query(
        "INSERT INTO key_ring (kid, purpose, wrapped_secret, public_key, created_at, activated_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&key.kid)
    .bind(purpose.as_str())
    .bind(wrapped)
    .bind(key.public_key)
    .bind(Utc::now())
    .bind(activated_at)
    .execute(&mut *tx)
    .await?;
    Ok(key.kid)
}

async fn bump_version(tx: &mut sqlx::MySqlConnection) -> anyhow::Result<()> {
    sqlx::query("UPDATE key_ring_version SET version = version + 1 WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Creates the first key of each purpose that has none. The version row's
/// lock makes concurrent first starts of several instances safe.
pub async fn ensure_initialized(db: &MySqlPool, master: &SymmetricKey) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query("SELECT version FROM key_ring_version WHERE id = 1 FOR UPDATE")
        .fetch_one(&mut *tx)
        .await
        .context("the key ring tables are missing: run the migrations first")?;
    let present: Vec<String> = sqlx::query_scalar("SELECT DISTINCT purpose FROM key_ring")
        .fetch_all(&mut *tx)
        .await?;
    let mut created = false;
    for purpose in Purpose::ALL {
        if !present.iter().any(|p| p == purpose.as_str()) {
            insert_key(&mut tx, master, purpose, Utc::now()).await?;
            created = true;
        }
    }
    if created {
        bump_version(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Makes a new key of `purpose` current. A new signing key is published at
/// once but signs only after `activation_delay`, when every instance has
/// loaded it; the old one signs until then and stays published until its
/// last token expires. A new wrapping key wraps new data keys at once;
/// `rewrap_data_keys` moves the existing ones over.
pub async fn rotate(
    db: &MySqlPool,
    master: &SymmetricKey,
    purpose: Purpose,
    activation_delay: Duration,
) -> anyhow::Result<String> {
    if purpose == Purpose::BlindIndex {
        anyhow::bail!("the blind-index key does not rotate (every e-mail would need re-indexing)");
    }
    let activate = Utc::now() + chrono::Duration::from_std(activation_delay)?;
    let mut tx = db.begin().await?;
    sqlx::query("SELECT version FROM key_ring_version WHERE id = 1 FOR UPDATE")
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query("UPDATE key_ring SET retired_at = ? WHERE purpose = ? AND retired_at IS NULL")
        .bind(activate)
        .bind(purpose.as_str())
        .execute(&mut *tx)
        .await?;
    let kid = insert_key(&mut tx, master, purpose, activate).await?;
    bump_version(&mut tx).await?;
    tx.commit().await?;
    Ok(kid)
}

/// Re-wraps every data key not wrapped by the current wrapping key, in
/// small batches so that no long transaction blocks sign-ins.
pub async fn rewrap_data_keys(db: &MySqlPool, keys: &Keys) -> anyhow::Result<u64> {
    keys.refresh(db).await?;
    let ring = keys.ring();
    let current = ring.current_wrapping_kid().to_owned();
    let mut done = 0;
    loop {
        let rows =
            sqlx::query("SELECT id, wrapped_key FROM data_keys WHERE wrapping_kid <> ? LIMIT 200")
                .bind(&current)
                .fetch_all(db)
                .await?;
        if rows.is_empty() {
            return Ok(done);
        }
        for row in rows {
            let id: Uuid = row.try_get("id")?;
            let wrapped: Vec<u8> = row.try_get("wrapped_key")?;
            let key = ring.unwrap_data_key(id, &wrapped)?;
            let (kid, rewrapped) = ring.wrap_data_key(&key)?;
            sqlx::query("UPDATE data_keys SET wrapping_kid = ?, wrapped_key = ? WHERE id = ? AND wrapped_key = ?")
                .bind(kid)
                .bind(rewrapped)
                .bind(id)
                .bind(wrapped)
                .execute(db)
                .await?;
            done += 1;
        }
    }
}

async fn load(db: &MySqlPool, master: &SymmetricKey) -> anyhow::Result<KeyRing> {
    let version: i64 = sqlx::query_scalar("SELECT version FROM key_ring_version WHERE id = 1")
        .fetch_one(db)
        .await?;
    let rows = sqlx::query(
        "SELECT kid, purpose, wrapped_secret, activated_at, retired_at FROM key_ring \
         ORDER BY activated_at DESC, created_at DESC",
    )
    .fetch_all(db)
    .await?;
    let mut signing = Vec::new();
    let mut wrapping = HashMap::new();
    let mut audit = HashMap::new();
    let (mut current_wrapping, mut current_audit, mut blind_index) = (None, None, None);
    let now = Utc::now();
    for row in rows {
        let kid: String = row.try_get("kid")?;
        let purpose: String = row.try_get("purpose")?;
        let purpose =
            Purpose::parse(&purpose).ok_or_else(|| anyhow!("unknown key purpose {purpose}"))?;
        let wrapped: Vec<u8> = row.try_get("wrapped_secret")?;
        let activated_at: DateTime<Utc> = row.try_get("activated_at")?;
        let retired_at: Option<DateTime<Utc>> = row.try_get("retired_at")?;
        let secret = master
            .open(&ring_aad(&kid, purpose), &wrapped)
            .with_context(|| {
                format!("opening key {kid}: is RAMPART_MASTER_KEY the one that created it?")
            })?;
        let is_current = activated_at <= now && retired_at.is_none_or(|r| r > now);
        match purpose {
            Purpose::Signing => {
                let pair = Ed25519KeyPair::from_pkcs8(&secret)
                    .map_err(|_| anyhow!("key {kid} is not an Ed25519 key"))?;
                let public_x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
                signing.push(SigningKey {
                    encoding: EncodingKey::from_ed_der(&secret),
                    decoding: DecodingKey::from_ed_components(&public_x)?,
                    public_x,
                    kid,
                    activated_at,
                    retired_at,
                });
            }
            Purpose::Wrapping | Purpose::Audit => {
                let key = SymmetricKey::from_slice(&secret)?;
                let (map, current) = if purpose == Purpose::Wrapping {
                    (&mut wrapping, &mut current_wrapping)
                } else {
                    (&mut audit, &mut current_audit)
                };
                if is_current && current.is_none() {
                    *current = Some(kid.clone());
                }
                map.insert(kid, key);
            }
            Purpose::BlindIndex => {
                blind_index.get_or_insert(SymmetricKey::from_slice(&secret)?);
            }
        }
    }
    Ok(KeyRing {
        version,
        signing,
        wrapping,
        current_wrapping: current_wrapping.ok_or_else(|| anyhow!("no current wrapping key"))?,
        audit,
        current_audit: current_audit.ok_or_else(|| anyhow!("no current audit key"))?,
        blind_index: blind_index.ok_or_else(|| anyhow!("no blind-index key"))?,
    })
}
