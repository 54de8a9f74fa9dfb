//! Hospital visits (V1–V9) and the ADT side of context inference (C2–C6, C10). V10 and C1 are
//! the reader's (`message-reader` mapping tests); C7–C9 (the context a lab order, flowsheet or
//! consult implies) come with those classes, which until then wait as dead letters.

use testkit::TestDb;

use crate::harness::*;

#[tokio::test]
async fn v1_a_visit_is_found_by_encounter_and_a_movement_without_one_is_rejected() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A", "A02 11:00 at=B from=A"]).await;
    assert_eq!(count(&db.pool, "hospital_visit").await, 1);
    assert_eq!(rejected_by(&db.pool, "A01 12:00 visit=- at=A").await, "V1");
    // An update without a visit number is fine (it names no visit).
    ok(&db.pool, &["A08 12:00 visit=-"]).await;
    assert_eq!(count(&db.pool, "hospital_visit").await, 1);
}

#[tokio::test]
async fn v2_generic_attributes_change_for_a_trusted_message_not_older_than_the_row() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &["A01 10:00 class=E at=A", "A02 11:00 class=I at=B from=A"],
    )
    .await;
    assert_eq!(
        visit(&db.pool, "V1")
            .await
            .unwrap()
            .patient_class
            .as_deref(),
        Some("INPATIENT")
    );
    ok(&db.pool, &["A02 12:00 src=WinPath class=O at=C from=B"]).await;
    let row = visit(&db.pool, "V1").await.unwrap();
    assert_eq!(row.patient_class.as_deref(), Some("INPATIENT"));
    assert_eq!(row.source_system, "EPIC");
}

#[tokio::test]
async fn v3_an_admission_sets_the_admission_time_even_from_an_older_message() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A02 12:00 adm=09:00 at=B from=A"]).await;
    assert_eq!(
        visit(&db.pool, "V1").await.unwrap().admission.as_deref(),
        Some("09:00")
    );
    ok(&db.pool, &["A01 10:00 adm=10:00 at=A"]).await;
    assert_eq!(
        visit(&db.pool, "V1").await.unwrap().admission.as_deref(),
        Some("10:00")
    );
}

#[tokio::test]
async fn v4_other_movements_set_the_admission_time_only_when_there_is_none() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A03 13:00 adm=08:00 dis=13:00 at=B",
            "A02 12:00 adm=09:00 at=B from=A",
        ],
    )
    .await;
    // The earliest movement's admission time stands, whatever arrived first.
    assert_eq!(
        visit(&db.pool, "V1").await.unwrap().admission.as_deref(),
        Some("09:00")
    );
}

#[tokio::test]
async fn v5_a_registration_sets_the_presentation_time_and_no_admission() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A04 09:00 at=ED"]).await;
    let row = visit(&db.pool, "V1").await.unwrap();
    assert_eq!(row.presentation.as_deref(), Some("09:00"));
    assert_eq!(row.admission, None);
}

#[tokio::test]
async fn v6_a_discharge_sets_time_disposition_and_destination_whatever_its_age() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A01 10:00 adm=10:00 at=A",
            "A03 12:00 dis=12:00 disp=Discharged dest=Home at=A",
            "A02 11:00 at=A from=A",
        ],
    )
    .await;
    let row = visit(&db.pool, "V1").await.unwrap();
    assert_eq!(row.discharge.as_deref(), Some("12:00"));
    assert_eq!(row.disposition.as_deref(), Some("Discharged"));
    assert_eq!(row.destination.as_deref(), Some("Home"));
    // A discharge of a visit never seen admitted fills in the admission time.
    ok(&db.pool, &["A03 12:00 visit=V2 adm=08:00 dis=12:00 at=A"]).await;
    assert_eq!(
        visit(&db.pool, "V2").await.unwrap().admission.as_deref(),
        Some("08:00")
    );
}

#[tokio::test]
async fn v7_a_cancelled_admission_clears_the_admission_time() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &["A01 10:00 adm=10:00 at=A", "A11 10:05 cancel=10:00 at=A"],
    )
    .await;
    assert_eq!(visit(&db.pool, "V1").await.unwrap().admission, None);
    assert_eq!(count(&db.pool, "hospital_visit_audit").await, 1);
}

#[tokio::test]
async fn v8_a_cancelled_discharge_clears_time_disposition_and_destination() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A01 10:00 adm=10:00 at=A",
            "A03 12:00 dis=12:00 disp=Discharged dest=Home at=A",
            "A13 12:05 cancel=12:00 at=A",
        ],
    )
    .await;
    let row = visit(&db.pool, "V1").await.unwrap();
    assert_eq!(
        (row.discharge, row.disposition, row.destination),
        (None, None, None)
    );
}

