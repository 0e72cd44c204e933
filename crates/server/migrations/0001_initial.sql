-- Rampart's schema. Runs as the migrator user; the application user gets
-- only the per-table privileges listed in src/db/grants.rs.
--
-- Conventions: ids are UUIDs as BINARY(16); times are UTC DATETIME(6) written
-- by the application; every column that holds personal data ends in `_ct`
-- and holds a ciphertext (see src/crypto/envelope.rs), never clear text.

-- Keys of the key ring, each sealed under the master key from configuration.
CREATE TABLE key_ring (
    kid            VARCHAR(40)     NOT NULL PRIMARY KEY,
    purpose        VARCHAR(16)     NOT NULL,
    wrapped_secret VARBINARY(512)  NOT NULL,
    -- Ed25519 public key of signing keys (published in the JWKS).
    public_key     VARBINARY(64)   NULL,
    created_at     DATETIME(6)     NOT NULL,
    -- A signing key is created ahead of its activation so that every
    -- instance knows its public key before the first token signed by it.
    activated_at   DATETIME(6)     NOT NULL,
    retired_at     DATETIME(6)     NULL,
    INDEX key_ring_purpose (purpose, activated_at)
) ENGINE = InnoDB;

-- Bumped by every change of the ring; instances poll it and reload.
CREATE TABLE key_ring_version (
    id      TINYINT NOT NULL PRIMARY KEY,
    version BIGINT  NOT NULL
) ENGINE = InnoDB;
INSERT INTO key_ring_version (id, version) VALUES (1, 0);

-- Per-customer data keys, wrapped by a key-ring wrapping key. Deleting a
-- row makes that customer's ciphertexts unreadable (crypto-shredding).
CREATE TABLE data_keys (
    id           BINARY(16)     NOT NULL PRIMARY KEY,
    wrapping_kid VARCHAR(40)    NOT NULL,
    wrapped_key  VARBINARY(128) NOT NULL,
    created_at   DATETIME(6)    NOT NULL,
    INDEX data_keys_wrapping (wrapping_kid)
) ENGINE = InnoDB;

CREATE TABLE accounts (
    id                BINARY(16)     NOT NULL PRIMARY KEY,
    -- HMAC of the normalized e-mail address: how sign-in finds an account
    -- without the address being stored in clear. Unique, so look-alike
    -- spellings of one address cannot make a second account.
    email_bidx        BINARY(32)     NOT NULL,
    email_ct          VARBINARY(600) NOT NULL,
    full_name_ct      VARBINARY(600) NOT NULL,
    phone_ct          VARBINARY(128) NULL,
    -- Argon2id PHC string (parameters, salt and hash).
    password_hash     VARCHAR(255)   NOT NULL,
    data_key_id       BINARY(16)     NOT NULL,
    email_verified_at DATETIME(6)    NULL,
    created_at        DATETIME(6)    NOT NULL,
    updated_at        DATETIME(6)    NOT NULL,
    UNIQUE KEY accounts_email_bidx (email_bidx),
    CONSTRAINT accounts_data_key FOREIGN KEY (data_key_id) REFERENCES data_keys (id)
) ENGINE = InnoDB;

