//! What the application user may do, table by table. Nothing here allows
//! DDL, GRANT, FILE or access to another schema; the audit trail takes
//! inserts and reads only. A test checks that every table of the schema is
//! listed, so a new table cannot be forgotten.

pub const APP_GRANTS: &[(&str, &str)] = &[
    ("key_ring", "SELECT, INSERT, UPDATE"),
    ("key_ring_version", "SELECT, UPDATE"),
    ("data_keys", "SELECT, INSERT, UPDATE, DELETE"),
    ("accounts", "SELECT, INSERT, UPDATE, DELETE"),
    ("sessions", "SELECT, INSERT, UPDATE, DELETE"),
    ("refresh_tokens", "SELECT, INSERT, UPDATE, DELETE"),
    ("email_tokens", "SELECT, INSERT, UPDATE, DELETE"),
    ("addresses", "SELECT, INSERT, UPDATE, DELETE"),
    ("orders", "SELECT, INSERT, UPDATE, DELETE"),
    ("audit_log", "SELECT, INSERT"),
    ("audit_head", "SELECT, UPDATE"),
    // Lets the server check at start-up that the schema is migrated.
    ("_sqlx_migrations", "SELECT"),
];
