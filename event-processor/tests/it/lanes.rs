//! Lanes: a run of messages applied on several connections, each lane reading ahead what its
//! messages read first. A row read ahead must not be used once an earlier message of the lane
//! changed what it holds.

use event_processor::Processor;
use event_processor::lanes::apply_run;
use testkit::TestDb;

use crate::harness::*;

#[tokio::test]
async fn a_patient_known_by_two_mrns_is_read_afresh_after_the_lane_changed_them() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A08 09:00 mrn=R family=Before",
            "A08 09:00 mrn=S",
            "A40 10:00 mrn=S prev_mrn=R",
        ],
    )
    .await;
    // One lane: S's demographics become valid from 11:00, so the later-arriving 10:30 update
    // through R (whose live MRN is S) is older and changes nothing (D2). Read ahead, R's row
    // held S's demographics as before the lane (valid from 09:00).
    let run = [
        hl7("A08 11:00 mrn=S family=First"),
        hl7("A08 10:30 mrn=R family=Second"),
    ];
    let applied = apply_run(&Processor::default(), &db.pool, &run, 1)
        .await
        .unwrap();
    assert_eq!(applied.applied, 2);
    assert_eq!(lastname(&db.pool, "S").await.as_deref(), Some("First"));
}

#[tokio::test]
async fn messages_of_one_patient_in_a_lane_see_each_other() {
    let db = TestDb::migrated().await;
    let run = [
        hl7("A01 10:00 mrn=P visit=V at=WARD^A^1"),
        hl7("A02 11:00 mrn=P visit=V at=WARD^B^1 from=WARD^A^1"),
        hl7("A08 12:00 mrn=P family=Later"),
        hl7("A03 13:00 mrn=P visit=V at=WARD^B^1 dis=13:00"),
    ];
    let applied = apply_run(&Processor::default(), &db.pool, &run, 2)
        .await
        .unwrap();
    assert_eq!(applied.applied, 4);
    assert_eq!(count(&db.pool, "location_visit").await, 2);
    assert_eq!(count(&db.pool, "mrn").await, 1);
    assert_eq!(lastname(&db.pool, "P").await.as_deref(), Some("Later"));
    let discharged: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT discharge_datetime FROM star.hospital_visit WHERE encounter = 'V'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(discharged, Some(t("13:00")));
}
