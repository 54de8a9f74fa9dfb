//! Labs (LB1–LB11, LB13): batteries, test definitions, samples, orders, cancellations, results and
//! microbiology isolates with their sensitivities,
//! applied as the consumer applies them, against a real database.

use event_processor::lanes::apply_run;
use event_processor::{ProcessError, Processor};
use interchange::Binary;
use interchange::Message;
use interchange::lab::{LabOrderMsg, LabResultMsg, LabResultStatus, ValueType};
use interchange::value::Iv;
use sqlx::PgPool;
use testkit::TestDb;

use crate::harness::{apply, count, hl7, ok, t};

/// A WinPath order line as data: `<control> <status time> [key=value]…`. Keys: `mrn` (default
/// `M1`), `visit`, `specimen` (default `S1`), `battery` (default `FBC`), `dept`, `order`
/// (order time), `collected`, `received`, `type` (specimen type), `info` (clinical
/// information), `epic` (Epic order number; with control CA it is sent as a delete).
pub(crate) fn lab(line: &str, results: Vec<LabResultMsg>) -> Message {
    let mut words = line.split_whitespace();
    let control = words.next().unwrap();
    let time = t(words.next().unwrap());
    let fields: std::collections::HashMap<&str, &str> =
        words.map(|w| w.split_once('=').unwrap()).collect();
    let get = |key: &str| fields.get(key).map(|v| (*v).to_owned());
    let time_of = |key: &str| fields.get(key).map(|v| t(v));
    let epic = match (get("epic"), control) {
        (Some(n), "CA") => Iv::Delete(Some(n)),
        (Some(n), _) => Iv::Save(n),
        (None, _) => Iv::Unknown,
    };
    LabOrderMsg {
        source_message_id: Some(line.to_owned()),
        source_system: Some("WIN_PATH".to_owned()),
        order_control_id: Some(control.to_owned()),
        epic_care_order_number: epic,
        lab_specimen_number: Some(get("specimen").unwrap_or_else(|| "S1".to_owned())),
        specimen_type: get("type").map_or(Iv::Unknown, Iv::Save),
        collection_date_time: time_of("collected"),
        status_change_time: Some(time),
        order_date_time: time_of("order").map_or(Iv::Unknown, Iv::Save),
        sample_received_time: time_of("received").map_or(Iv::Unknown, Iv::Save),
        lab_department: get("dept"),
        mrn: Some(get("mrn").unwrap_or_else(|| "M1".to_owned())),
        visit_number: get("visit"),
        test_battery_local_code: Some(get("battery").unwrap_or_else(|| "FBC".to_owned())),
        test_battery_coding_system: Some("WIN_PATH".to_owned()),
        clinical_information: get("info").map_or(Iv::Unknown, Iv::Save),
        lab_result_msgs: results,
        ..Default::default()
    }
    .into()
}

/// A numeric result of `test` at `at`.
pub(crate) fn numeric(test: &str, value: f64, at: &str) -> LabResultMsg {
    LabResultMsg {
        mime_type: Some(ValueType::Numeric),
        test_item_local_code: Some(test.to_owned()),
        test_item_coding_system: Some("WIN_PATH".to_owned()),
        numeric_value: Iv::Save(value),
        result_operator: Some("=".to_owned()),
        units: Iv::Save("g/L".to_owned()),
        result_status: Some(LabResultStatus::Final),
        result_time: Some(t(at)),
        ..Default::default()
    }
}

async fn processed(pool: &PgPool, message: &Message) -> Result<(), ProcessError> {
    apply(pool, message, "2024-01-02T00:00:00Z").await
}

