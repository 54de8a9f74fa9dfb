//! EMAP's location scenarios under every ordering of their messages (L14, L15, L22, L25, L28).
//!
//! The messages are EMAP's own interchange fixtures (`testdata/UCLH-DHCT__emap/…/Location/`).
//! Each ordering is applied as a separate patient and visit (the MRN and visit number rewritten)
//! in one database, through the processor's real code: batches of orderings share a
//! transaction, a savepoint per message, as the consumer applies them. Every ordering must end
//! in the same state, asserted by natural keys as EMAP asserts it: each visit's location strings
//! with admission and discharge times, and the visit's admission and discharge.

use std::path::{Path, PathBuf};

use chrono::Utc;
use event_processor::Processor;
use interchange::Message;
use serde_json::Value;
use sqlx::PgPool;
use testkit::TestDb;

use crate::harness::permutations;

fn scenario(name: &str) -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../testdata/UCLH-DHCT__emap/emap-interchange/src/test/resources/AdtMessages/Location/{name}"
    ));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| serde_yaml::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
        .collect()
}

/// `messages` as patient `n`'s.
fn for_patient(messages: &[Value], order: &[usize], n: usize) -> Vec<Message> {
    order
        .iter()
        .map(|&i| {
            let mut value = messages[i].clone();
            value["mrn"] = Value::from(format!("P{n}"));
            value["visitNumber"] = Value::from(format!("E{n}"));
            value["sourceMessageId"] = Value::from(format!("{n}-{i}"));
            Message::from_json(&serde_json::to_vec(&value).unwrap()).unwrap()
        })
        .collect()
}

