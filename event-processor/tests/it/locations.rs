//! Location visits (L1–L29 bar the permutation scenarios, which are in `permutations`), swaps
//! (S1, S2) and locations themselves (G4). Stays read `"<place> <from>-<until>"`, `?` marking an
//! inferred time.

use testkit::TestDb;

use crate::harness::*;

async fn location_visit_ids(pool: &sqlx::PgPool) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT location_visit_id FROM star.location_visit ORDER BY admission_datetime",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn g4_a_location_is_created_on_first_sight_once() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &["A01 10:00 at=ED^A^1", "A01 10:00 visit=V2 mrn=M2 at=ED^A^1"],
    )
    .await;
    let locations: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT location_string, department_id FROM star.location")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(locations, [("ED^A^1".to_owned(), None)]);
}

/// A location's string with its department, room and bed codes.
type Parts = (String, Option<String>, Option<String>, Option<String>);

#[tokio::test]
async fn a_location_has_its_department_room_and_bed_from_its_string() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A01 10:00 at=T06C^SR05^SR05-05",
            "A01 10:00 visit=V2 mrn=M2 at=ED^null^null",
        ],
    )
    .await;
    let locations: Vec<Parts> = sqlx::query_as(
        "SELECT location_string, department_code, room_code, bed_code
             FROM star.location ORDER BY location_string",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let part = |s: &str| Some(s.to_owned());
    assert_eq!(
        locations,
        [
            ("ED^null^null".to_owned(), part("ED"), None, None),
            (
                "T06C^SR05^SR05-05".to_owned(),
                part("T06C"),
                part("SR05"),
                part("SR05-05")
            ),
        ]
    );
}

#[tokio::test]
async fn l1_a_move_without_a_location_changes_no_location_visits() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00"]).await;
    assert!(visit(&db.pool, "V1").await.is_some());
    assert!(stays(&db.pool, "V1").await.is_empty());
}

#[tokio::test]
async fn l2_a_move_to_where_it_says_the_patient_was_is_ignored() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A", "A02 11:00 at=A from=A"]).await;
    assert_eq!(stays(&db.pool, "V1").await, ["A 10:00-open"]);
}

#[tokio::test]
async fn l3_a_move_cancelled_before_it_arrives_is_rejected() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A11 10:05 cancel=10:00 at=A"]).await;
    assert_eq!(count(&db.pool, "movement_cancellation").await, 1);
    assert_eq!(rejected_by(&db.pool, "A01 10:00 at=A").await, "L3");
    assert!(stays(&db.pool, "V1").await.is_empty());
    assert_eq!(count(&db.pool, "visit_movement").await, 0);
}

#[tokio::test]
async fn l4_a_first_move_opens_a_location_visit_at_its_time() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A"]).await;
    assert_eq!(stays(&db.pool, "V1").await, ["A 10:00-open"]);
}

#[tokio::test]
async fn l5_a_duplicate_admit_reuses_the_open_location_visit() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A01 10:00 at=A id=1",
            "A01 10:00 at=A id=2",
            "A04 09:00 at=A",
        ],
    )
    .await;
    assert_eq!(stays(&db.pool, "V1").await, ["A 09:00-open"]);
    assert_eq!(count(&db.pool, "location_visit").await, 1);
}

#[tokio::test]
async fn l6_an_inferred_stay_becomes_the_real_one_when_its_admission_arrives() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A02 12:00 at=B from=A"]).await;
    assert_eq!(
        stays(&db.pool, "V1").await,
        ["A 11:59:59?-12:00", "B 12:00-open"]
    );
    let before = location_visit_ids(&db.pool).await;
    ok(&db.pool, &["A01 10:00 at=A"]).await;
    assert_eq!(
        stays(&db.pool, "V1").await,
        ["A 10:00-12:00", "B 12:00-open"]
    );
    // The same row was adopted, its previous state audited.
    assert_eq!(location_visit_ids(&db.pool).await, before);
    assert_eq!(count(&db.pool, "location_visit_audit").await, 1);
}

#[tokio::test]
async fn l7_a_move_to_a_new_place_opens_a_new_location_visit() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A01 10:00 at=A",
            "A02 11:00 at=B from=A",
            "A02 12:00 at=A from=B",
        ],
    )
    .await;
    assert_eq!(
        stays(&db.pool, "V1").await,
        ["A 10:00-11:00", "B 11:00-12:00", "A 12:00-open"]
    );
}

