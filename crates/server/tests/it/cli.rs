//! The `rampart` binary's commands, run the way an operator runs them.

use std::process::{Command, Output};

use secrecy::ExposeSecret;

use crate::support::{TestApp, TestResult};

fn rampart(app: &TestApp, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rampart"));
    command
        .args(args)
        .env("RAMPART_DATABASE_URL", app.db.app_url().expose_secret())
        .env(
            "RAMPART_MASTER_KEY",
            app.state
                .config
                .master_key
                .as_ref()
                .map(|k| k.expose_secret().to_owned())
                .unwrap_or_default(),
        )
        .env("RAMPART_LOG", "warn");
    for (name, value) in extra_env {
        command.env(name, value);
    }
    command
        .output()
        .unwrap_or_else(|e| panic!("running rampart: {e}"))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn audit_verify_exits_non_zero_at_the_first_tampered_record() -> TestResult {
    let app = TestApp::spawn().await;
    app.signed_up("cli@example.com", "Cli User").await;
    let intact = rampart(&app, &["audit", "verify"], &[]);
    assert!(intact.status.success(), "{}", stdout(&intact));
    assert!(
        stdout(&intact).contains("intact: 3 records"),
        "{}",
        stdout(&intact)
    );

    let mut conn = app.db.admin_conn().await?;
    sqlx::query("UPDATE audit_log SET action = 'auth.logout' WHERE seq = 2")
        .execute(&mut conn)
        .await?;
    let broken = rampart(&app, &["audit", "verify"], &[]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        stdout(&broken).contains("BROKEN at record 2"),
        "{}",
        stdout(&broken)
    );
    Ok(())
}

#[tokio::test]
async fn keys_rotate_publishes_a_new_signing_key_beside_the_old_one() -> TestResult {
    let app = TestApp::spawn().await;
    let before = app.state.keys.ring().version;
    let output = rampart(
        &app,
        &["keys", "rotate"],
        &[("RAMPART_SIGNING_KEY_ACTIVATION_DELAY_SECS", "0")],
    );
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    app.state.keys.refresh(&app.state.db).await?;
    assert!(app.state.keys.ring().version > before);
    let (_, jwks) = app
        .call(reqwest::Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2));

    let wrap = rampart(&app, &["keys", "rotate", "--purpose", "wrapping"], &[]);
    assert!(
        wrap.status.success(),
        "{}",
        String::from_utf8_lossy(&wrap.stderr)
    );
    assert!(stdout(&wrap).contains("re-wrapped"), "{}", stdout(&wrap));
    Ok(())
}

#[tokio::test]
async fn production_mode_names_the_missing_setting_and_refuses_to_start() -> TestResult {
    let app = TestApp::spawn().await;
    let output = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("serve")
        .env("RAMPART_ENV", "production")
        .env("RAMPART_DATABASE_URL", app.db.app_url().expose_secret())
        .output()?;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("RAMPART_MASTER_KEY"), "{stderr}");
    // The message names the setting, never a secret value.
    assert!(!stderr.contains(app.db.app_url().expose_secret()));
    Ok(())
}
