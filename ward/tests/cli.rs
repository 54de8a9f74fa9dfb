//! The `ward` binary as a user runs it: flags, exit codes and effects on a real database.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::process::Command;

use testkit::TestDb;

fn ward(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(args)
        .env_remove("WARD_DATABASE_URL")
        .output()
        .unwrap()
}

#[tokio::test]
async fn migrate_creates_the_ids_and_is_idempotent() {
    let db = TestDb::empty().await;
    for _ in 0..2 {
        let out = ward(&["migrate", "--database-url", &db.url]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('ids.message') IS NOT NULL")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(exists);
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM ids._sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(applied, schema::ids_migrator().iter().count() as i64);
}

#[test]
fn an_unreachable_database_is_a_clear_failure() {
    let out = ward(&[
        "migrate",
        "--database-url",
        "postgres://ward:ward@127.0.0.1:1/ward",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Failed to connect to PostgreSQL"),
        "{stderr}"
    );
}
