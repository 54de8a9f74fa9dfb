//! Core demographics, rules D1, D2, D5 and the generic G1–G3, G5.

use interchange::value::Iv;
use testkit::TestDb;

use crate::harness::*;

type AuditRow = (
    Option<String>,
    chrono::DateTime<chrono::Utc>,
    chrono::DateTime<chrono::Utc>,
    chrono::DateTime<chrono::Utc>,
    Option<i64>,
);

#[tokio::test]
async fn d1_the_first_message_of_any_source_creates_demographics() {
    let db = TestDb::migrated().await;
    a08(
        &db.pool,
        "1",
        "WinPath",
        "M1",
        "2024-01-01T10:00:00Z",
        save("SMITH"),
    )
    .await;
    assert_eq!(lastname(&db.pool, "M1").await.as_deref(), Some("SMITH"));
}

#[tokio::test]
async fn d2_only_trusted_strictly_newer_messages_update() {
    let db = TestDb::migrated().await;
    let t0 = "2024-01-01T10:00:00Z";
    apply(
        &db.pool,
        &update("1", "EPIC", Some("M1"), None, t0, Iv::Save("A".into())),
        "2024-01-01T10:00:01Z",
    )
    .await
    .unwrap();
    // Untrusted and newer: no change.
    a08(
        &db.pool,
        "2",
        "WinPath",
        "M1",
        "2024-01-02T10:00:00Z",
        save("B"),
    )
    .await;
    assert_eq!(lastname(&db.pool, "M1").await.as_deref(), Some("A"));
    // Trusted but same time: no change.
    apply(
        &db.pool,
        &update("3", "EPIC", Some("M1"), None, t0, Iv::Save("C".into())),
        "2024-01-02T10:00:02Z",
    )
    .await
    .unwrap();
    assert_eq!(lastname(&db.pool, "M1").await.as_deref(), Some("A"));
    // Trusted and older: no change.
    apply(
        &db.pool,
        &update(
            "4",
            "EPIC",
            Some("M1"),
            None,
            "2023-12-31T10:00:00Z",
            Iv::Save("D".into()),
        ),
        "2024-01-02T10:00:03Z",
    )
    .await
    .unwrap();
    assert_eq!(lastname(&db.pool, "M1").await.as_deref(), Some("A"));
    // Trusted and newer: changes.
    a08(
        &db.pool,
        "5",
        "EPIC",
        "M1",
        "2024-01-03T10:00:00Z",
        save("E"),
    )
    .await;
    assert_eq!(lastname(&db.pool, "M1").await.as_deref(), Some("E"));
    assert_eq!(count(&db.pool, "core_demographic_audit").await, 1);
}

#[tokio::test]
async fn d5_two_newer_changes_leave_two_audit_rows_with_the_previous_states() {
    let db = TestDb::migrated().await;
    a08(
        &db.pool,
        "1",
        "EPIC",
        "M1",
        "2024-01-01T10:00:00Z",
        save("A"),
    )
    .await;
    a08(
        &db.pool,
        "2",
        "EPIC",
        "M1",
        "2024-01-02T10:00:00Z",
        save("B"),
    )
    .await;
    a08(
        &db.pool,
        "3",
        "EPIC",
        "M1",
        "2024-01-03T10:00:00Z",
        save("C"),
    )
    .await;
    let audit: Vec<AuditRow> = sqlx::query_as(
        "SELECT lastname, valid_from, valid_until, stored_until, source_ids_id
             FROM star.core_demographic_audit ORDER BY core_demographic_audit_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].0.as_deref(), Some("A"));
    assert_eq!(audit[1].0.as_deref(), Some("B"));
    // G3: each audit row ends when the next message's validity starts, and when it was stored.
    assert_eq!(audit[0].1, at("2024-01-01T10:00:00Z"));
    assert_eq!(audit[0].2, at("2024-01-02T10:00:00Z"));
    assert_eq!(audit[0].3, at("2024-01-02T10:00:01Z"));
    assert_eq!(
        audit[1].4,
        Some(2),
        "the audit row keeps the provenance it had"
    );
}