#[tokio::test]
async fn v9_an_older_message_does_not_change_generic_attributes() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &["A01 12:00 class=I at=A", "A02 11:00 class=E at=A from=X"],
    )
    .await;
    assert_eq!(
        visit(&db.pool, "V1")
            .await
            .unwrap()
            .patient_class
            .as_deref(),
        Some("INPATIENT")
    );
}

#[tokio::test]
async fn c2_implied_adt_creates_the_patient_and_the_visit() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["IMPLIED 10:00 visit=V9 family=Lab"]).await;
    assert_eq!(count(&db.pool, "mrn").await, 1);
    assert_eq!(count(&db.pool, "core_demographic").await, 1);
    assert_eq!(
        visit(&db.pool, "V9").await.unwrap().source_system,
        "WinPath"
    );
}

#[tokio::test]
async fn c3_implied_adt_from_an_untrusted_source_never_overwrites() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A01 10:00 family=Real class=I at=A",
            "IMPLIED 11:00 family=Lab class=E",
        ],
    )
    .await;
    assert_eq!(lastname(&db.pool, "M1").await.as_deref(), Some("Real"));
    assert_eq!(
        visit(&db.pool, "V1")
            .await
            .unwrap()
            .patient_class
            .as_deref(),
        Some("INPATIENT")
    );
}

#[tokio::test]
async fn c4_implied_adt_without_a_visit_number_creates_no_visit() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["IMPLIED 10:00 visit=-"]).await;
    assert_eq!(count(&db.pool, "mrn").await, 1);
    assert_eq!(count(&db.pool, "hospital_visit").await, 0);
}

#[tokio::test]
async fn c5_implied_adt_and_updates_never_change_location_visits() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A01 10:00 at=A",
            "A08 11:00 at=B",
            "IMPLIED 12:00 src=EPIC at=C",
        ],
    )
    .await;
    assert_eq!(stays(&db.pool, "V1").await, ["A 10:00-open"]);
}

#[tokio::test]
async fn c6_updates_never_create_or_change_a_visit() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A08 10:00 visit=V7 class=I"]).await;
    assert_eq!(visit(&db.pool, "V7").await, None);
    ok(&db.pool, &["A01 10:00 class=E at=A", "A08 11:00 class=I"]).await;
    assert_eq!(
        visit(&db.pool, "V1")
            .await
            .unwrap()
            .patient_class
            .as_deref(),
        Some("EMERGENCY")
    );
}

#[tokio::test]
async fn c10_a_trusted_message_fills_in_a_visit_a_lab_created_whatever_its_age() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["IMPLIED 12:00"]).await;
    assert_eq!(
        visit(&db.pool, "V1").await.unwrap().source_system,
        "WinPath"
    );
    ok(&db.pool, &["A01 10:00 class=I at=A"]).await;
    let row = visit(&db.pool, "V1").await.unwrap();
    assert_eq!(row.source_system, "EPIC");
    assert_eq!(row.patient_class.as_deref(), Some("INPATIENT"));
}

#[tokio::test]
async fn a_new_patients_first_movement_writes_patient_visit_and_stay_together() {
    let db = TestDb::migrated().await;
    // New patient and new visit (one statement); new visit of a known patient; a known visit
    // named by a new MRN (the visit stays with the MRN that created it).
    ok(
        &db.pool,
        &[
            "A01 10:00 mrn=P family=First visit=V at=A adm=10:00",
            "A01 11:00 mrn=P visit=W at=B",
            "A02 12:00 mrn=Q visit=V at=C from=A",
        ],
    )
    .await;
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT v.encounter, m.mrn, t.mrn, d.lastname
         FROM star.hospital_visit v
         JOIN star.mrn m USING (mrn_id)
         JOIN star.mrn_to_live l USING (mrn_id)
         JOIN star.mrn t ON t.mrn_id = l.live_mrn_id
         LEFT JOIN star.core_demographic d ON d.mrn_id = l.live_mrn_id
         ORDER BY v.encounter",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let first = Some("First".to_owned());
    assert_eq!(
        rows,
        [
            ("V".into(), "P".into(), "P".into(), first.clone()),
            ("W".into(), "P".into(), "P".into(), first),
        ]
    );
    assert_eq!(count(&db.pool, "mrn").await, 2);
    assert_eq!(
        stays(&db.pool, "V").await,
        ["A 10:00-12:00", "C 12:00-open"]
    );
    assert_eq!(stays(&db.pool, "W").await, ["B 11:00-open"]);
    let admitted: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT admission_datetime FROM star.hospital_visit WHERE encounter = 'V'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(admitted, Some(t("10:00")));
}