CREATE TABLE sessions (
    id            BINARY(16)     NOT NULL PRIMARY KEY,
    account_id    BINARY(16)     NOT NULL,
    -- The User-Agent at sign-in, shortened and encrypted.
    device_ct     VARBINARY(600) NOT NULL,
    created_at    DATETIME(6)    NOT NULL,
    last_seen_at  DATETIME(6)    NOT NULL,
    -- Absolute end of the session and of every refresh token in it.
    expires_at    DATETIME(6)    NOT NULL,
    revoked_at    DATETIME(6)    NULL,
    revoke_reason VARCHAR(32)    NULL,
    INDEX sessions_account (account_id, revoked_at),
    CONSTRAINT sessions_account FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB;

-- Refresh tokens, by SHA-256 of the token. A session is one token family.
CREATE TABLE refresh_tokens (
    token_hash BINARY(32)  NOT NULL PRIMARY KEY,
    session_id BINARY(16)  NOT NULL,
    created_at DATETIME(6) NOT NULL,
    used_at    DATETIME(6) NULL,
    -- Set when the token was accepted a second time inside the grace window.
    grace_used TINYINT(1)  NOT NULL DEFAULT 0,
    INDEX refresh_tokens_session (session_id),
    CONSTRAINT refresh_tokens_session FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
) ENGINE = InnoDB;

-- Single-use tokens sent by e-mail, by SHA-256 of the token.
CREATE TABLE email_tokens (
    token_hash BINARY(32)  NOT NULL PRIMARY KEY,
    account_id BINARY(16)  NOT NULL,
    purpose    VARCHAR(16) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    used_at    DATETIME(6) NULL,
    INDEX email_tokens_account (account_id, purpose, created_at),
    CONSTRAINT email_tokens_account FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB;

CREATE TABLE addresses (
    id         BINARY(16)      NOT NULL PRIMARY KEY,
    account_id BINARY(16)      NOT NULL,
    -- The whole address (label, lines, city, postal code, country) as one
    -- encrypted JSON document.
    address_ct VARBINARY(2048) NOT NULL,
    created_at DATETIME(6)     NOT NULL,
    updated_at DATETIME(6)     NOT NULL,
    INDEX addresses_account (account_id, created_at),
    CONSTRAINT addresses_account FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB;

CREATE TABLE orders (
    id                  BINARY(16)      NOT NULL PRIMARY KEY,
    account_id          BINARY(16)      NOT NULL,
    -- The address it was placed with; the order keeps its own copy in
    -- delivery_address_ct, so later edits or deletion change nothing.
    address_id          BINARY(16)      NULL,
    delivery_address_ct VARBINARY(2048) NOT NULL,
    instructions_ct     VARBINARY(2048) NOT NULL,
    status              VARCHAR(16)     NOT NULL,
    created_at          DATETIME(6)     NOT NULL,
    updated_at          DATETIME(6)     NOT NULL,
    INDEX orders_account (account_id, created_at),
    CONSTRAINT orders_account FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE,
    CONSTRAINT orders_address FOREIGN KEY (address_id) REFERENCES addresses (id) ON DELETE SET NULL
) ENGINE = InnoDB;

-- The audit trail: insert and read only for the application user. Each
-- record carries the hash of the one before it (`prev_hash`) and its own
-- hash over all of its fields, so `rampart audit verify` finds any record
-- that was altered, removed or reordered.
CREATE TABLE audit_log (
    seq            BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    occurred_at    DATETIME(6)     NOT NULL,
    actor_kind     VARCHAR(16)     NOT NULL,
    actor_id       BINARY(16)      NULL,
    action         VARCHAR(48)     NOT NULL,
    target_kind    VARCHAR(16)     NULL,
    -- An id, or for an unknown e-mail its blind index; never the address.
    target_ref     VARBINARY(32)   NULL,
    outcome        VARCHAR(16)     NOT NULL,
    -- Sealed under the customer's data key, or the audit key when there is
    -- no customer: deleting a customer's key erases it, the chain still holds.
    client_addr_ct VARBINARY(255)  NULL,
    request_id     VARCHAR(64)     NULL,
    prev_hash      BINARY(32)      NOT NULL,
    hash           BINARY(32)      NOT NULL,
    INDEX audit_log_target (target_ref),
    INDEX audit_log_actor (actor_id)
) ENGINE = InnoDB;

-- The head of the chain. Writers lock this row, so records get consecutive
-- sequence numbers and each sees its predecessor's hash.
CREATE TABLE audit_head (
    id   TINYINT         NOT NULL PRIMARY KEY,
    seq  BIGINT UNSIGNED NOT NULL,
    hash BINARY(32)      NOT NULL
) ENGINE = InnoDB;
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, REPEAT(CHAR(0), 32));