async fn rule_of(pool: &PgPool, message: &Message) -> &'static str {
    match processed(pool, message).await {
        Err(ProcessError::Rejected(r)) => r.rule,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

async fn results(pool: &PgPool) -> Vec<(String, Option<f64>, Option<String>, Option<String>)> {
    sqlx::query_as(
        "SELECT d.test_lab_code, r.value_as_real, r.value_as_text, r.result_status
         FROM star.lab_result r JOIN star.lab_test_definition d USING (lab_test_definition_id)
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn lb1_a_lab_message_without_a_status_change_time_is_refused() {
    let db = TestDb::migrated().await;
    let Message::LabOrderMsg(mut m) = lab("NW 10:00", vec![]) else {
        unreachable!()
    };
    m.status_change_time = None;
    assert_eq!(rule_of(&db.pool, &m.into()).await, "G3");
    assert_eq!(count(&db.pool, "lab_order").await, 0);
}

#[tokio::test]
async fn lb2_batteries_and_tests_are_shared_and_a_test_takes_its_latest_department() {
    let db = TestDb::migrated().await;
    let hb = |at| vec![numeric("HB", 140.0, at)];
    // The latest message by hospital time names BLOOD; it arrives in the middle.
    processed(&db.pool, &lab("RE 10:00 mrn=A dept=HAEM", hb("10:00")))
        .await
        .unwrap();
    processed(&db.pool, &lab("RE 12:00 mrn=C dept=BLOOD", hb("12:00")))
        .await
        .unwrap();
    processed(&db.pool, &lab("RE 11:00 mrn=B dept=HAEM", hb("11:00")))
        .await
        .unwrap();
    processed(&db.pool, &lab("RE 13:00 mrn=D", hb("13:00")))
        .await
        .unwrap();
    assert_eq!(count(&db.pool, "lab_battery").await, 1);
    assert_eq!(count(&db.pool, "lab_test_definition").await, 1);
    assert_eq!(count(&db.pool, "lab_battery_element").await, 1);
    assert_eq!(count(&db.pool, "lab_order").await, 4);
    let (department, first): (Option<String>, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("SELECT lab_department, valid_from FROM star.lab_test_definition")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(department.as_deref(), Some("BLOOD"));
    assert_eq!(first, t("10:00"), "the earliest message that named it");
}

/// A reference row: which table, a test's department, valid-from and source message.
type SharedRow = (
    String,
    Option<String>,
    chrono::DateTime<chrono::Utc>,
    Option<i64>,
);

#[tokio::test]
async fn lb2_shared_rows_are_the_same_whatever_order_patients_messages_arrive_in() {
    let messages = [
        lab(
            "RE 10:00 mrn=A dept=HAEM",
            vec![numeric("HB", 140.0, "10:00")],
        ),
        lab(
            "RE 11:00 mrn=B dept=BLOOD",
            vec![numeric("HB", 141.0, "11:00")],
        ),
        lab("RE 09:00 mrn=C", vec![numeric("HB", 142.0, "09:00")]),
    ];
    let mut seen = Vec::new();
    for order in crate::harness::permutations(messages.len()) {
        let db = TestDb::migrated().await;
        for i in order {
            processed(&db.pool, &messages[i]).await.unwrap();
        }
        let rows: Vec<SharedRow> = sqlx::query_as(
            "SELECT 'battery', NULL, valid_from, source_ids_id FROM star.lab_battery
                 UNION ALL
                 SELECT 'test', lab_department, valid_from, source_ids_id
                 FROM star.lab_test_definition
                 UNION ALL
                 SELECT 'element', NULL, valid_from, source_ids_id FROM star.lab_battery_element
                 ORDER BY 1",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap();
        seen.push(rows);
    }
    assert_eq!(seen.len(), 6);
    assert!(seen.iter().all(|rows| *rows == seen[0]), "{seen:#?}");
    // Ordered battery, element, test.
    assert_eq!(seen[0][2].1.as_deref(), Some("BLOOD"));
    assert_eq!(seen[0][0].2, t("09:00"));
}

#[tokio::test]
async fn lb3_a_sample_fills_what_it_lacks_from_older_messages_but_keeps_its_collection() {
    let db = TestDb::migrated().await;
    processed(&db.pool, &lab("SC 10:00 collected=09:00", vec![]))
        .await
        .unwrap();
    // Older: its receipt time fills a gap, its collection time does not replace the newer one.
    processed(
        &db.pool,
        &lab("NW 09:30 collected=08:00 received=09:45 type=Blood", vec![]),
    )
    .await
    .unwrap();
    let sample: (
        Option<chrono::DateTime<chrono::Utc>>,
        Option<chrono::DateTime<chrono::Utc>>,
        Option<String>,
    ) = sqlx::query_as(
        "SELECT sample_collection_datetime, receipt_at_lab_datetime, specimen_type
             FROM star.lab_sample",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        sample,
        (Some(t("09:00")), Some(t("09:45")), Some("Blood".to_owned()))
    );
    assert_eq!(count(&db.pool, "lab_sample_audit").await, 1);
    // The same specimen number of another patient is another sample.
    processed(&db.pool, &lab("SC 10:00 mrn=M2", vec![]))
        .await
        .unwrap();
    assert_eq!(count(&db.pool, "lab_sample").await, 2);
}

#[tokio::test]
async fn lb4_an_order_keeps_its_visit_and_takes_details_only_from_newer_messages() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 09:00 mrn=M1 visit=V1 at=WARD^A^1"]).await;
    processed(
        &db.pool,
        &lab("NW 10:00 visit=V1 info=first order=09:50", vec![]),
    )
    .await
    .unwrap();
    processed(&db.pool, &lab("SC 09:55 info=older", vec![]))
        .await
        .unwrap();
    processed(&db.pool, &lab("SC 11:00 info=newer epic=E1", vec![]))
        .await
        .unwrap();
    let order: (
        Option<String>,
        Option<String>,
        Option<chrono::DateTime<chrono::Utc>>,
        bool,
    ) = sqlx::query_as(
        "SELECT clinical_information, internal_lab_number, order_datetime,
                    hospital_visit_id IS NOT NULL
             FROM star.lab_order",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        order,
        (
            Some("newer".to_owned()),
            Some("E1".to_owned()),
            Some(t("09:50")),
            true
        )
    );
    assert_eq!(count(&db.pool, "lab_order_audit").await, 1);
}

#[tokio::test]
async fn lb5_a_cancelled_order_is_deleted_audited_unless_it_has_results() {
    let db = TestDb::migrated().await;
    processed(&db.pool, &lab("NW 10:00 epic=E1 order=09:50", vec![]))
        .await
        .unwrap();
    processed(&db.pool, &lab("CA 11:00 epic=E1 order=09:50", vec![]))
        .await
        .unwrap();
    assert_eq!(count(&db.pool, "lab_order").await, 0);
    assert_eq!(count(&db.pool, "lab_order_audit").await, 1);
    assert_eq!(count(&db.pool, "lab_order_cancellation").await, 1);
    // Another battery on the sample has results: its cancellation is refused.
    let hb = vec![numeric("HB", 140.0, "12:00")];
    processed(&db.pool, &lab("RE 12:00 battery=U&E epic=E2", hb))
        .await
        .unwrap();
    let cancel = lab("CA 13:00 battery=U&E epic=E2", vec![]);
    assert_eq!(rule_of(&db.pool, &cancel).await, "LB5");
    assert_eq!(count(&db.pool, "lab_order").await, 1);
}

#[tokio::test]
async fn lb6_an_order_cancelled_before_it_arrived_is_refused() {
    let db = TestDb::migrated().await;
    processed(&db.pool, &lab("CA 11:00 epic=E1 order=09:50", vec![]))
        .await
        .unwrap();
    // The cancellation is kept in its own table, not as a fake audit row.
    assert_eq!(count(&db.pool, "lab_order_cancellation").await, 1);
    assert_eq!(count(&db.pool, "lab_order_audit").await, 0);
    let late = lab("NW 10:00 epic=E1 order=09:50", vec![]);
    assert_eq!(rule_of(&db.pool, &late).await, "LB6");
    assert_eq!(count(&db.pool, "lab_order").await, 0);
    // A re-order (another Epic number) on the same sample is a new order.
    processed(&db.pool, &lab("NW 12:00 epic=E9 order=11:50", vec![]))
        .await
        .unwrap();
    assert_eq!(count(&db.pool, "lab_order").await, 1);
}

#[tokio::test]
async fn lb7_an_order_newer_than_its_cancellation_is_not_deleted() {
    let db = TestDb::migrated().await;
    processed(&db.pool, &lab("NW 12:00 epic=E1", vec![]))
        .await
        .unwrap();
    processed(&db.pool, &lab("CA 11:00 epic=E1", vec![]))
        .await
        .unwrap();
    assert_eq!(count(&db.pool, "lab_order").await, 1);
    assert_eq!(count(&db.pool, "lab_order_audit").await, 0);
}

#[tokio::test]
async fn lb8_an_older_result_does_not_overwrite_a_newer_one() {
    let db = TestDb::migrated().await;
    processed(
        &db.pool,
        &lab("RE 12:00", vec![numeric("HB", 150.0, "12:00")]),
    )
    .await
    .unwrap();
    processed(
        &db.pool,
        &lab("RE 11:00", vec![numeric("HB", 110.0, "11:00")]),
    )
    .await
    .unwrap();
    assert_eq!(results(&db.pool).await[0].1, Some(150.0));
    // The same result again changes nothing; a newer one replaces it, audited.
    processed(
        &db.pool,
        &lab("RE 12:00", vec![numeric("HB", 150.0, "12:00")]),
    )
    .await
    .unwrap();
    assert_eq!(count(&db.pool, "lab_result_audit").await, 0);
    processed(
        &db.pool,
        &lab("RE 13:00", vec![numeric("HB", 130.0, "13:00")]),
    )
    .await
    .unwrap();
    assert_eq!(results(&db.pool).await[0].1, Some(130.0));
    assert_eq!(count(&db.pool, "lab_result_audit").await, 1);
}

/// A result's test code, mime type, text, number, bytes and operator.
type ValueColumns = (
    String,
    String,
    Option<String>,
    Option<f64>,
    Option<Vec<u8>>,
    Option<String>,
);

#[tokio::test]
async fn lb9_a_value_goes_in_the_column_its_mime_type_names() {
    let db = TestDb::migrated().await;
    let text = LabResultMsg {
        mime_type: Some(ValueType::Text),
        test_item_local_code: Some("COMMENT".to_owned()),
        string_value: Iv::Save("haemolysed".to_owned()),
        result_time: Some(t("10:00")),
        ..Default::default()
    };
    let pdf = LabResultMsg {
        mime_type: Some(ValueType::Pdf),
        test_item_local_code: Some("REPORT".to_owned()),
        byte_value: Iv::Save(Binary(b"%PDF-1.4".to_vec())),
        result_time: Some(t("10:00")),
        ..Default::default()
    };
    let mut below = numeric("K", 2.0, "10:00");
    below.result_operator = Some("<".to_owned());
    processed(&db.pool, &lab("RE 10:00", vec![text, pdf, below]))
        .await
        .unwrap();
    let rows: Vec<ValueColumns> = sqlx::query_as(
        "SELECT d.test_lab_code, r.mime_type, r.value_as_text, r.value_as_real,
                    r.value_as_bytes, r.result_operator
             FROM star.lab_result r JOIN star.lab_test_definition d USING (lab_test_definition_id)
             ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            (
                "COMMENT".into(),
                "TEXT".into(),
                Some("haemolysed".into()),
                None,
                None,
                None
            ),
            (
                "K".into(),
                "NUMERIC".into(),
                None,
                Some(2.0),
                None,
                Some("<".into())
            ),
            (
                "REPORT".into(),
                "PDF".into(),
                None,
                None,
                Some(b"%PDF-1.4".to_vec()),
                None
            ),
        ]
    );
}

#[tokio::test]
async fn lb10_results_a_later_message_leaves_out_stay() {
    let db = TestDb::migrated().await;
    let both = vec![numeric("HB", 140.0, "10:00"), numeric("WBC", 6.0, "10:00")];
    processed(&db.pool, &lab("RE 10:00", both)).await.unwrap();
    processed(
        &db.pool,
        &lab("RE 11:00", vec![numeric("HB", 141.0, "11:00")]),
    )
    .await
    .unwrap();
    let codes: Vec<String> = results(&db.pool).await.into_iter().map(|r| r.0).collect();
    assert_eq!(codes, ["HB", "WBC"]);
}

#[tokio::test]
async fn a_lab_message_for_an_mrn_merged_earlier_lands_on_the_live_patient_in_its_lane() {
    let db = TestDb::migrated().await;
    let run = [
        hl7("A01 09:00 mrn=OLD visit=V1 at=WARD^A^1"),
        hl7("A40 09:30 mrn=NEW prev_mrn=OLD"),
        lab(
            "RE 10:00 mrn=OLD visit=V1",
            vec![numeric("HB", 140.0, "10:00")],
        ),
    ];
    let done = apply_run(&Processor::default(), &db.pool, &run, 4)
        .await
        .unwrap();
    assert_eq!((done.applied, done.dead_lettered), (3, 0));
    let owner: String =
        sqlx::query_scalar("SELECT m.mrn FROM star.lab_sample s JOIN star.mrn m USING (mrn_id)")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(owner, "NEW");
}

#[tokio::test]
async fn lab_messages_in_any_order_with_a_duplicate_give_the_same_order_and_results() {
    let messages = [
        lab("NW 10:00 epic=E1 order=09:50 info=asked", vec![]),
        lab("SC 10:30 epic=E1 collected=10:20", vec![]),
        lab("RE 11:00 epic=E1", vec![numeric("HB", 140.0, "11:00")]),
        lab(
            "RE 12:00 epic=E1",
            vec![numeric("HB", 141.0, "12:00"), numeric("WBC", 6.0, "12:00")],
        ),
        lab(
            "RE 12:00 epic=E1",
            vec![numeric("HB", 141.0, "12:00"), numeric("WBC", 6.0, "12:00")],
        ),
    ];
    let mut outcomes = Vec::new();
    for order in crate::harness::permutations(messages.len())
        .into_iter()
        .step_by(7)
    {
        let db = TestDb::migrated().await;
        for i in order {
            processed(&db.pool, &messages[i]).await.unwrap();
        }
        let state: (Option<String>, Option<chrono::DateTime<chrono::Utc>>) = sqlx::query_as(
            "SELECT o.clinical_information, s.sample_collection_datetime
             FROM star.lab_order o JOIN star.lab_sample s USING (lab_sample_id)",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        outcomes.push((state, results(&db.pool).await));
    }
    assert!(outcomes.len() > 10);
    let expected = (
        (Some("asked".to_owned()), Some(t("10:20"))),
        vec![
            ("HB".to_owned(), Some(141.0), None, Some("FINAL".to_owned())),
            ("WBC".to_owned(), Some(6.0), None, Some("FINAL".to_owned())),
        ],
    );
    for outcome in outcomes {
        assert_eq!(outcome, expected);
    }
}

#[tokio::test]
async fn lab_orders_and_results_as_the_warehouse_held_them_at_a_stored_time() {
    let db = TestDb::migrated().await;
    let hb = |value, at| vec![numeric("HB", value, at)];
    apply(
        &db.pool,
        &lab("RE 10:00 epic=E1", hb(120.0, "10:00")),
        "2024-01-01T10:05:00Z",
    )
    .await
    .unwrap();
    apply(
        &db.pool,
        &lab("RE 11:00 epic=E1", hb(125.0, "11:00")),
        "2024-01-01T11:05:00Z",
    )
    .await
    .unwrap();
    apply(
        &db.pool,
        &lab("NW 09:00 battery=U&E epic=E2", vec![]),
        "2024-01-01T09:05:00Z",
    )
    .await
    .unwrap();
    apply(
        &db.pool,
        &lab("CA 12:00 battery=U&E epic=E2", vec![]),
        "2024-01-01T12:05:00Z",
    )
    .await
    .unwrap();
    let hb_at = async |when: &str| -> Vec<f64> {
        let values: Vec<Option<f64>> =
            sqlx::query_scalar("SELECT value_as_real FROM star.lab_result_as_of($1)")
                .bind(t(when))
                .fetch_all(&db.pool)
                .await
                .unwrap();
        values.into_iter().flatten().collect()
    };
    assert_eq!(hb_at("10:00").await, Vec::<f64>::new());
    assert_eq!(hb_at("10:30").await, [120.0]);
    assert_eq!(hb_at("11:30").await, [125.0]);
    let orders_at = async |when: &str| -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM star.lab_order_as_of($1)")
            .bind(t(when))
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    // The U&E order was believed from 09:05 until its cancellation was stored at 12:05.
    assert_eq!(orders_at("09:30").await, 1);
    assert_eq!(orders_at("11:30").await, 2);
    assert_eq!(orders_at("12:30").await, 1);
}

/// A culture result: isolate `id` of `organism` with `quantity`, and sensitivities as
/// `agent=flag` words, reported at `at`.
fn isolate(
    id: &str,
    organism: &str,
    quantity: &str,
    sensitivities: &str,
    at: &str,
) -> LabResultMsg {
    LabResultMsg {
        mime_type: Some(ValueType::LabIsolate),
        test_item_local_code: Some("ISOLATE".to_owned()),
        test_item_coding_system: Some("WIN_PATH".to_owned()),
        observation_sub_id: Some(id.to_owned()),
        abnormal_flag: Iv::Save("A".to_owned()),
        result_status: Some(LabResultStatus::Final),
        result_time: Some(t(at)),
        lab_isolate: Some(interchange::lab::LabIsolateMsg {
            isolate_id: Some(id.to_owned()),
            isolate_code: Some(organism.to_owned()),
            isolate_name: Some(format!("{organism} (name)")),
            quantity: Iv::Save(quantity.to_owned()),
            sensitivities: sensitivities
                .split_whitespace()
                .map(|s| {
                    let (agent, flag) = s.split_once('=').unwrap();
                    LabResultMsg {
                        mime_type: Some(ValueType::Text),
                        test_item_local_code: Some(agent.to_owned()),
                        string_value: match agent {
                            "-" => Iv::Unknown,
                            _ => Iv::Save(agent.to_owned()),
                        },
                        abnormal_flag: Iv::Save(flag.to_owned()),
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Isolates with their sensitivities: `(isolate id, organism, quantity, agent, flag, reported)`.
async fn cultures(
    pool: &PgPool,
) -> Vec<(
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    chrono::DateTime<chrono::Utc>,
)> {
    sqlx::query_as(
        "SELECT i.lab_internal_id, i.isolate_code, i.quantity, s.agent, s.sensitivity,
                s.reporting_datetime
         FROM star.lab_isolate i JOIN star.lab_sensitivity s USING (lab_isolate_id)
         ORDER BY 1, 4",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn lb11_isolates_and_sensitivities_are_kept_per_result_and_agent() {
    let db = TestDb::migrated().await;
    let culture = |at: &str, quantity, sensitivities| {
        lab(
            &format!("RE {at} battery=BC"),
            vec![isolate("1", "STAAUR", quantity, sensitivities, at)],
        )
    };
    processed(
        &db.pool,
        &culture("10:00", "Light growth of", "VM=S VF=S -=R"),
    )
    .await
    .unwrap();
    let first = cultures(&db.pool).await;
    assert_eq!(
        first.len(),
        2,
        "a sensitivity without an agent is skipped: {first:?}"
    );
    assert_eq!(first[0].3, "VF");
    assert_eq!(first[0].5, t("10:00"));
    // Later: more growth, amoxicillin resistant, flucloxacillin unchanged.
    processed(&db.pool, &culture("12:00", "Heavy growth of", "VM=R VF=S"))
        .await
        .unwrap();
    let later = cultures(&db.pool).await;
    assert_eq!(later.len(), 2);
    assert_eq!(later[0].2.as_deref(), Some("Heavy growth of"));
    assert_eq!(
        (later[0].4.as_deref(), later[0].5),
        (Some("S"), t("10:00")),
        "VF unchanged keeps its reporting time"
    );
    assert_eq!(
        (later[1].4.as_deref(), later[1].5),
        (Some("R"), t("12:00")),
        "VM changed"
    );
    assert_eq!(count(&db.pool, "lab_isolate").await, 1);
    assert_eq!(count(&db.pool, "lab_isolate_audit").await, 1);
    assert_eq!(count(&db.pool, "lab_sensitivity_audit").await, 1);
    let touched: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT result_last_modified_datetime FROM star.lab_result")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(touched, t("12:00"), "a changed isolate moves its result on");
    // An older report changes nothing it holds.
    processed(
        &db.pool,
        &culture("11:00", "Moderate growth of", "VM=S VF=S"),
    )
    .await
    .unwrap();
    assert_eq!(cultures(&db.pool).await, later);
}

#[tokio::test]
async fn lb11_a_culture_reported_in_any_order_ends_the_same() {
    let reports = [
        ("10:00", "Light growth of", "VM=S VF=S"),
        ("11:00", "Light growth of", "VM=S VF=S VC=I"),
        ("12:00", "Heavy growth of", "VM=R VF=S VC=I"),
    ];
    let mut finals = Vec::new();
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1], [0, 2, 1]] {
        let db = TestDb::migrated().await;
        for i in order {
            let (at, quantity, sensitivities) = reports[i];
            let m = lab(
                &format!("RE {at} battery=BC"),
                vec![isolate("1", "STAAUR", quantity, sensitivities, at)],
            );
            processed(&db.pool, &m).await.unwrap();
        }
        finals.push(cultures(&db.pool).await);
    }
    let expected = finals[0].clone();
    assert_eq!(expected.len(), 3);
    // VF was S from the first report; VM turned R at noon; VC first came at 11.
    let reported: Vec<_> = expected.iter().map(|c| (c.3.as_str(), c.5)).collect();
    assert_eq!(
        reported,
        [("VC", t("11:00")), ("VF", t("10:00")), ("VM", t("12:00"))]
    );
    for (n, other) in finals.iter().enumerate() {
        assert_eq!(other, &expected, "ordering {n}");
    }
}

/// EMAP's lab metadata fixtures (`LabsMetadata/<file>.yaml`).
fn metadata(file: &str) -> Vec<Message> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../testdata/UCLH-DHCT__emap/emap-interchange/src/test/resources/LabsMetadata/{file}.yaml"
    ));
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn names(pool: &PgPool) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT lab_provider, battery_code, battery_name FROM star.lab_battery
         UNION ALL
         SELECT lab_provider, test_lab_code, name FROM star.lab_test_definition
         ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn lb13_metadata_names_batteries_and_tests_the_same_in_any_order() {
    let all = metadata("labs_metadata");
    assert_eq!(all.len(), 14);
    let forward = TestDb::migrated().await;
    for m in &all {
        processed(&forward.pool, m).await.unwrap();
    }
    let backward = TestDb::migrated().await;
    for m in all.iter().rev() {
        processed(&backward.pool, m).await.unwrap();
    }
    let named = names(&forward.pool).await;
    assert_eq!(named, names(&backward.pool).await);
    assert!(named.contains(&(
        "WIN_PATH".to_owned(),
        "GYNAE".to_owned(),
        Some("Gynaecological Smear".to_owned())
    )));
    assert!(named.contains(&(
        "ABL90_FLEX_PLUS".to_owned(),
        "pH".to_owned(),
        Some("pH".to_owned())
    )));
}

#[tokio::test]
async fn lb13_a_battery_seen_in_an_order_is_named_by_the_latest_metadata() {
    let db = TestDb::migrated().await;
    processed(
        &db.pool,
        &lab("RE 10:00 battery=BON", vec![numeric("ALP", 80.0, "10:00")]),
    )
    .await
    .unwrap();
    let unnamed = names(&db.pool).await;
    assert_eq!(unnamed.len(), 2);
    assert!(unnamed.iter().all(|(_, _, name)| name.is_none()));
    // EMAP's fixtures name BON and ALP; an older catalogue entry does not rename them back.
    let mut messages = metadata("labs_metadata_update_existing_battery");
    messages.extend(metadata("labs_metadata_update_existing_test"));
    let mut older = messages.clone();
    for m in &mut older {
        let Message::LabMetadataMsg(m) = m else {
            unreachable!()
        };
        m.name = Some(format!("{} (old)", m.name.clone().unwrap()));
        m.valid_from = m.valid_from.map(|t| t - chrono::Duration::days(365));
    }
    for m in messages.iter().chain(&older) {
        processed(&db.pool, m).await.unwrap();
    }
    let named: Vec<Option<String>> = names(&db.pool).await.into_iter().map(|n| n.2).collect();
    assert_eq!(
        named,
        [
            Some("Alkaline phosphatase".to_owned()),
            Some("Bone Profile".to_owned())
        ]
    );
    assert_eq!(
        count(&db.pool, "lab_battery").await,
        1,
        "the order's battery, named"
    );
}

#[tokio::test]
async fn q5_a_samples_questions_are_answered_on_the_sample_and_the_newest_answer_wins() {
    let db = TestDb::migrated().await;
    let asked = |line: &str, answer: &str| {
        let mut m = lab(line, vec![]);
        if let Message::LabOrderMsg(order) = &mut m {
            order
                .questions
                .insert("Clinical details".to_owned(), answer.to_owned());
        }
        m
    };
    processed(&db.pool, &asked("NW 11:00 specimen=S9", "query sepsis"))
        .await
        .unwrap();
    processed(&db.pool, &asked("NW 10:00 specimen=S9", "fever"))
        .await
        .unwrap();
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT a.parent_table, s.external_lab_number, a.answer
         FROM star.request_answer a JOIN star.lab_sample s ON s.lab_sample_id = a.parent_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        [(
            "LAB_SAMPLE".to_owned(),
            "S9".to_owned(),
            Some("query sepsis".to_owned())
        )]
    );
}
