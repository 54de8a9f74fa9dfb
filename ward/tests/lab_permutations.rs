//! LB12: EMAP's four lab scenarios — WinPath incremental orders, WinPath cancel and re-order,
//! CoPath incremental, CoPath cancel and re-order — read from EMAP's HL7 by the real reader and
//! applied by the real processor in many orderings, each with one message duplicated, all end
//! in the final state EMAP's `TestLabsProcessingUnorderedMessages` asserts.
//!
//! The orderings share one database: each run's patient and visit identifiers carry the run's
//! number, so runs cannot see each other's rows (lab batteries and tests are shared, as they
//! are between patients).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use event_processor::Processor;
use interchange::Message;
use message_reader::{Mapped, SiteConfig, map_message};
use serde_json::Value;
use testkit::TestDb;

/// The interchange messages of one of EMAP's lab HL7 files.
fn read(file: &str) -> Vec<Message> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../testdata/UCLH-DHCT__emap/hl7-reader/src/test/resources/LabOrders/{file}.txt"
    ));
    let bytes = std::fs::read(path).unwrap();
    match map_message(&bytes, file, &SiteConfig::default()).unwrap() {
        Mapped::Messages(messages) => messages,
        Mapped::Ignored(why) => panic!("{file} ignored: {why:?}"),
    }
}

/// Every string in `value` that is one of `ids`, suffixed with the run's number.
fn tag(value: &mut Value, ids: &HashSet<String>, run: usize) {
    match value {
        Value::String(s) if ids.contains(s.as_str()) => *s = format!("{s}-{run}"),
        Value::Array(items) => items.iter_mut().for_each(|v| tag(v, ids, run)),
        Value::Object(fields) => fields.values_mut().for_each(|v| tag(v, ids, run)),
        _ => {}
    }
}

/// All orderings of `0..n`, in lexicographic order.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    let mut current: Vec<usize> = (0..n).collect();
    let mut out = vec![current.clone()];
    loop {
        let Some(i) = (1..n).rev().find(|&i| current[i - 1] < current[i]) else {
            return out;
        };
        let j = (i..n).rev().find(|&j| current[j] > current[i - 1]).unwrap();
        current.swap(i - 1, j);
        current[i..].reverse();
        out.push(current.clone());
    }
}

/// What LB12 checks of a sample and one of its orders.
#[derive(Debug, Clone, PartialEq)]
struct Final {
    specimen_type: Option<String>,
    collected: Option<DateTime<Utc>>,
    received: Option<DateTime<Utc>>,
    collection_method: Option<String>,
    order_time: Option<DateTime<Utc>>,
    request_time: Option<DateTime<Utc>>,
    clinical_information: Option<String>,
    epic: Option<String>,
    source_system: Option<String>,
    encounter: Option<String>,
}

type Row = (
    Option<String>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

async fn state(db: &TestDb, specimen: &str, battery: &str, run: usize) -> Option<Final> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT s.specimen_type, s.sample_collection_datetime, s.receipt_at_lab_datetime,
                s.collection_method, o.order_datetime, o.request_datetime,
                o.clinical_information, o.internal_lab_number, o.source_system, v.encounter
         FROM star.lab_sample s
         JOIN star.mrn m USING (mrn_id)
         JOIN star.lab_order o USING (lab_sample_id)
         JOIN star.lab_battery b USING (lab_battery_id)
         LEFT JOIN star.hospital_visit v USING (hospital_visit_id)
         WHERE s.external_lab_number = $1 AND b.battery_code = $2 AND m.mrn LIKE $3",
    )
    .bind(specimen)
    .bind(battery)
    .bind(format!("%-{run}"))
    .fetch_optional(&db.pool)
    .await
    .unwrap();
    row.map(|r| Final {
        specimen_type: r.0,
        collected: r.1,
        received: r.2,
        collection_method: r.3,
        order_time: r.4,
        request_time: r.5,
        clinical_information: r.6,
        epic: r.7,
        source_system: r.8,
        encounter: r
            .9
            .map(|e| e.rsplit_once('-').map_or(e.clone(), |(e, _)| e.to_owned())),
    })
}

