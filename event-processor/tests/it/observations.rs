//! Visit observations (F1–F6, C8): flowsheet rows and their types, applied as the consumer
//! applies them, against a real database.

use event_processor::ProcessError;
use interchange::Message;
use interchange::lab::ValueType;
use interchange::observation::{Flowsheet, FlowsheetMetadata};
use interchange::value::Iv;
use sqlx::PgPool;
use testkit::TestDb;

use crate::harness::{apply, count, t};

/// A flowsheet row as data: `<id> <interface id> <observed> <message time> [key=value]…`. Keys:
/// `mrn` (default `M1`), `visit` (default `V1`), `num`, `text`, `unit`, `comment`, `deleted`
/// (any value: status D), `app` (the EHR's id instead of the interface id, not live).
pub(crate) fn row(line: &str) -> Message {
    let mut words = line.split_whitespace();
    let id = words.next().unwrap();
    let interface = words.next().unwrap();
    let observed = t(words.next().unwrap());
    let updated = t(words.next().unwrap());
    let fields: std::collections::HashMap<&str, &str> =
        words.map(|w| w.split_once('=').unwrap()).collect();
    let get = |key: &str| fields.get(key).map(|v| (*v).to_owned());
    let deleted = fields.contains_key("deleted");
    let app = get("app");
    let mut f = Flowsheet {
        source_message_id: Some(id.to_owned()),
        source_system: Some("EPIC".to_owned()),
        source_observation_type: Some("flowsheet".to_owned()),
        mrn: Some(get("mrn").unwrap_or_else(|| "M1".to_owned())),
        visit_number: Some(get("visit").unwrap_or_else(|| "V1".to_owned())),
        interface_id: app.is_none().then(|| interface.to_owned()),
        flowsheet_id: app,
        is_real_time: Some(!fields.contains_key("app")),
        unit: get("unit").map_or(Iv::Unknown, Iv::Save),
        comment: get("comment").map_or(Iv::Unknown, Iv::Save),
        observation_time: Some(observed),
        updated_time: Some(updated),
        ..Flowsheet::default()
    };
    match (get("num"), get("text")) {
        (Some(n), _) => {
            f.value_type = Some(ValueType::Numeric);
            f.numeric_value = Iv::Save(n.parse().unwrap());
        }
        (None, Some(text)) => {
            f.value_type = Some(ValueType::Text);
            f.string_value = Iv::Save(text);
        }
        (None, None) => f.value_type = Some(ValueType::Numeric),
    }
    if deleted {
        f.numeric_value = Iv::delete();
        f.string_value = Iv::delete();
    }
    f.into()
}

/// Flowsheet metadata valid from `at`: a mapping when both ids are given, names when `name` is.
fn metadata(
    id: &str,
    interface: Option<&str>,
    app: Option<&str>,
    name: Option<&str>,
    at: &str,
) -> Message {
    FlowsheetMetadata {
        source_message_id: Some(id.to_owned()),
        source_system: Some("clarity".to_owned()),
        source_observation_type: Some("flowsheet".to_owned()),
        interface_id: interface.map(str::to_owned),
        flowsheet_id: app.map(str::to_owned),
        name: name.map(str::to_owned),
        last_updated_instant: Some(t(at)),
        ..FlowsheetMetadata::default()
    }
    .into()
}

async fn processed(pool: &PgPool, message: &Message) -> Result<(), ProcessError> {
    apply(pool, message, "2024-01-02T00:00:00Z").await
}

