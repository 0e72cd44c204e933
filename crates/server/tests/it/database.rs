//! The application user can read and write Rampart's tables and nothing
//! else; the audit trail takes inserts only.

use std::collections::BTreeSet;

use rampart_server::db::grants::APP_GRANTS;
use sqlx::Executor;

use crate::support::{TestDb, TestResult};

#[tokio::test]
async fn the_application_user_cannot_change_the_schema_or_grant() -> TestResult {
    let db = TestDb::create().await?;
    let mut app = db.app_conn().await?;
    let refused = [
        "CREATE TABLE intruder (id INT)",
        "DROP TABLE accounts",
        "ALTER TABLE accounts ADD COLUMN x INT",
        "TRUNCATE TABLE audit_log",
        "GRANT SELECT ON *.* TO CURRENT_USER()",
        "CREATE USER 'intruder'@'%' IDENTIFIED BY 'x'",
        "SELECT * FROM mysql.user",
        "DELETE FROM _sqlx_migrations",
        "SELECT id FROM accounts INTO OUTFILE '/tmp/rampart-outfile-test'",
        "UPDATE audit_log SET outcome = 'success'",
        "DELETE FROM audit_log",
    ];
    for statement in refused {
        let result = app.execute(statement).await;
        assert!(result.is_err(), "the application user may run: {statement}");
    }
    // What it needs still works.
    app.execute("SELECT COUNT(*) FROM accounts").await?;
    app.execute("UPDATE key_ring_version SET version = version WHERE id = 1")
        .await?;
    Ok(())
}

#[tokio::test]
async fn every_table_of_the_schema_has_its_grants_listed() -> TestResult {
    let db = TestDb::create().await?;
    let mut admin = db.admin_conn().await?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE()",
    )
    .fetch_all(&mut admin)
    .await?;
    let tables: BTreeSet<String> = tables.into_iter().collect();
    let granted: BTreeSet<String> = APP_GRANTS.iter().map(|(t, _)| (*t).to_owned()).collect();
    assert_eq!(tables, granted);
    Ok(())
}
