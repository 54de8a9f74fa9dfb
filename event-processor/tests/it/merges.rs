//! Merges, identifier changes and moved visits (I1–I10).

use testkit::TestDb;

use crate::harness::*;

async fn mrn_to_live_audits(pool: &sqlx::PgPool) -> i64 {
    count(pool, "mrn_to_live_audit").await
}

#[tokio::test]
async fn i1_a_merge_needs_the_surviving_mrn_and_creates_it_if_unknown() {
    let db = TestDb::migrated().await;
    assert_eq!(
        rejected_by(&db.pool, "A40 10:00 mrn=- nhs=999 prev_mrn=R").await,
        "I1"
    );
    ok(&db.pool, &["A40 10:00 mrn=S prev_mrn=R family=Survivor"]).await;
    assert_eq!(live_mrn(&db.pool, "R").await, "S");
    assert_eq!(live_mrn(&db.pool, "S").await, "S");
    assert_eq!(lastname(&db.pool, "S").await.as_deref(), Some("Survivor"));
    // Identity changes only from trusted sources.
    assert_eq!(
        rejected_by(&db.pool, "A40 11:00 src=WinPath mrn=T prev_mrn=S").await,
        "I1"
    );
}

#[tokio::test]
async fn i2_every_mrn_matching_the_previous_mrn_or_nhs_number_retires() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A08 09:00 mrn=R1 nhs=111",
            "A08 09:00 mrn=R2 nhs=111",
            "A08 09:00 mrn=S",
        ],
    )
    .await;
    ok(&db.pool, &["A40 10:00 mrn=S prev_mrn=R1 prev_nhs=111"]).await;
    assert_eq!(live_mrn(&db.pool, "R1").await, "S");
    assert_eq!(live_mrn(&db.pool, "R2").await, "S");
}

#[tokio::test]
async fn i3_each_repointed_mapping_is_audited() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &["A08 09:00 mrn=R1", "A08 09:00 mrn=R2", "A08 09:00 mrn=S"],
    )
    .await;
    ok(&db.pool, &["A40 10:00 mrn=R2 prev_mrn=R1"]).await;
    assert_eq!(mrn_to_live_audits(&db.pool).await, 1);
    // R2 is live for two rows (itself and R1): merging it writes two audit rows.
    ok(&db.pool, &["A40 11:00 mrn=S prev_mrn=R2"]).await;
    assert_eq!(mrn_to_live_audits(&db.pool).await, 3);
    assert_eq!(live_mrn(&db.pool, "R1").await, "S");
    let valid_until: Vec<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT valid_until FROM star.mrn_to_live_audit ORDER BY mrn_to_live_audit_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(valid_until, [t("10:00"), t("11:00"), t("11:00")]);
}

#[tokio::test]
async fn i4_research_opt_out_spreads_across_a_merge() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A08 09:00 mrn=R", "A08 09:00 mrn=S"]).await;
    sqlx::query("UPDATE star.mrn SET research_opt_out = true WHERE mrn = 'R'")
        .execute(&db.pool)
        .await
        .unwrap();
    ok(&db.pool, &["A40 10:00 mrn=S prev_mrn=R"]).await;
    let opted_out: bool =
        sqlx::query_scalar("SELECT research_opt_out FROM star.mrn WHERE mrn = 'S'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(opted_out);
    assert_eq!(count(&db.pool, "mrn_audit").await, 1);
}

#[tokio::test]
async fn i5_a_repeated_or_older_merge_changes_nothing() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A40 10:00 mrn=S prev_mrn=R"]).await;
    let audits = mrn_to_live_audits(&db.pool).await;
    ok(
        &db.pool,
        &[
            "A40 10:00 mrn=S prev_mrn=R id=again",
            "A40 09:00 mrn=S prev_mrn=R",
        ],
    )
    .await;
    assert_eq!(mrn_to_live_audits(&db.pool).await, audits);
}

#[tokio::test]
async fn i6_a_repointed_mapping_is_valid_from_the_merge() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A08 09:00 mrn=R", "A40 10:00 mrn=S prev_mrn=R"]).await;
    let valid_from: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "SELECT t.valid_from FROM star.mrn_to_live t JOIN star.mrn USING (mrn_id) WHERE mrn = 'R'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(valid_from, t("10:00"));
}

#[tokio::test]
async fn i7_an_identifier_change_renames_the_mrn_when_the_new_one_is_unknown() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &["A01 09:00 mrn=OLD at=A", "A47 10:00 mrn=NEW prev_mrn=OLD"],
    )
    .await;
    let mrns: Vec<String> = sqlx::query_scalar("SELECT mrn FROM star.mrn")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(mrns, ["NEW"]);
    assert_eq!(visit(&db.pool, "V1").await.unwrap().mrn, "NEW");
    assert_eq!(count(&db.pool, "mrn_audit").await, 1);
}

#[tokio::test]
async fn i8_an_identifier_change_to_a_known_mrn_is_a_merge() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A08 09:00 mrn=OLD",
            "A08 09:00 mrn=NEW",
            "A47 10:00 mrn=NEW prev_mrn=OLD",
        ],
    )
    .await;
    assert_eq!(count(&db.pool, "mrn").await, 2);
    assert_eq!(live_mrn(&db.pool, "OLD").await, "NEW");
}

#[tokio::test]
async fn i9_a_visit_move_attaches_the_visit_to_the_new_patient() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A01 09:00 mrn=M1 at=A",
            "A45 10:00 mrn=M2 prev_mrn=M1 prev_visit=V1",
        ],
    )
    .await;
    assert_eq!(visit(&db.pool, "V1").await.unwrap().mrn, "M2");
    assert_eq!(count(&db.pool, "hospital_visit_audit").await, 1);
    // Both patients are created if unknown.
    ok(
        &db.pool,
        &["A45 11:00 mrn=M4 visit=V5 prev_mrn=M3 prev_visit=V5"],
    )
    .await;
    assert_eq!(visit(&db.pool, "V5").await.unwrap().mrn, "M4");
    assert_eq!(count(&db.pool, "mrn").await, 4);
}

#[tokio::test]
async fn i10_a_visit_move_that_changes_nothing_or_collides_is_rejected() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &["A01 09:00 at=A", "A01 09:00 mrn=M2 visit=V2 at=B"],
    )
    .await;
    assert_eq!(
        rejected_by(&db.pool, "A45 10:00 mrn=M1 prev_mrn=M1 prev_visit=V1").await,
        "I10"
    );
    assert_eq!(
        rejected_by(
            &db.pool,
            "A45 10:00 mrn=M2 visit=V2 prev_mrn=M1 prev_visit=V1"
        )
        .await,
        "I10"
    );
    assert_eq!(visit(&db.pool, "V1").await.unwrap().mrn, "M1");
}
