//! Research opt-outs (`ResearchOptOut`): the flag on every MRN of the patient, newest first in
//! any order, and its spread across merges (I4), against a real database.

use interchange::Message;
use interchange::research::ResearchOptOut;
use sqlx::PgPool;
use testkit::TestDb;

use crate::harness::{apply, count, ok, t};

/// An opt-out as data: `<id> <time> <in|out> [mrn]` (`out`: opted out; default MRN `M1`).
fn opt_out(line: &str) -> Message {
    let words: Vec<&str> = line.split_whitespace().collect();
    ResearchOptOut {
        source_message_id: Some(words[0].to_owned()),
        source_system: Some("clarity".to_owned()),
        nhs_number: None,
        mrn: Some(words.get(3).copied().unwrap_or("M1").to_owned()),
        last_updated: Some(t(words[1])),
        active: words[2] == "out",
    }
    .into()
}

async fn processed(pool: &PgPool, line: &str) {
    apply(pool, &opt_out(line), "2024-01-02T00:00:00Z")
        .await
        .unwrap();
}

/// `(mrn, opted out, from)` of every MRN.
async fn flags(pool: &PgPool) -> Vec<(String, bool, Option<chrono::DateTime<chrono::Utc>>)> {
    sqlx::query_as(
        "SELECT mrn, research_opt_out, research_opt_out_valid_from FROM star.mrn ORDER BY mrn",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn an_opt_out_for_an_unknown_patient_creates_them_opted_out() {
    let db = TestDb::migrated().await;
    processed(&db.pool, "1 10:00 out NEW").await;
    assert_eq!(
        flags(&db.pool).await,
        [("NEW".to_owned(), true, Some(t("10:00")))]
    );
    // A later admission keeps the flag.
    ok(&db.pool, &["A01 11:00 mrn=NEW"]).await;
    assert!(flags(&db.pool).await[0].1);
}

#[tokio::test]
async fn every_ordering_of_opt_outs_and_withdrawals_ends_with_the_newest() {
    let db = TestDb::migrated().await;
    let lines = ["1 10:00 out", "2 12:00 in", "2 12:00 in", "3 11:00 out"];
    let orderings = crate::harness::permutations(lines.len());
    for (n, order) in orderings.iter().enumerate() {
        for &i in order {
            processed(&db.pool, &format!("{} M{n}", lines[i])).await;
        }
    }
    let rows = flags(&db.pool).await;
    assert_eq!(rows.len(), orderings.len());
    assert!(
        rows.iter().all(|r| (r.1, r.2) == (false, Some(t("12:00")))),
        "{rows:?}"
    );
}

#[tokio::test]
async fn an_opt_out_beats_a_withdrawal_at_the_same_time_in_either_order() {
    let db = TestDb::migrated().await;
    processed(&db.pool, "1 10:00 out A").await;
    processed(&db.pool, "2 10:00 in A").await;
    processed(&db.pool, "3 10:00 in B").await;
    processed(&db.pool, "4 10:00 out B").await;
    let rows = flags(&db.pool).await;
    assert!(rows.iter().all(|r| r.1), "{rows:?}");
    // One change audited: B's withdrawal replaced by its opt-out.
    assert_eq!(count(&db.pool, "mrn_audit").await, 1);
}

#[tokio::test]
async fn i4_an_opt_out_reaches_every_mrn_of_a_merged_patient_either_side_of_the_merge() {
    let db = TestDb::migrated().await;
    // Opted out before the merge: the merge spreads it, with its time.
    ok(&db.pool, &["A08 09:00 mrn=R", "A08 09:00 mrn=S"]).await;
    processed(&db.pool, "1 10:00 out R").await;
    ok(&db.pool, &["A40 11:00 mrn=S prev_mrn=R"]).await;
    assert_eq!(
        flags(&db.pool).await,
        [
            ("R".to_owned(), true, Some(t("10:00"))),
            ("S".to_owned(), true, Some(t("10:00")))
        ]
    );
    // After the merge, a withdrawal naming the retired MRN reaches the live one too.
    processed(&db.pool, "2 12:00 in R").await;
    assert_eq!(
        flags(&db.pool).await,
        [
            ("R".to_owned(), false, Some(t("12:00"))),
            ("S".to_owned(), false, Some(t("12:00")))
        ]
    );
}