#[tokio::test]
async fn l8_a_late_move_fits_between_the_stays_either_side() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A", "A02 12:00 at=C from=B"]).await;
    assert_eq!(
        stays(&db.pool, "V1").await,
        ["A 10:00-11:59:59?", "B 11:59:59?-12:00", "C 12:00-open"]
    );
    ok(&db.pool, &["A02 11:00 at=B from=A"]).await;
    assert_eq!(
        stays(&db.pool, "V1").await,
        ["A 10:00-11:00", "B 11:00-12:00", "C 12:00-open"]
    );
}

#[tokio::test]
async fn l9_a_matching_previous_location_closes_the_stay_before_as_known() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A", "A02 11:00 at=B from=A"]).await;
    assert_eq!(
        stays(&db.pool, "V1").await,
        ["A 10:00-11:00", "B 11:00-open"]
    );
}

#[tokio::test]
async fn l10_a_previous_location_not_seen_adds_an_inferred_stay_there() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A", "A02 12:00 at=C from=B"]).await;
    assert_eq!(
        stays(&db.pool, "V1").await,
        ["A 10:00-11:59:59?", "B 11:59:59?-12:00", "C 12:00-open"]
    );
}

#[tokio::test]
async fn l11_no_previous_location_closes_the_open_stay_as_inferred() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A", "A02 11:00 at=B"]).await;
    assert_eq!(
        stays(&db.pool, "V1").await,
        ["A 10:00-11:00?", "B 11:00-open"]
    );
}

#[tokio::test]
async fn l12_a_first_move_naming_a_previous_location_infers_a_stay_there() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A02 12:00 at=B from=A"]).await;
    assert_eq!(
        stays(&db.pool, "V1").await,
        ["A 11:59:59?-12:00", "B 12:00-open"]
    );
}

#[tokio::test]
async fn l13_a_move_that_would_leave_a_zero_length_stay_is_ignored() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A", "A02 10:00 at=B from=X"]).await;
    assert_eq!(stays(&db.pool, "V1").await, ["A 10:00-open"]);
}

#[tokio::test]
async fn l16_a_discharge_without_a_discharge_time_is_rejected() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A"]).await;
    assert_eq!(rejected_by(&db.pool, "A03 12:00 at=A").await, "L16");
    assert_eq!(stays(&db.pool, "V1").await, ["A 10:00-open"]);
}

#[tokio::test]
async fn l17_a_discharge_cancelled_before_it_arrives_is_rejected() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A", "A13 12:05 cancel=12:00 at=A"]).await;
    assert_eq!(
        rejected_by(&db.pool, "A03 12:00 dis=12:00 at=A").await,
        "L17"
    );
    assert_eq!(stays(&db.pool, "V1").await, ["A 10:00-open"]);
}

#[tokio::test]
async fn l18_a_discharge_closes_the_current_stay_as_known() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A", "A03 12:00 dis=12:00 at=A"]).await;
    assert_eq!(stays(&db.pool, "V1").await, ["A 10:00-12:00"]);
}

#[tokio::test]
async fn l19_a_discharge_from_an_unknown_place_infers_a_short_stay_there() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A", "A03 12:00 dis=12:00 at=B"]).await;
    assert_eq!(
        stays(&db.pool, "V1").await,
        ["A 10:00-11:59:59?", "B 11:59:59?-12:00"]
    );
    ok(&db.pool, &["A03 12:00 visit=V2 dis=12:00 at=B"]).await;
    assert_eq!(stays(&db.pool, "V2").await, ["B 11:59:59?-12:00"]);
    // A duplicate discharge has no effect.
    let audits = count(&db.pool, "location_visit_audit").await;
    ok(&db.pool, &["A03 12:00 visit=V2 dis=12:00 at=B id=again"]).await;
    assert_eq!(count(&db.pool, "location_visit_audit").await, audits);
}

#[tokio::test]
async fn l20_a_cancel_admit_without_a_time_cancels_the_only_stay_at_its_location() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A", "A11 10:05 at=A"]).await;
    assert!(stays(&db.pool, "V1").await.is_empty());
    ok(
        &db.pool,
        &[
            "A01 10:00 visit=V2 at=A",
            "A02 11:00 visit=V2 at=B from=A",
            "A02 12:00 visit=V2 at=A from=B",
        ],
    )
    .await;
    assert_eq!(
        rejected_by(&db.pool, "A11 12:05 visit=V2 at=A").await,
        "L20"
    );
}

