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

#[tokio::test]
async fn a_refused_message_in_a_lane_is_dead_lettered_alone_and_the_rest_applied() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A11 10:05 mrn=Q visit=W cancel=10:00 at=A"]).await;
    // One lane: a new place, then a move cancelled before it arrived (L3), then a move that
    // leaves the new place. The lane's first attempt is rolled back with the place it created.
    let run = [
        hl7("A01 10:00 mrn=P visit=V at=NEW^BAY^1"),
        hl7("A01 10:00 mrn=Q visit=W at=A"),
        hl7("A02 11:00 mrn=P visit=V at=NEW^BAY^2 from=NEW^BAY^1"),
    ];
    let processor = Processor::default();
    let applied = apply_run(&processor, &db.pool, &run, 1).await.unwrap();
    assert_eq!(applied.applied, 2);
    assert_eq!(applied.dead_lettered, 1);
    let rules: Vec<String> = sqlx::query_scalar("SELECT rule FROM star.dead_letter")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(rules, ["L3"]);
    assert_eq!(
        stays(&db.pool, "V").await,
        ["NEW^BAY^1 10:00-11:00", "NEW^BAY^2 11:00-open"]
    );
    assert!(stays(&db.pool, "W").await.is_empty());
    // The place cache holds the ids that committed: a later lane naming the place reuses it.
    let later = [hl7("A01 12:00 mrn=R visit=X at=NEW^BAY^1")];
    apply_run(&processor, &db.pool, &later, 1).await.unwrap();
    let places: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM star.location WHERE location_string = 'NEW^BAY^1'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(places, 1);
    assert_eq!(stays(&db.pool, "X").await, ["NEW^BAY^1 12:00-open"]);
}

#[tokio::test]
async fn a_message_refused_before_it_is_read_is_dead_lettered_in_its_lane() {
    // A form without its filing time has no valid-from (G3).
    let db = TestDb::migrated().await;
    let run = [
        hl7("A01 10:00 mrn=P visit=V at=WARD^A^1"),
        interchange::form::FormMsg::default().into(),
        hl7("A02 11:00 mrn=P visit=V at=WARD^B^1 from=WARD^A^1"),
    ];
    let applied = apply_run(&Processor::default(), &db.pool, &run, 1)
        .await
        .unwrap();
    assert_eq!(applied.applied, 2);
    assert_eq!(applied.dead_lettered, 1);
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT message_class, rule FROM star.dead_letter")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [(
            "uk.ac.ucl.rits.inform.interchange.form.FormMsg".to_owned(),
            "G3".to_owned()
        )]
    );
    assert_eq!(
        stays(&db.pool, "V").await,
        ["WARD^A^1 10:00-11:00", "WARD^B^1 11:00-open"]
    );
}

/// Registrations of eight pairs of MRNs: `R0`…`R7` with a family name, `S0`…`S7` without.
/// Eight pairs, so that by their hashes some pairs' MRNs would fall in different lanes.
fn pairs(line: impl Fn(usize) -> String) -> Vec<interchange::Message> {
    (0..8).map(|n| hl7(&line(n))).collect()
}

#[tokio::test]
async fn a_merge_runs_in_the_lane_of_both_patients_and_later_messages_follow_it() {
    let db = TestDb::migrated().await;
    let mut run = pairs(|n| format!("A08 09:00 mrn=R{n} family=Before"));
    run.extend(pairs(|n| format!("A08 09:00 mrn=S{n}")));
    run.extend(pairs(|n| format!("A40 10:00 mrn=S{n} prev_mrn=R{n}")));
    // Through the retired MRN, after the merge: must reach the survivor (read afresh, not from
    // what the lane read ahead before the merge).
    run.extend(pairs(|n| format!("A08 11:00 mrn=R{n} family=After")));
    let applied = apply_run(&Processor::default(), &db.pool, &run, 4)
        .await
        .unwrap();
    assert_eq!(applied.applied, 32);
    assert_eq!(applied.dead_lettered, 0);
    for n in 0..8 {
        assert_eq!(live_mrn(&db.pool, &format!("R{n}")).await, format!("S{n}"));
        assert_eq!(
            lastname(&db.pool, &format!("S{n}")).await.as_deref(),
            Some("After"),
            "pair {n}"
        );
    }
}

