//! MRN identity, rules M1–M6.

use event_processor::ProcessError;
use interchange::value::Iv;
use testkit::TestDb;

use crate::harness::*;

#[tokio::test]
async fn m1_lookup_by_mrn_then_by_nhs_number_among_rows_without_mrn() {
    let db = TestDb::migrated().await;
    // An NHS-number-only patient, then a message naming an MRN and that NHS number: same row.
    apply(
        &db.pool,
        &update(
            "1",
            "EPIC",
            None,
            Some("999"),
            "2024-01-01T10:00:00Z",
            Iv::Unknown,
        ),
        "2024-01-01T10:00:01Z",
    )
    .await
    .unwrap();
    apply(
        &db.pool,
        &update(
            "2",
            "EPIC",
            Some("M1"),
            Some("999"),
            "2024-01-02T10:00:00Z",
            Iv::Unknown,
        ),
        "2024-01-02T10:00:01Z",
    )
    .await
    .unwrap();
    assert_eq!(count(&db.pool, "mrn").await, 1);
    // A message without an MRN finds the patient by NHS number.
    apply(
        &db.pool,
        &update(
            "3",
            "EPIC",
            None,
            Some("999"),
            "2024-01-03T10:00:00Z",
            Iv::Unknown,
        ),
        "2024-01-03T10:00:01Z",
    )
    .await
    .unwrap();
    assert_eq!(count(&db.pool, "mrn").await, 1);
}

#[tokio::test]
async fn m2_a_message_with_no_identifier_is_rejected() {
    let db = TestDb::migrated().await;
    let result = apply(
        &db.pool,
        &update("1", "EPIC", None, None, "2024-01-01T10:00:00Z", Iv::Unknown),
        "2024-01-01T10:00:01Z",
    )
    .await;
    match result {
        Err(ProcessError::Rejected(rejection)) => assert_eq!(rejection.rule, "M2"),
        other => panic!("expected an M2 rejection, got {other:?}"),
    }
    assert_eq!(count(&db.pool, "mrn").await, 0);
}