/// One run of a scenario: its number and how it went, for failure messages.
struct Run {
    number: usize,
    story: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "run {}: {}", self.number, self.story)
    }
}

/// Applies the scenario's files in about `runs` orderings (every ordering of the files with each
/// file in turn duplicated, sampled evenly).
async fn scenario(db: &TestDb, files: &[&str], runs: usize, first_run: usize) -> Vec<Run> {
    let messages: Vec<Vec<Message>> = files.iter().map(|f| read(f)).collect();
    let mut ids = HashSet::new();
    for message in messages.iter().flatten() {
        let json = serde_json::to_value(message).unwrap();
        for key in ["mrn", "visitNumber"] {
            if let Some(Value::String(s)) = json.get(key).filter(|v| v != &&Value::from("")) {
                ids.insert(s.clone());
            }
        }
    }
    let n = files.len() + 1;
    let all = permutations(n);
    let stride = (all.len() * files.len() / runs).max(1);
    let mut done = Vec::new();
    let mut run = first_run;
    for duplicate in 0..files.len() {
        for order in all.iter().skip(duplicate).step_by(stride) {
            run += 1;
            let mut story = Vec::new();
            for &i in order {
                let file = if i == files.len() { duplicate } else { i };
                story.push(
                    files[file]
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
                for message in &messages[file] {
                    let mut json = serde_json::to_value(message).unwrap();
                    tag(&mut json, &ids, run);
                    let message: Message = serde_json::from_value(json).unwrap();
                    let mut tx = db.pool.begin().await.unwrap();
                    match Processor::default()
                        .process(&mut tx, &message, Utc::now())
                        .await
                    {
                        Ok(()) => tx.commit().await.unwrap(),
                        // A refusal is part of the scenario (e.g. LB6): the final state decides.
                        Err(e) => {
                            story.push(format!("(refused: {e})"));
                            tx.rollback().await.unwrap();
                        }
                    }
                }
            }
            done.push(Run {
                number: run,
                story: story.join(", "),
            });
        }
    }
    done
}

fn t(s: &str) -> Option<DateTime<Utc>> {
    Some(s.parse().unwrap())
}

fn s(s: &str) -> Option<String> {
    Some(s.to_owned())
}

#[tokio::test]
async fn lb12_winpath_incremental_orders_converge_in_any_order() {
    let db = TestDb::migrated().await;
    let files = [
        "winpath/incremental_orders/01_orm_o01_nw",
        "winpath/incremental_orders/02_orm_o01_sc_mg",
        "winpath/incremental_orders/03_orm_o01_sn_telh",
        "winpath/incremental_orders/04_orr_o02_telh",
        "winpath/incremental_orders/05_oru_r01",
    ];
    let sample = |order_time, epic, clinical| Final {
        specimen_type: s("BLD"),
        collected: t("2013-07-28T07:27:00Z"),
        received: t("2013-07-28T08:45:00Z"),
        collection_method: None,
        order_time: t(order_time),
        request_time: t("2013-07-28T08:45:00Z"),
        clinical_information: clinical,
        epic: s(epic),
        source_system: s("WinPath"),
        encounter: None,
    };
    for r in scenario(&db, &files, 150, 0).await {
        let run = r.number;
        let mg = state(&db, "13U444444", "MG", run).await.unwrap();
        assert_eq!(
            mg,
            Final {
                encounter: mg.encounter.clone(),
                ..sample("2013-07-28T07:08:06Z", "91393667", s("unwell"))
            },
            "{r}"
        );
        let telh = state(&db, "13U444444", "TELH", run).await.unwrap();
        assert!(telh.encounter.is_some(), "{r}: TELH has its visit");
        assert_eq!(
            telh,
            Final {
                encounter: telh.encounter.clone(),
                ..sample("2013-07-28T08:55:00Z", "12121212", s("unwell"))
            },
            "{r}"
        );
    }
}

#[tokio::test]
async fn lb12_winpath_cancel_and_reorder_converges_in_any_order() {
    let db = TestDb::migrated().await;
    let files = [
        "winpath/cancel_orders/01_orm_o01_nw_fbc_mg",
        "winpath/cancel_orders/02_orm_o01_ca_fbc",
        "winpath/cancel_orders/03_orm_o01_sn_fbcc",
        "winpath/cancel_orders/05_orr_o02_na_fbcc",
        "winpath/cancel_orders/06_oru_r01_fbcc",
    ];
    for r in scenario(&db, &files, 150, 1000).await {
        let run = r.number;
        assert_eq!(
            state(&db, "13U444444", "FBC", run).await,
            None,
            "{r}: FBC cancelled"
        );
        let fbcc = state(&db, "13U444444", "FBCC", run).await.unwrap();
        assert!(fbcc.encounter.is_some(), "{r}: FBCC has its visit");
        assert_eq!(
            (
                fbcc.specimen_type.as_deref(),
                fbcc.collected,
                fbcc.received,
                fbcc.order_time,
                fbcc.epic.as_deref(),
                fbcc.source_system.as_deref(),
                fbcc.request_time,
            ),
            (
                Some("BLD"),
                t("2013-07-28T07:27:00Z"),
                None,
                t("2013-07-28T08:41:00Z"),
                Some("12121212"),
                Some("WinPath"),
                t("2013-07-29T03:24:00Z"),
            ),
            "{r}"
        );
    }
}

#[tokio::test]
async fn lb12_copath_incremental_orders_converge_in_any_order() {
    let db = TestDb::migrated().await;
    let files = [
        "co_path/incremental/01_orm_o01_sn",
        "co_path/incremental/02_orm_o01_nw",
        "co_path/incremental/03_orr_o02_na",
        "co_path/incremental/04_oru_r01",
    ];
    for r in scenario(&db, &files, 150, 2000).await {
        let run = r.number;
        let order = state(&db, "UR20-4444", "UH", run).await.unwrap();
        assert_eq!(
            order,
            Final {
                specimen_type: None,
                collected: t("2020-05-22T11:07:00Z"),
                received: None,
                collection_method: s("Stained slides x 6 Ref: 20/12322 from Barts Health"),
                order_time: t("2020-05-22T11:10:00Z"),
                request_time: t("2020-05-22T11:10:00Z"),
                clinical_information: None,
                epic: s("12121212"),
                source_system: s("CoPath"),
                encounter: s("20S123234221"),
            },
            "{r}"
        );
    }
}

#[tokio::test]
async fn lb12_copath_cancel_and_reorder_converges_in_any_order() {
    let db = TestDb::migrated().await;
    let files = [
        "co_path/cancel/01_orm_o01_nw",
        "co_path/cancel/02_orm_o01_ca",
        "co_path/cancel/03_orr_o02_cr",
        "co_path/cancel/04_orm_o01_sc",
        "co_path/cancel/05_oru_r01",
    ];
    for r in scenario(&db, &files, 150, 3000).await {
        let run = r.number;
        let order = state(&db, "UH20-4444", "UH", run).await.unwrap();
        // The cancelled NW's order and request times survive only where it came after the new
        // order (as EMAP asserts: null or the NW's value).
        assert!(
            [None, t("2020-11-09T15:04:45Z")].contains(&order.order_time),
            "{r}: {order:?}"
        );
        assert!(
            [None, t("2020-11-09T15:03:00Z")].contains(&order.request_time),
            "{r}: {order:?}"
        );
        assert_eq!(
            (
                order.specimen_type.as_deref(),
                order.collected,
                order.received,
                order.epic.as_deref(),
                order.source_system.as_deref(),
                order.encounter.as_deref(),
            ),
            (
                Some("BM"),
                t("2020-11-09T15:05:00Z"),
                t("2020-11-11T12:53:00Z"),
                Some("12121212"),
                Some("CoPath"),
                Some("123234221"),
            ),
            "{r}"
        );
    }
}
