//! Deleting a person's information (X1–X5). X2 (forms) waits for forms to be processed: until
//! then a form is kept as a dead letter.

use testkit::TestDb;

use crate::harness::*;

#[tokio::test]
async fn x1_a_delete_removes_demographics_unless_it_is_older() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A08 10:00 family=Smith", "A29 09:00"]).await;
    assert_eq!(count(&db.pool, "core_demographic").await, 1);
    ok(&db.pool, &["A29 11:00"]).await;
    assert_eq!(count(&db.pool, "core_demographic").await, 0);
    assert_eq!(count(&db.pool, "core_demographic_audit").await, 1);
}

#[tokio::test]
async fn x3_a_delete_removes_the_visits_with_their_locations_and_plans() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A01 10:00 at=A",
            "A02 11:00 at=B from=A",
            "A15 11:30 pending=C",
            "A01 12:30 visit=V2 at=A",
        ],
    )
    .await;
    ok(&db.pool, &["A29 12:00"]).await;
    // The visit valid from after the delete stays.
    assert_eq!(visit(&db.pool, "V1").await, None);
    assert!(visit(&db.pool, "V2").await.is_some());
    assert_eq!(count(&db.pool, "location_visit").await, 1);
    assert_eq!(count(&db.pool, "planned_movement").await, 0);
    assert_eq!(count(&db.pool, "visit_movement").await, 1);
}

#[tokio::test]
async fn x4_the_mrn_survives_a_delete() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A", "A29 12:00"]).await;
    assert_eq!(count(&db.pool, "mrn").await, 1);
    assert_eq!(count(&db.pool, "mrn_to_live").await, 1);
}

#[tokio::test]
async fn x5_nothing_is_deleted_without_an_audit_row() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A01 10:00 at=A",
            "A02 11:00 at=B from=A",
            "A15 11:30 pending=C",
        ],
    )
    .await;
    let before: Vec<i64> = visit_table_counts(&db.pool).await;
    ok(&db.pool, &["A29 12:00"]).await;
    let audits_after: i64 = count(&db.pool, "location_visit_audit").await
        + count(&db.pool, "planned_movement_audit").await
        + count(&db.pool, "hospital_visit_audit").await;
    assert_eq!(audits_after - before[1], before[0]);
}

/// [live rows, audit rows] over the visit tables.
async fn visit_table_counts(pool: &sqlx::PgPool) -> Vec<i64> {
    let live = count(pool, "location_visit").await
        + count(pool, "planned_movement").await
        + count(pool, "hospital_visit").await;
    let audit = count(pool, "location_visit_audit").await
        + count(pool, "planned_movement_audit").await
        + count(pool, "hospital_visit_audit").await;
    vec![live, audit]
}

#[tokio::test]
async fn x2_a_delete_in_a_lane_run_removes_the_forms_filed_before_it() {
    let db = TestDb::migrated().await;
    let form: interchange::Message = interchange::form::FormMsg {
        source_message_id: Some("form-1".into()),
        source_system: Some("clarity".into()),
        form_id: Some("2056".into()),
        form_instance_id: Some("F1".into()),
        mrn: Some("M1".into()),
        first_filed_datetime: Some(t("09:30")),
        form_answer_msgs: vec![interchange::form::FormAnswerMsg {
            question_id: Some("UCLH#1205".into()),
            string_value: interchange::value::Iv::Save("1".into()),
            ..Default::default()
        }],
        ..Default::default()
    }
    .into();
    let run = [hl7("A08 09:00 family=Smith"), form, hl7("A29 10:00")];
    let applied = event_processor::lanes::apply_run(
        &event_processor::Processor::default(),
        &db.pool,
        &run,
        1,
    )
    .await
    .unwrap();
    assert_eq!((applied.applied, applied.dead_lettered), (3, 0));
    assert_eq!(count(&db.pool, "form").await, 0);
    assert_eq!(count(&db.pool, "form_audit").await, 1);
    assert_eq!(count(&db.pool, "form_answer_audit").await, 1);
    // Definitions and questions are everyone's: they stay.
    assert_eq!(count(&db.pool, "form_question").await, 1);
    assert_eq!(count(&db.pool, "core_demographic").await, 0);
    assert_eq!(count(&db.pool, "mrn").await, 1);
}

#[tokio::test]
async fn x5_a_delete_removes_the_visits_lab_orders_and_observations_each_audited() {
    use interchange::lab::{LabOrderMsg, LabResultMsg, ValueType};
    use interchange::observation::Flowsheet;
    use interchange::value::Iv;
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=A"]).await;
    let lab: interchange::Message = LabOrderMsg {
        source_message_id: Some("lab-1".into()),
        source_system: Some("WIN_PATH".into()),
        order_control_id: Some("RE".into()),
        lab_specimen_number: Some("S1".into()),
        status_change_time: Some(t("10:30")),
        mrn: Some("M1".into()),
        visit_number: Some("V1".into()),
        test_battery_local_code: Some("FBC".into()),
        test_battery_coding_system: Some("WIN_PATH".into()),
        lab_result_msgs: vec![LabResultMsg {
            mime_type: Some(ValueType::Numeric),
            test_item_local_code: Some("HB".into()),
            numeric_value: Iv::Save(140.0),
            result_time: Some(t("10:30")),
            ..Default::default()
        }],
        ..Default::default()
    }
    .into();
    let pulse: interchange::Message = Flowsheet {
        source_message_id: Some("obs-1".into()),
        source_system: Some("EPIC".into()),
        mrn: Some("M1".into()),
        visit_number: Some("V1".into()),
        interface_id: Some("8".into()),
        numeric_value: Iv::Save(80.0),
        observation_time: Some(t("10:40")),
        updated_time: Some(t("10:41")),
        ..Default::default()
    }
    .into();
    for message in [&lab, &pulse] {
        apply(&db.pool, message, "2024-01-02T00:00:00Z")
            .await
            .unwrap();
    }
    ok(&db.pool, &["A29 12:00"]).await;
    assert_eq!(visit(&db.pool, "V1").await, None);
    for table in ["lab_order", "lab_result", "visit_observation"] {
        assert_eq!(count(&db.pool, table).await, 0, "{table}");
        assert_eq!(
            count(&db.pool, &format!("{table}_audit")).await,
            1,
            "{table}_audit"
        );
    }
    // The sample is the patient's and stays.
    assert_eq!(count(&db.pool, "lab_sample").await, 1);
}