#[tokio::test]
async fn m3_a_new_mrn_gets_one_mrn_row_and_a_mrn_to_live_row_to_itself() {
    let db = TestDb::migrated().await;
    apply(
        &db.pool,
        &update(
            "7",
            "WinPath",
            Some("M1"),
            None,
            "2024-01-01T10:00:00Z",
            Iv::Unknown,
        ),
        "2024-01-01T10:00:05Z",
    )
    .await
    .unwrap();
    let (mrn_id, live, valid_from, source): (i64, i64, chrono::DateTime<chrono::Utc>, Option<i64>) = sqlx::query_as(
        "SELECT m.mrn_id, t.live_mrn_id, t.valid_from, t.source_ids_id FROM star.mrn m JOIN star.mrn_to_live t USING (mrn_id)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(mrn_id, live);
    assert_eq!(valid_from, at("2024-01-01T10:00:00Z"));
    assert_eq!(source, Some(7), "provenance: the IDS id");
    assert_eq!(count(&db.pool, "mrn_to_live").await, 1);
}

#[tokio::test]
async fn m4_data_goes_to_the_live_mrn() {
    let db = TestDb::migrated().await;
    a08(
        &db.pool,
        "1",
        "EPIC",
        "OLD",
        "2024-01-01T10:00:00Z",
        save("A"),
    )
    .await;
    a08(
        &db.pool,
        "2",
        "EPIC",
        "LIVE",
        "2024-01-01T10:00:00Z",
        save("B"),
    )
    .await;
    // OLD has been merged into LIVE (as a merge will record it).
    sqlx::query(
        "UPDATE star.mrn_to_live SET live_mrn_id = (SELECT mrn_id FROM star.mrn WHERE mrn = 'LIVE')
         WHERE mrn_id = (SELECT mrn_id FROM star.mrn WHERE mrn = 'OLD')",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    a08(
        &db.pool,
        "3",
        "EPIC",
        "OLD",
        "2024-01-02T10:00:00Z",
        save("C"),
    )
    .await;
    assert_eq!(lastname(&db.pool, "LIVE").await.as_deref(), Some("C"));
    assert_eq!(lastname(&db.pool, "OLD").await.as_deref(), Some("A"));
}

#[tokio::test]
async fn m5_trusted_messages_correct_identifiers_untrusted_never_do() {
    let db = TestDb::migrated().await;
    apply(
        &db.pool,
        &update(
            "1",
            "EPIC",
            Some("M1"),
            Some("111"),
            "2024-01-01T10:00:00Z",
            Iv::Unknown,
        ),
        "2024-01-01T10:00:01Z",
    )
    .await
    .unwrap();
    apply(
        &db.pool,
        &update(
            "2",
            "WinPath",
            Some("M1"),
            Some("222"),
            "2024-01-02T10:00:00Z",
            Iv::Unknown,
        ),
        "2024-01-02T10:00:01Z",
    )
    .await
    .unwrap();
    let nhs = |pool| async move {
        sqlx::query_scalar::<_, Option<String>>("SELECT nhs_number FROM star.mrn WHERE mrn = 'M1'")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(nhs(db.pool.clone()).await.as_deref(), Some("111"));
    apply(
        &db.pool,
        &update(
            "3",
            "EPIC",
            Some("M1"),
            Some("333"),
            "2024-01-03T10:00:00Z",
            Iv::Unknown,
        ),
        "2024-01-03T10:00:01Z",
    )
    .await
    .unwrap();
    assert_eq!(nhs(db.pool.clone()).await.as_deref(), Some("333"));
    // M6, where Ward differs from EMAP on purpose: the previous identifiers are kept.
    let previous: Option<String> = sqlx::query_scalar("SELECT nhs_number FROM star.mrn_audit")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(previous.as_deref(), Some("111"));
}

#[tokio::test]
async fn dead_letters_are_retried_and_marked_or_kept_with_the_new_reason() {
    let db = TestDb::migrated().await;
    let good = update(
        "1",
        "EPIC",
        Some("M1"),
        None,
        "2024-01-01T10:00:00Z",
        Iv::Save("A".into()),
    );
    let bad = update("2", "EPIC", None, None, "2024-01-01T10:00:00Z", Iv::Unknown);
    for (message, rule) in [(&good, "X"), (&bad, "X")] {
        sqlx::query(
            "INSERT INTO star.dead_letter (source_message_id, message_class, rule, error, message)
             VALUES ($1, $2, $3, 'earlier failure', $4)",
        )
        .bind(message.source_message_id())
        .bind(message.class_name())
        .bind(rule)
        .bind(sqlx::types::Json(
            serde_json::from_slice::<serde_json::Value>(&message.to_json()).unwrap(),
        ))
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let applied = event_processor::consumer::retry_dead_letters(
        &event_processor::Processor::default(),
        &db.pool,
    )
    .await
    .unwrap();
    assert_eq!(applied, 1);
    assert_eq!(lastname(&db.pool, "M1").await.as_deref(), Some("A"));
    let rows: Vec<(Option<String>, String, bool)> = sqlx::query_as(
        "SELECT source_message_id, rule, retried_at IS NOT NULL FROM star.dead_letter ORDER BY dead_letter_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows[0], (Some("1".into()), "X".into(), true));
    assert_eq!(
        rows[1],
        (Some("2".into()), "M2".into(), false),
        "still pending, with the rule that refused it now"
    );
}

#[tokio::test]
async fn the_patient_identity_view_gives_each_mrn_its_live_mrn() {
    let db = TestDb::migrated().await;
    a08(
        &db.pool,
        "1",
        "EPIC",
        "OLD",
        "2024-01-01T10:00:00Z",
        Iv::Unknown,
    )
    .await;
    a08(
        &db.pool,
        "2",
        "EPIC",
        "NEW",
        "2024-01-01T10:00:00Z",
        Iv::Unknown,
    )
    .await;
    sqlx::query(
        "UPDATE star.mrn_to_live SET live_mrn_id = (SELECT mrn_id FROM star.mrn WHERE mrn = 'NEW')
         WHERE mrn_id = (SELECT mrn_id FROM star.mrn WHERE mrn = 'OLD')",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT mrn, live_mrn FROM star.patient_identity ORDER BY mrn")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [("NEW".into(), "NEW".into()), ("OLD".into(), "NEW".into())]
    );
}

#[tokio::test]
async fn m6_identifier_changes_are_kept_in_mrn_audit() {
    // Where Ward differs from EMAP on purpose: EMAP keeps no history of `mrn`; Ward audits both
    // a trusted correction of the NHS number (M5) and an A47 identifier change.
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A08 09:00 mrn=OLD nhs=111",
            "A08 10:00 mrn=OLD nhs=222",
            "A47 11:00 mrn=NEW prev_mrn=OLD",
        ],
    )
    .await;
    let history: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT mrn, nhs_number FROM star.mrn_audit ORDER BY mrn_audit_id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        history,
        [
            (Some("OLD".to_owned()), Some("111".to_owned())),
            (Some("OLD".to_owned()), Some("222".to_owned())),
        ]
    );
    let now: (Option<String>, Option<String>) =
        sqlx::query_as("SELECT mrn, nhs_number FROM star.mrn")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(now, (Some("NEW".to_owned()), Some("222".to_owned())));
}