/// Applies every distinct ordering of `messages` (orderings that only swap two identical
/// messages are the same sequence, applied once), on a few connections at once; returns how
/// many.
async fn apply_every_ordering(pool: &PgPool, messages: &[Value]) -> usize {
    let mut seen = std::collections::HashSet::new();
    let orders: Vec<Vec<usize>> = permutations(messages.len())
        .into_iter()
        .filter(|order| {
            seen.insert(
                order
                    .iter()
                    .map(|&i| &messages[i])
                    .collect::<Vec<_>>()
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let total = orders.len();
    // The first ordering alone first, so that the lanes find the locations created rather than
    // create them at once (which can deadlock on the unique index; the consumer would retry).
    let processor = Processor::default();
    let mut tx = pool.begin().await.unwrap();
    for message in for_patient(messages, &orders[0], 0) {
        let _outcome = processor
            .process_in_savepoint(&mut tx, &message, Utc::now())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let lanes = 4;
    let mut tasks = Vec::new();
    for lane in 0..lanes {
        let pool = pool.clone();
        let work: Vec<Vec<Message>> = orders
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(n, _)| n % lanes == lane)
            .map(|(n, order)| for_patient(messages, order, n))
            .collect();
        tasks.push(tokio::spawn(async move {
            let processor = Processor::default();
            for batch in work.chunks(8) {
                let mut tx = pool.begin().await.unwrap();
                for message in batch.iter().flatten() {
                    // A rejection (a movement arriving after its cancellation) is an outcome
                    // like any other here; the final state is what is asserted.
                    let _outcome = processor
                        .process_in_savepoint(&mut tx, message, Utc::now())
                        .await
                        .unwrap();
                }
                tx.commit().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    total
}

/// Every visit's final state as one line of data, and how many visits ended that way.
async fn outcomes(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as(
        "WITH per_visit AS (
             SELECT v.hospital_visit_id,
                    'admitted ' || coalesce(to_char(v.admission_datetime AT TIME ZONE 'UTC', 'HH24:MI:SS'), 'never')
                    || ', discharged ' || coalesce(to_char(v.discharge_datetime AT TIME ZONE 'UTC', 'HH24:MI:SS'), 'never')
                    || coalesce(': ' || string_agg(
                        l.location_string || ' '
                        || to_char(lv.admission_datetime AT TIME ZONE 'UTC', 'HH24:MI:SS') || '-'
                        || coalesce(to_char(lv.discharge_datetime AT TIME ZONE 'UTC', 'HH24:MI:SS'), 'open'),
                        ', ' ORDER BY lv.admission_datetime), '') AS outcome
             FROM star.hospital_visit v
             LEFT JOIN star.location_visit lv USING (hospital_visit_id)
             LEFT JOIN star.location l USING (location_id)
             GROUP BY v.hospital_visit_id)
         SELECT outcome, count(*) FROM per_visit GROUP BY outcome ORDER BY count(*) DESC",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn every_ordering_ends_as(name: &str, duplicate: Option<usize>, expected: &str) {
    let db = TestDb::migrated().await;
    let mut messages = scenario(name);
    if let Some(i) = duplicate {
        messages.push(messages[i].clone());
    }
    let orderings = apply_every_ordering(&db.pool, &messages).await;
    let distinct =
        (1..=messages.len()).product::<usize>() / if duplicate.is_some() { 2 } else { 1 };
    assert_eq!(
        orderings, distinct,
        "{name}: every distinct ordering was applied"
    );
    let outcomes = outcomes(&db.pool).await;
    assert_eq!(
        outcomes,
        [(expected.to_owned(), i64::try_from(orderings).unwrap())],
        "{name}: every ordering should end the same"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l14_every_ordering_of_moves_gives_six_hour_long_stays() {
    every_ordering_ends_as(
        "Moves",
        None,
        "admitted 11:00:52, discharged 17:00:52: \
         ED^UCHED RAT CHAIR^RAT-CHAIR 11:00:52-12:00:52, \
         ED^NON COVID MAJORS 05^05-NON COVID MAJORS 12:00:52-13:00:52, \
         ED^NON COVID MAJORS 04^04-NON COVID MAJORS 13:00:52-14:00:52, \
         ED^NON COVID MAJORS 05^05-NON COVID MAJORS 14:00:52-15:00:52, \
         ED^NON COVID MAJORS 04^04-NON COVID MAJORS 15:00:52-16:00:52, \
         EAU^UCH T00 EAU BY02^BY02-08 16:00:52-17:00:52",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l15_every_ordering_of_register_admit_transfer_discharge_with_a_duplicate() {
    every_ordering_ends_as(
        "DuplicateSimple",
        Some(1),
        "admitted 12:00:52, discharged 14:00:52: \
         ED^UCHED RAT CHAIR^RAT-CHAIR 11:00:52-12:00:52, \
         ED^NON COVID MAJORS 05^05-NON COVID MAJORS 12:00:52-13:00:52, \
         ED^NON COVID MAJORS 04^04-NON COVID MAJORS 13:00:52-14:00:52",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l22_every_ordering_of_cancel_admit_with_a_duplicate_cancel() {
    every_ordering_ends_as(
        "CancelAdmit",
        Some(1),
        "admitted 13:00:52, discharged 15:00:52: \
         ED^UCHED RAT CHAIR^RAT-CHAIR 13:00:52-14:00:52, \
         ED^NON COVID MAJORS 05^05-NON COVID MAJORS 14:00:52-15:00:52",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l25_every_ordering_of_cancel_discharge_with_a_duplicate_cancel() {
    every_ordering_ends_as(
        "CancelDischarge",
        Some(3),
        "admitted 11:00:52, discharged 13:00:52: \
         ED^UCHED RAT CHAIR^RAT-CHAIR 11:00:52-12:00:52, \
         ED^NON COVID MAJORS 05^05-NON COVID MAJORS 12:00:52-13:00:52",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l28_every_ordering_of_cancel_transfer_with_a_duplicate_cancel() {
    every_ordering_ends_as(
        "CancelTransfer",
        Some(3),
        "admitted 11:00:52, discharged 14:00:52: \
         ED^UCHED RAT CHAIR^RAT-CHAIR 11:00:52-12:00:52, \
         ED^NON COVID MAJORS 05^05-NON COVID MAJORS 12:00:52-13:00:52, \
         ED^NON COVID MAJORS 04^04-NON COVID MAJORS 13:00:52-14:00:52",
    )
    .await;
}