#[tokio::test]
async fn messages_through_an_mrn_merged_earlier_keep_their_order_with_the_live_mrn() {
    // The same run on one lane and on four gives the same rows, audit included: an update
    // through a retired MRN and one through its live MRN are applied in queue order (the later,
    // older update changes nothing and leaves no audit row; in the other order it would).
    let mut audits = Vec::new();
    for lanes in [1, 4] {
        let db = TestDb::migrated().await;
        let mut setup = pairs(|n| format!("A08 09:00 mrn=R{n} family=Before"));
        setup.extend(pairs(|n| format!("A08 09:00 mrn=S{n}")));
        setup.extend(pairs(|n| format!("A40 10:00 mrn=S{n} prev_mrn=R{n}")));
        apply_run(&Processor::default(), &db.pool, &setup, 1)
            .await
            .unwrap();
        let mut run = pairs(|n| format!("A08 12:00 mrn=S{n} family=First"));
        run.extend(pairs(|n| format!("A08 11:00 mrn=R{n} family=Second")));
        let applied = apply_run(&Processor::default(), &db.pool, &run, lanes)
            .await
            .unwrap();
        assert_eq!(applied.applied, 16);
        for n in 0..8 {
            assert_eq!(
                lastname(&db.pool, &format!("S{n}")).await.as_deref(),
                Some("First")
            );
        }
        audits.push(count(&db.pool, "core_demographic_audit").await);
    }
    assert_eq!(audits[0], audits[1]);
}

#[tokio::test]
async fn patients_interleaved_in_a_lane_each_see_their_earlier_messages() {
    // One lane, applied in waves (each patient's n-th message in wave n): every wave reads what
    // the earlier waves wrote.
    let db = TestDb::migrated().await;
    let run = [
        hl7("A01 10:00 mrn=P visit=V at=WARD^A^1"),
        hl7("A01 10:00 mrn=Q visit=W at=WARD^A^2"),
        hl7("A02 11:00 mrn=P visit=V at=WARD^B^1 from=WARD^A^1"),
        hl7("A08 11:30 mrn=R family=Only"),
        hl7("A02 12:00 mrn=Q visit=W at=WARD^B^2 from=WARD^A^2"),
        hl7("A03 13:00 mrn=P visit=V at=WARD^B^1 dis=13:00"),
        hl7("A03 14:00 mrn=Q visit=W at=WARD^B^2 dis=14:00"),
    ];
    let applied = apply_run(&Processor::default(), &db.pool, &run, 1)
        .await
        .unwrap();
    assert_eq!(applied.applied, 7);
    assert_eq!(
        stays(&db.pool, "V").await,
        ["WARD^A^1 10:00-11:00", "WARD^B^1 11:00-13:00"]
    );
    assert_eq!(
        stays(&db.pool, "W").await,
        ["WARD^A^2 10:00-12:00", "WARD^B^2 12:00-14:00"]
    );
    assert_eq!(count(&db.pool, "mrn").await, 3);
    assert_eq!(lastname(&db.pool, "R").await.as_deref(), Some("Only"));
}

#[tokio::test]
async fn lanes_naming_one_new_place_share_it_committed_even_for_a_refused_message() {
    let db = TestDb::migrated().await;
    // Eight patients, spread over four lanes, all admitted to one place never seen before: each
    // lane finds it created and committed, none waits for another's transaction.
    let run: Vec<interchange::Message> = (0..8)
        .map(|n| hl7(&format!("A01 10:00 mrn=P{n} visit=V{n} at=NEW^BAY^1")))
        .collect();
    let processor = Processor::default();
    let applied = apply_run(&processor, &db.pool, &run, 4).await.unwrap();
    assert_eq!(applied.applied, 8);
    let places: Vec<String> = sqlx::query_scalar("SELECT location_string FROM star.location")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(places, ["NEW^BAY^1"]);
    for n in 0..8 {
        assert_eq!(
            stays(&db.pool, &format!("V{n}")).await,
            ["NEW^BAY^1 10:00-open"]
        );
    }
    // A message refused after naming a new place (a movement cancelled before it arrived, L3):
    // its lane is rolled back, the place it named stays, as in a replay of the same messages.
    ok(&db.pool, &["A11 10:05 mrn=Q visit=W cancel=10:00 at=A"]).await;
    let refused = [hl7("A01 10:00 mrn=Q visit=W at=A from=NEW^PREVIOUS")];
    let applied = apply_run(&processor, &db.pool, &refused, 1).await.unwrap();
    assert_eq!(applied.dead_lettered, 1);
    let kept: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM star.location WHERE location_string = 'NEW^PREVIOUS'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(kept, 1);
    assert!(stays(&db.pool, "W").await.is_empty());
}