#[tokio::test]
async fn l21_a_cancel_admit_deletes_the_stay_or_waits_for_it() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A", "A11 10:05 cancel=10:00 at=A"]).await;
    assert!(stays(&db.pool, "V1").await.is_empty());
    assert_eq!(count(&db.pool, "location_visit_audit").await, 1);
    // Before its admission: kept in movement_cancellation, no location visit.
    ok(&db.pool, &["A11 10:05 visit=V2 cancel=10:00 at=A"]).await;
    assert!(stays(&db.pool, "V2").await.is_empty());
    assert_eq!(count(&db.pool, "movement_cancellation").await, 2);
}

#[tokio::test]
async fn l23_a_cancel_discharge_reopens_the_stay_unless_a_later_one_exists() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A01 10:00 at=A",
            "A03 12:00 dis=12:00 at=A",
            "A13 12:05 cancel=12:00 at=A",
        ],
    )
    .await;
    assert_eq!(stays(&db.pool, "V1").await, ["A 10:00-open"]);
    ok(
        &db.pool,
        &[
            "A01 10:00 visit=V2 at=A",
            "A03 11:00 visit=V2 dis=11:00 at=A",
            "A02 12:00 visit=V2 at=B from=A",
            "A13 12:05 visit=V2 cancel=11:00 at=A",
        ],
    )
    .await;
    assert_eq!(
        stays(&db.pool, "V2").await,
        ["A 10:00-12:00", "B 12:00-open"]
    );
}

#[tokio::test]
async fn l24_updates_around_a_cancel_discharge_create_nothing() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A01 10:00 at=A",
            "A03 12:00 dis=12:00 at=A",
            "A08 12:02 at=A",
            "A13 12:05 cancel=12:00 at=A",
            "A08 12:10 at=A",
        ],
    )
    .await;
    assert_eq!(stays(&db.pool, "V1").await, ["A 10:00-open"]);
}

#[tokio::test]
async fn l26_a_cancel_transfer_cancels_the_transfer_into_its_previous_location() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A", "A02 11:00 at=B from=A"]).await;
    // Naming a place the patient did not go to changes nothing (but is kept).
    ok(&db.pool, &["A12 11:05 cancel=11:00 at=A from=C"]).await;
    assert_eq!(
        stays(&db.pool, "V1").await,
        ["A 10:00-11:00", "B 11:00-open"]
    );
    ok(&db.pool, &["A12 11:06 cancel=11:00 at=A from=B"]).await;
    assert_eq!(stays(&db.pool, "V1").await, ["A 10:00-open"]);
    assert_eq!(count(&db.pool, "movement_cancellation").await, 2);
}

#[tokio::test]
async fn l27_a_cancel_transfer_joins_the_stays_either_side_at_the_same_place() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A01 10:00 at=A",
            "A02 11:00 at=B from=A",
            "A02 12:00 at=A from=B",
            "A12 12:30 cancel=11:00 from=B",
        ],
    )
    .await;
    assert_eq!(stays(&db.pool, "V1").await, ["A 10:00-open"]);
}

#[tokio::test]
async fn l29_a_cancel_without_the_time_of_what_it_cancels_is_rejected() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A", "A02 11:00 at=B from=A"]).await;
    assert_eq!(rejected_by(&db.pool, "A12 11:05 from=B").await, "L29");
    assert_eq!(rejected_by(&db.pool, "A13 11:05 at=B").await, "L29");
    assert_eq!(rejected_by(&db.pool, "A11 11:05").await, "L29");
}

#[tokio::test]
async fn s1_a_swap_relabels_each_patients_current_stay() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A01 10:00 at=A",
            "A01 10:00 mrn=M2 visit=V2 at=B",
            "A17 11:00 at=B other_mrn=M2 other_visit=V2 other_at=A",
        ],
    )
    .await;
    assert_eq!(stays(&db.pool, "V1").await, ["B 10:00-open"]);
    assert_eq!(stays(&db.pool, "V2").await, ["A 10:00-open"]);
    assert_eq!(count(&db.pool, "location_visit_audit").await, 2);
}

#[tokio::test]
async fn s2_a_swap_with_an_unknown_location_does_nothing() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A01 10:00 at=A",
            "A01 10:00 mrn=M2 visit=V2 at=B",
            "A17 11:00 at=B other_mrn=M2 other_visit=V2",
        ],
    )
    .await;
    assert_eq!(stays(&db.pool, "V1").await, ["A 10:00-open"]);
    assert_eq!(stays(&db.pool, "V2").await, ["B 10:00-open"]);
}
