//! The Immutable Data Store's guarantees, checked against a real PostgreSQL: migrations are
//! idempotent, nobody can change or remove a stored message, and the least-privilege roles can
//! do exactly what they are for.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use sha2::{Digest, Sha256};
use sqlx::{Executor, PgPool};
use testkit::{TestDb, sqlstate_as};

const INSUFFICIENT_PRIVILEGE: &str = "42501";

async fn insert_message(pool: &PgPool, payload: &[u8]) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO ids.message (payload, payload_sha256, transport, control_id)
         VALUES ($1, $2, 'mllp', 'C1') RETURNING id",
    )
    .bind(payload)
    .bind(Sha256::digest(payload).to_vec())
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn migrating_twice_changes_nothing() {
    let db = TestDb::migrated().await;
    let applied = |pool: PgPool| async move {
        sqlx::query_as::<_, (i64, Vec<u8>)>(
            "SELECT version, checksum FROM ids._sqlx_migrations ORDER BY version",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let before = applied(db.pool.clone()).await;
    assert!(!before.is_empty());
    schema::migrate(&db.pool).await.unwrap();
    assert_eq!(applied(db.pool.clone()).await, before);
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ids'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(tables, 2, "ids.message and ids._sqlx_migrations");
}

#[tokio::test]
async fn stored_payload_is_the_exact_bytes() {
    let db = TestDb::migrated().await;
    let payload = b"\xEF\xBB\xBFMSH|^~\\&|A\r\nPID|\xE9\xFF\n\x00end".to_vec();
    let id = insert_message(&db.pool, &payload).await;
    let (stored, digest): (Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT payload, payload_sha256 FROM ids.message WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(stored, payload);
    assert_eq!(hex::encode(digest), hex::encode(Sha256::digest(&payload)));
}

#[tokio::test]
async fn nobody_may_update_delete_or_truncate() {
    let db = TestDb::migrated().await;
    insert_message(&db.pool, b"MSH|^~\\&|A").await;
    for role in [None, Some("ward_listener"), Some("ward_reader")] {
        for sql in [
            "UPDATE ids.message SET control_id = 'changed'",
            "DELETE FROM ids.message",
            "TRUNCATE ids.message CASCADE",
        ] {
            assert_eq!(
                sqlstate_as(&db.pool, role, sql).await.as_deref(),
                Some(INSUFFICIENT_PRIVILEGE),
                "{sql} as {role:?} must be refused"
            );
        }
        // Without CASCADE the reader's error table's foreign key refuses it even earlier.
        assert!(
            sqlstate_as(&db.pool, role, "TRUNCATE ids.message")
                .await
                .is_some()
        );
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM ids.message")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn the_owner_is_refused_by_the_trigger_itself() {
    let db = TestDb::migrated().await;
    // Even with no rows to touch, the statement-level trigger refuses.
    let error = db
        .pool
        .execute("DELETE FROM ids.message")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("insert-only"), "{error}");
}

#[tokio::test]
async fn roles_can_do_exactly_their_job() {
    let db = TestDb::migrated().await;
    let insert = "INSERT INTO ids.message (payload, payload_sha256, transport)
                  VALUES ('\\x4d5348', sha256('\\x4d5348'), 'mllp')";
    assert_eq!(
        sqlstate_as(&db.pool, Some("ward_listener"), insert).await,
        None
    );
    assert_eq!(
        sqlstate_as(
            &db.pool,
            Some("ward_listener"),
            "SELECT id FROM ids.message WHERE control_id = 'x'"
        )
        .await,
        None
    );
    assert_eq!(
        sqlstate_as(&db.pool, Some("ward_reader"), insert)
            .await
            .as_deref(),
        Some(INSUFFICIENT_PRIVILEGE)
    );
    assert_eq!(
        sqlstate_as(&db.pool, Some("ward_reader"), "SELECT * FROM ids.message").await,
        None
    );
}

#[tokio::test]
async fn inserts_notify_readers() {
    let db = TestDb::migrated().await;
    let mut listener = sqlx::postgres::PgListener::connect_with(&db.pool)
        .await
        .unwrap();
    listener.listen("ward_ids_new").await.unwrap();
    insert_message(&db.pool, b"MSH|^~\\&|A").await;
    let notification = tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
        .await
        .expect("a notification within 10 s")
        .unwrap();
    assert_eq!(notification.channel(), "ward_ids_new");
}
