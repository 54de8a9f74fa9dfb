//! Backfilled history against what the live feed already wrote: a table-reader message (its
//! `sourceMessageId` a `source/query/key`, not an IDS id) older than the live one fills what a
//! row lacks and never replaces what it holds — for demographics, a visit, a lab result and an
//! observation — and the row keeps the live message's provenance. A newer backfilled message
//! does apply, so the older one is not simply refused.

use chrono::Utc;
use event_processor::{Config, Processor};
use interchange::Message;
use sqlx::PgPool;
use testkit::TestDb;

use crate::harness::{hl7, lastname, save, update, visit};
use crate::labs::{lab, numeric};
use crate::observations::row;

/// A processor that trusts the reporting database as it trusts the EHR's feed.
fn processor() -> Processor {
    Processor::new(Config {
        trusted_sources: vec!["EPIC".to_owned(), "clarity".to_owned()],
    })
}

async fn apply(pool: &PgPool, message: &Message) {
    let mut tx = pool.begin().await.unwrap();
    processor()
        .process(&mut tx, message, Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// `message` as the table-reader would send it: from `clarity`, with a row key for an id.
fn backfilled(mut message: Message, key: &str) -> Message {
    let id = Some(format!("clarity/history/{key}"));
    let source = Some("clarity".to_owned());
    match &mut message {
        Message::UpdatePatientInfo(m) => {
            (m.adt.source_message_id, m.adt.source_system) = (id, source)
        }
        Message::AdmitPatient(m) => (m.adt.source_message_id, m.adt.source_system) = (id, source),
        Message::LabOrderMsg(m) => (m.source_message_id, m.source_system) = (id, source),
        Message::Flowsheet(m) => (m.source_message_id, m.source_system) = (id, source),
        other => panic!("not used here: {}", other.class_name()),
    }
    message
}

/// `message` as the live reader sends it: IDS id `ids_id`.
fn live(mut message: Message, ids_id: i64) -> Message {
    let id = Some(ids_id.to_string());
    match &mut message {
        Message::AdmitPatient(m) => m.adt.source_message_id = id,
        Message::LabOrderMsg(m) => m.source_message_id = id,
        Message::Flowsheet(m) => m.source_message_id = id,
        other => panic!("not used here: {}", other.class_name()),
    }
    message
}

async fn provenance(pool: &PgPool, sql: &str) -> Option<i64> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn backfilled_demographics_older_than_the_live_ones_do_not_replace_them() {
    let db = TestDb::migrated().await;
    let mut current = update(
        "17",
        "EPIC",
        Some("M1"),
        None,
        "2024-05-01T10:00:00Z",
        save("Live"),
    );
    if let Message::UpdatePatientInfo(m) = &mut current {
        m.adt.source_message_id = Some("17".into());
    }
    apply(&db.pool, &current).await;
    let old = update(
        "x",
        "clarity",
        Some("M1"),
        None,
        "2023-01-01T00:00:00Z",
        save("Old"),
    );
    apply(&db.pool, &backfilled(old, "1")).await;
    assert_eq!(lastname(&db.pool, "M1").await.as_deref(), Some("Live"));
    let newer = update(
        "x",
        "clarity",
        Some("M1"),
        None,
        "2024-06-01T00:00:00Z",
        save("Newer"),
    );
    apply(&db.pool, &backfilled(newer, "2")).await;
    assert_eq!(lastname(&db.pool, "M1").await.as_deref(), Some("Newer"));
}

#[tokio::test]
async fn a_backfilled_admission_older_than_the_live_one_does_not_replace_it() {
    let db = TestDb::migrated().await;
    apply(
        &db.pool,
        &live(hl7("A01 12:00 visit=V1 at=WARD^B^1 adm=12:00"), 17),
    )
    .await;
    let old = hl7("A01 08:00 visit=V1 at=OLDWARD^A^1 adm=07:00 class=E");
    apply(&db.pool, &backfilled(old, "1")).await;
    let v = visit(&db.pool, "V1").await.unwrap();
    assert_eq!(v.admission.as_deref(), Some("12:00"));
    assert_eq!(v.source_system, "EPIC");
    assert_eq!(
        provenance(&db.pool, "SELECT source_ids_id FROM star.hospital_visit").await,
        Some(17)
    );
}

#[tokio::test]
async fn a_backfilled_lab_result_older_than_the_live_one_does_not_replace_it() {
    let db = TestDb::migrated().await;
    let current = lab(
        "RE 12:00 collected=11:00",
        vec![numeric("HB", 130.0, "12:00")],
    );
    apply(&db.pool, &live(current, 17)).await;
    let old = lab(
        "RE 09:00 collected=11:00",
        vec![numeric("HB", 99.0, "09:00")],
    );
    apply(&db.pool, &backfilled(old, "1")).await;
    let (value, source): (Option<f64>, Option<i64>) =
        sqlx::query_as("SELECT value_as_real, source_ids_id FROM star.lab_result")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((value, source), (Some(130.0), Some(17)));
}

#[tokio::test]
async fn a_backfilled_observation_older_than_the_live_one_does_not_replace_it() {
    let db = TestDb::migrated().await;
    apply(&db.pool, &live(row("x HR 10:00 12:00 num=80"), 17)).await;
    apply(&db.pool, &backfilled(row("x HR 10:00 09:00 num=60"), "1")).await;
    let (value, source): (Option<f64>, Option<i64>) =
        sqlx::query_as("SELECT value_as_real, source_ids_id FROM star.visit_observation")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((value, source), (Some(80.0), Some(17)));
}