/// Each observation of `visit`: (type's interface id or EHR id, observed, real value, text
/// value, unit, comment), by type and time.
type Observed = (
    String,
    chrono::DateTime<chrono::Utc>,
    Option<f64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

async fn observations(pool: &PgPool, visit: &str) -> Vec<Observed> {
    sqlx::query_as(
        "SELECT coalesce(t.interface_id, t.id_in_application), o.observation_datetime,
                o.value_as_real, o.value_as_text, o.unit, o.comment
         FROM star.visit_observation o
         JOIN star.visit_observation_type t USING (visit_observation_type_id)
         JOIN star.hospital_visit v USING (hospital_visit_id)
         WHERE v.encounter = $1 ORDER BY 1, 2",
    )
    .bind(visit)
    .fetch_all(pool)
    .await
    .unwrap()
}

fn observed(
    kind: &str,
    at: &str,
    real: Option<f64>,
    text: Option<&str>,
    unit: Option<&str>,
    comment: Option<&str>,
) -> Observed {
    (
        kind.to_owned(),
        t(at),
        real,
        text.map(str::to_owned),
        unit.map(str::to_owned),
        comment.map(str::to_owned),
    )
}

#[tokio::test]
async fn f1_an_observation_is_one_row_per_visit_type_and_observation_time() {
    let db = TestDb::migrated().await;
    for line in [
        "1 8 10:00 10:01 num=80",
        "2 8 11:00 11:01 num=82",
        "3 8 10:00 10:30 num=81",
        "4 5 10:00 10:01 text=140/90",
        "5 8 10:00 10:01 num=70 visit=V2",
    ] {
        processed(&db.pool, &row(line)).await.unwrap();
    }
    assert_eq!(
        observations(&db.pool, "V1").await,
        [
            observed("5", "10:00", None, Some("140/90"), None, None),
            observed("8", "10:00", Some(81.0), None, None, None),
            observed("8", "11:00", Some(82.0), None, None, None),
        ]
    );
    assert_eq!(count(&db.pool, "visit_observation").await, 4);
    assert_eq!(count(&db.pool, "visit_observation_type").await, 2);
    assert_eq!(count(&db.pool, "visit_observation_audit").await, 1);
}

#[tokio::test]
async fn f1_a_row_without_an_observation_time_is_refused() {
    let db = TestDb::migrated().await;
    let Message::Flowsheet(mut f) = row("1 8 10:00 10:01 num=80") else {
        unreachable!()
    };
    f.observation_time = None;
    match processed(&db.pool, &f.into()).await {
        Err(ProcessError::Rejected(r)) => assert_eq!(r.rule, "F1"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn f2_a_message_as_new_or_newer_replaces_the_value_and_an_older_one_does_not() {
    let db = TestDb::migrated().await;
    processed(&db.pool, &row("1 8 10:00 10:30 num=80"))
        .await
        .unwrap();
    // Older: ignored for the value.
    processed(&db.pool, &row("2 8 10:00 10:10 num=70"))
        .await
        .unwrap();
    assert_eq!(observations(&db.pool, "V1").await[0].2, Some(80.0), "older");
    // Same time, later message: wins (F2's "equal time wins").
    processed(&db.pool, &row("3 8 10:00 10:30 num=85"))
        .await
        .unwrap();
    assert_eq!(observations(&db.pool, "V1").await[0].2, Some(85.0), "equal");
    let (valid_from, source): (chrono::DateTime<chrono::Utc>, i64) =
        sqlx::query_as("SELECT valid_from, source_ids_id FROM star.visit_observation")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((valid_from, source), (t("10:30"), 3));
    assert_eq!(count(&db.pool, "visit_observation_audit").await, 1);
}

#[tokio::test]
async fn ties_between_messages_of_one_time_break_by_ids_id_as_a_number() {
    // As text, '9' sorts after '10': the tie went to the earlier message.
    for order in [[0, 1], [1, 0]] {
        let db = TestDb::migrated().await;
        let rows = [
            row("9 8 10:00 10:30 num=85"),
            row("10 8 10:00 10:30 num=90"),
        ];
        for i in order {
            processed(&db.pool, &rows[i]).await.unwrap();
        }
        let (value, source): (Option<f64>, Option<i64>) =
            sqlx::query_as("SELECT value_as_real, source_ids_id FROM star.visit_observation")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        assert_eq!(
            (value, source),
            (Some(90.0), Some(10)),
            "{order:?}: the later"
        );
        let first: Option<i64> =
            sqlx::query_scalar("SELECT source_ids_id FROM star.visit_observation_type")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        assert_eq!(first, Some(9), "{order:?}: a type names its first message");
    }
}

#[tokio::test]
async fn f2_an_older_message_fills_a_comment_or_unit_the_row_lacks() {
    let db = TestDb::migrated().await;
    processed(&db.pool, &row("2 10 10:00 10:30 num=96"))
        .await
        .unwrap();
    processed(
        &db.pool,
        &row("1 10 10:00 10:10 num=95 unit=% comment=on_air"),
    )
    .await
    .unwrap();
    assert_eq!(
        observations(&db.pool, "V1").await,
        [observed(
            "10",
            "10:00",
            Some(96.0),
            None,
            Some("%"),
            Some("on_air")
        )]
    );
}

#[tokio::test]
async fn f3_a_deleted_value_keeps_the_row_without_its_value_and_audits_the_old_one() {
    let db = TestDb::migrated().await;
    processed(&db.pool, &row("1 28315 10:00 10:01 text=3"))
        .await
        .unwrap();
    processed(&db.pool, &row("2 28315 10:00 10:20 deleted=yes"))
        .await
        .unwrap();
    assert_eq!(
        observations(&db.pool, "V1").await,
        [observed("28315", "10:00", None, None, None, None)]
    );
    let audited: (Option<String>, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("SELECT value_as_text, valid_until FROM star.visit_observation_audit")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(audited, (Some("3".to_owned()), t("10:20")));
}

#[tokio::test]
async fn f5_a_mapping_joins_the_hl7_type_and_the_ehr_type_moving_observations_audited() {
    let db = TestDb::migrated().await;
    for line in [
        "1 8 10:00 10:01 num=80",
        "2 8 11:00 11:01 num=82",
        "3 x 10:00 10:01 num=79 app=P8",
        "4 x 12:00 12:01 num=90 app=P8",
    ] {
        processed(&db.pool, &row(line)).await.unwrap();
    }
    assert_eq!(count(&db.pool, "visit_observation_type").await, 2);
    processed(
        &db.pool,
        &metadata("m1", Some("8"), Some("P8"), Some("Pulse"), "12:30"),
    )
    .await
    .unwrap();
    type Type = (Option<String>, Option<String>, Option<String>, bool);
    let types: Vec<Type> = sqlx::query_as(
        "SELECT interface_id, id_in_application, name, is_real_time
         FROM star.visit_observation_type",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        types,
        [(
            Some("8".to_owned()),
            Some("P8".to_owned()),
            Some("Pulse".to_owned()),
            true
        )]
    );
    // The EHR's observation at 10:00 wins over HL7's at the same time.
    let reals: Vec<Option<f64>> = observations(&db.pool, "V1")
        .await
        .into_iter()
        .map(|o| o.2)
        .collect();
    assert_eq!(reals, [Some(79.0), Some(82.0), Some(90.0)]);
    assert_eq!(count(&db.pool, "visit_observation_audit").await, 2);
    assert!(count(&db.pool, "visit_observation_type_audit").await >= 2);
    // A later HL7 row finds the joined type by its interface id.
    processed(&db.pool, &row("5 8 13:00 13:01 num=88"))
        .await
        .unwrap();
    assert_eq!(count(&db.pool, "visit_observation_type").await, 1);
}

#[tokio::test]
async fn f5_a_mapping_before_any_observation_gives_one_type_that_both_kinds_find() {
    let db = TestDb::migrated().await;
    processed(
        &db.pool,
        &metadata("m1", Some("8"), Some("P8"), None, "09:00"),
    )
    .await
    .unwrap();
    processed(&db.pool, &row("1 8 10:00 10:01 num=80"))
        .await
        .unwrap();
    processed(&db.pool, &row("2 x 11:00 11:01 num=81 app=P8"))
        .await
        .unwrap();
    assert_eq!(count(&db.pool, "visit_observation_type").await, 1);
    assert_eq!(count(&db.pool, "visit_observation").await, 2);
}

#[tokio::test]
async fn f5_names_are_the_latest_metadatas_in_any_order() {
    let mut names = Vec::new();
    for order in [[0, 1], [1, 0]] {
        let db = TestDb::migrated().await;
        let messages = [
            metadata("m1", None, Some("P8"), Some("Pulse (old)"), "09:00"),
            metadata("m2", None, Some("P8"), Some("Pulse"), "10:00"),
        ];
        for i in order {
            processed(&db.pool, &messages[i]).await.unwrap();
        }
        let name: Option<String> =
            sqlx::query_scalar("SELECT name FROM star.visit_observation_type")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        names.push(name);
    }
    assert_eq!(names, [Some("Pulse".to_owned()), Some("Pulse".to_owned())]);
}

#[tokio::test]
async fn f6_is_real_time_turns_on_and_never_off_and_a_type_with_observations_says_so() {
    let db = TestDb::migrated().await;
    processed(
        &db.pool,
        &metadata("m1", Some("8"), None, Some("Pulse"), "09:00"),
    )
    .await
    .unwrap();
    let flags = || async {
        sqlx::query_as::<_, (bool, bool)>(
            "SELECT is_real_time, has_visit_observation FROM star.visit_observation_type",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    assert_eq!(flags().await, (false, false));
    processed(&db.pool, &row("1 8 10:00 10:01 num=80"))
        .await
        .unwrap();
    assert_eq!(flags().await, (true, true));
    let Message::Flowsheet(mut backfill) = row("2 8 11:00 11:01 num=81") else {
        unreachable!()
    };
    backfill.is_real_time = Some(false);
    processed(&db.pool, &backfill.into()).await.unwrap();
    assert_eq!(flags().await, (true, true));
}

#[tokio::test]
async fn c8_a_row_for_a_visit_not_seen_creates_the_patient_and_a_minimal_visit() {
    let db = TestDb::migrated().await;
    processed(&db.pool, &row("1 8 10:00 10:01 num=80 mrn=NEW visit=VNEW"))
        .await
        .unwrap();
    let owner: String = sqlx::query_scalar(
        "SELECT m.mrn FROM star.hospital_visit v JOIN star.mrn m USING (mrn_id)
         WHERE v.encounter = 'VNEW'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(owner, "NEW");
    let Message::Flowsheet(mut f) = row("2 8 10:00 10:01 num=80") else {
        unreachable!()
    };
    f.visit_number = None;
    match processed(&db.pool, &f.into()).await {
        Err(ProcessError::Rejected(r)) => assert_eq!(r.rule, "C8"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn reprocessing_a_row_changes_nothing() {
    let db = TestDb::migrated().await;
    let message = row("1 8 10:00 10:01 num=80 comment=ok");
    processed(&db.pool, &message).await.unwrap();
    processed(&db.pool, &message).await.unwrap();
    assert_eq!(count(&db.pool, "visit_observation").await, 1);
    assert_eq!(count(&db.pool, "visit_observation_audit").await, 0);
}

#[tokio::test]
async fn f2_every_ordering_of_updates_with_a_duplicate_gives_the_same_observations() {
    let db = TestDb::migrated().await;
    // One visit per ordering, in one database: each ordering must end the same.
    let lines = [
        "1 8 10:00 10:01 num=80 comment=resting",
        "2 8 10:00 10:20 num=84 unit=bpm",
        "3 8 10:00 10:40 deleted=yes",
        "3 8 10:00 10:40 deleted=yes",
        "4 6 10:00 10:02 num=37.2",
    ];
    let orderings = crate::harness::permutations(lines.len());
    assert_eq!(orderings.len(), 120);
    for (n, order) in orderings.iter().enumerate() {
        for &i in order {
            let line = format!("{} visit=P{n} mrn=M{n}", lines[i]);
            processed(&db.pool, &row(&line)).await.unwrap();
        }
    }
    let expected = [
        observed("6", "10:00", Some(37.2), None, None, None),
        observed("8", "10:00", None, None, Some("bpm"), Some("resting")),
    ];
    for (n, order) in orderings.iter().enumerate() {
        assert_eq!(
            observations(&db.pool, &format!("P{n}")).await,
            expected,
            "ordering {order:?}"
        );
    }
}

#[tokio::test]
async fn visit_observations_as_the_warehouse_held_them_at_a_stored_time() {
    let db = TestDb::migrated().await;
    apply(
        &db.pool,
        &row("1 8 10:00 10:01 num=80"),
        "2024-01-01T10:05:00Z",
    )
    .await
    .unwrap();
    apply(
        &db.pool,
        &row("2 8 10:00 10:30 num=85"),
        "2024-01-01T10:35:00Z",
    )
    .await
    .unwrap();
    let at = |stored: &str| {
        let pool = db.pool.clone();
        let stored = t(stored);
        async move {
            sqlx::query_scalar::<_, Option<f64>>(
                "SELECT value_as_real FROM star.visit_observation_as_of($1)",
            )
            .bind(stored)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(at("10:10").await, [Some(80.0)]);
    assert_eq!(at("10:40").await, [Some(85.0)]);
    assert!(at("10:00").await.is_empty());
}