#[tokio::test]
async fn g1_unknown_keeps_delete_clears_save_writes() {
    let db = TestDb::migrated().await;
    a08(
        &db.pool,
        "1",
        "EPIC",
        "M1",
        "2024-01-01T10:00:00Z",
        save("A"),
    )
    .await;
    a08(
        &db.pool,
        "2",
        "EPIC",
        "M1",
        "2024-01-02T10:00:00Z",
        Iv::Unknown,
    )
    .await;
    assert_eq!(lastname(&db.pool, "M1").await.as_deref(), Some("A"));
    a08(
        &db.pool,
        "3",
        "EPIC",
        "M1",
        "2024-01-03T10:00:00Z",
        Iv::delete(),
    )
    .await;
    assert_eq!(lastname(&db.pool, "M1").await, None);
    apply(
        &db.pool,
        &update(
            "4",
            "EPIC",
            Some("M1"),
            None,
            "2024-01-04T10:00:00Z",
            Iv::Delete(Some("X".into())),
        ),
        "2024-01-04T10:00:01Z",
    )
    .await
    .unwrap();
    assert_eq!(
        lastname(&db.pool, "M1").await,
        None,
        "a delete's value is never stored"
    );
}

#[tokio::test]
async fn g2_reprocessing_the_same_message_changes_nothing() {
    let db = TestDb::migrated().await;
    let message = update(
        "1",
        "EPIC",
        Some("M1"),
        Some("999"),
        "2024-01-01T10:00:00Z",
        Iv::Save("A".into()),
    );
    apply(&db.pool, &message, "2024-01-01T10:00:01Z")
        .await
        .unwrap();
    let snapshot = |pool| async move {
        sqlx::query_scalar::<_, String>(
            "SELECT (SELECT json_agg(m) FROM star.mrn m)::text || (SELECT json_agg(d) FROM star.core_demographic d)::text",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let before = snapshot(db.pool.clone()).await;
    apply(&db.pool, &message, "2024-01-05T10:00:00Z")
        .await
        .unwrap();
    assert_eq!(snapshot(db.pool.clone()).await, before);
    assert_eq!(count(&db.pool, "core_demographic_audit").await, 0);
    assert_eq!(count(&db.pool, "mrn_audit").await, 0);
}

#[tokio::test]
async fn g5_rows_written_for_one_message_share_its_stored_from() {
    let db = TestDb::migrated().await;
    apply(
        &db.pool,
        &update(
            "1",
            "EPIC",
            Some("M1"),
            None,
            "2024-01-01T10:00:00Z",
            Iv::Save("A".into()),
        ),
        "2024-01-01T10:00:09Z",
    )
    .await
    .unwrap();
    let stored: Vec<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT stored_from FROM star.mrn UNION ALL SELECT stored_from FROM star.mrn_to_live
         UNION ALL SELECT stored_from FROM star.core_demographic",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|s| *s == at("2024-01-01T10:00:09Z")));
}

#[tokio::test]
async fn g3_a_change_writes_one_audit_row_ending_at_the_new_validity() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A08 09:00 family=Before"]).await;
    ok(&db.pool, &["A08 10:00 family=After"]).await;
    // The same message again changes nothing, so writes no second audit row.
    ok(&db.pool, &["A08 10:00 family=After"]).await;
    type Audit = (
        Option<String>,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
    );
    let audit: Vec<Audit> = sqlx::query_as(
        "SELECT lastname, valid_from, valid_until, stored_from, stored_until
         FROM star.core_demographic_audit",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(audit.len(), 1);
    let (lastname, valid_from, valid_until, stored_from, stored_until) = &audit[0];
    assert_eq!(lastname.as_deref(), Some("Before"));
    assert_eq!((*valid_from, *valid_until), (t("09:00"), t("10:00")));
    // Stored until the second message was processed (the harness stores a minute after).
    assert_eq!(*stored_until, t("10:01"));
    assert!(stored_from < stored_until);
    let live: (Option<String>, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("SELECT lastname, valid_from FROM star.core_demographic")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(live, (Some("After".to_owned()), t("10:00")));
}
