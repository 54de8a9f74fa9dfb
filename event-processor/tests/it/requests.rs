//! Consultation requests (Q1, Q2's flags, C9), applied as the consumer applies them, against a
//! real database.

use event_processor::ProcessError;
use interchange::Message;
use interchange::order::ConsultRequest;
use interchange::value::Iv;
use sqlx::PgPool;
use testkit::TestDb;

use crate::harness::{apply, count, ok, t};

/// A consultation request as data: `<id> <status change time> [key=value]…`. Keys: `mrn`
/// (default `M1`), `visit` (default `V1`), `epic` (default 77), `type` (default `CON255`),
/// `notes`, `cancelled`, `closed`, `scheduled`, and `q:<question>=<answer>` for each question.
fn consult(line: &str) -> Message {
    let mut words = line.split_whitespace();
    let id = words.next().unwrap();
    let at = t(words.next().unwrap());
    let fields: std::collections::HashMap<&str, &str> =
        words.map(|w| w.split_once('=').unwrap()).collect();
    let get = |key: &str| fields.get(key).map(|v| (*v).to_owned());
    ConsultRequest {
        source_message_id: Some(id.to_owned()),
        source_system: Some("EPIC".to_owned()),
        epic_consult_id: Some(get("epic").map_or(77, |e| e.parse().unwrap())),
        mrn: Some(get("mrn").unwrap_or_else(|| "M1".to_owned())),
        visit_number: get("visit")
            .or_else(|| Some("V1".to_owned()))
            .filter(|v| v != "-"),
        consultation_type: Some(get("type").unwrap_or_else(|| "CON255".to_owned())),
        status_change_datetime: Some(at),
        scheduled_datetime: fields.get("scheduled").map(|v| t(v)),
        notes: get("notes").map_or(Iv::Unknown, Iv::Save),
        cancelled: fields.contains_key("cancelled"),
        closed_due_to_discharge: fields.contains_key("closed"),
        questions: questions(&fields),
    }
    .into()
}

/// The `q:<question>=<answer>` fields of a data line.
fn questions(
    fields: &std::collections::HashMap<&str, &str>,
) -> std::collections::BTreeMap<String, String> {
    fields
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("q:")?.to_owned(), (*v).to_owned())))
        .collect()
}

async fn processed(pool: &PgPool, line: &str) -> Result<(), ProcessError> {
    apply(pool, &consult(line), "2024-01-02T00:00:00Z").await
}

type Row = (
    String,
    bool,
    bool,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
);

async fn requests(pool: &PgPool) -> Vec<Row> {
    sqlx::query_as(
        "SELECT t.code, r.cancelled, r.closed_due_to_discharge, r.comments,
                r.status_change_datetime
         FROM star.consultation_request r JOIN star.consultation_type t
             USING (consultation_type_id) ORDER BY r.internal_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn q1_a_request_is_one_row_per_epic_number_and_an_older_message_changes_no_status() {
    let db = TestDb::migrated().await;
    processed(&db.pool, "1 10:00 notes=lives_alone")
        .await
        .unwrap();
    processed(&db.pool, "2 12:00 cancelled=y").await.unwrap();
    processed(&db.pool, "3 11:00").await.unwrap();
    assert_eq!(
        requests(&db.pool).await,
        [(
            "CON255".to_owned(),
            true,
            false,
            Some("lives_alone".to_owned()),
            Some(t("12:00"))
        )]
    );
    assert_eq!(count(&db.pool, "consultation_request_audit").await, 1);
}

#[tokio::test]
async fn q1_the_status_change_time_moves_only_when_something_else_changed() {
    let db = TestDb::migrated().await;
    processed(&db.pool, "1 10:00").await.unwrap();
    processed(&db.pool, "2 11:00").await.unwrap();
    assert_eq!(requests(&db.pool).await[0].4, Some(t("10:00")));
    processed(&db.pool, "3 12:00 closed=y").await.unwrap();
    assert_eq!(requests(&db.pool).await[0].4, Some(t("12:00")));
    assert!(requests(&db.pool).await[0].2);
}

#[tokio::test]
async fn q1_every_ordering_of_a_request_with_a_duplicate_ends_the_same() {
    let db = TestDb::migrated().await;
    let lines = [
        "1 10:00 notes=first",
        "2 11:00 scheduled=13:00",
        "3 12:00 cancelled=y",
        "3 12:00 cancelled=y",
    ];
    let orderings = crate::harness::permutations(lines.len());
    for (n, order) in orderings.iter().enumerate() {
        for &i in order {
            processed(
                &db.pool,
                &format!("{} epic={n} visit=V{n} mrn=M{n}", lines[i]),
            )
            .await
            .unwrap();
        }
    }
    let rows = requests(&db.pool).await;
    assert_eq!(rows.len(), orderings.len());
    let scheduled: Vec<Option<chrono::DateTime<chrono::Utc>>> =
        sqlx::query_scalar("SELECT scheduled_datetime FROM star.consultation_request")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert!(
        scheduled.iter().all(|s| *s == Some(t("13:00"))),
        "{scheduled:?}"
    );
    for (row, order) in rows.iter().zip(&orderings) {
        assert_eq!(
            row,
            &(
                "CON255".to_owned(),
                true,
                false,
                Some("first".to_owned()),
                Some(t("12:00"))
            ),
            "ordering {order:?}"
        );
    }
}

#[tokio::test]
async fn c9_a_request_creates_its_patient_and_visit_and_one_without_a_visit_is_refused() {
    let db = TestDb::migrated().await;
    processed(&db.pool, "1 10:00 mrn=NEW visit=VNEW")
        .await
        .unwrap();
    assert_eq!(count(&db.pool, "hospital_visit").await, 1);
    match processed(&db.pool, "2 10:00 visit=- epic=5").await {
        Err(ProcessError::Rejected(r)) => assert_eq!(r.rule, "C9"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn x3_a_delete_of_the_person_removes_their_visits_requests_audited() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 09:00 at=A"]).await;
    processed(&db.pool, "1 10:00").await.unwrap();
    ok(&db.pool, &["A29 12:00"]).await;
    assert_eq!(count(&db.pool, "consultation_request").await, 0);
    assert_eq!(count(&db.pool, "consultation_request_audit").await, 1);
}

/// An advance decision as data: `<id> <status change time> [key=value]…`. Keys: `epic` (default
/// 88), `code` (default `COD4`), `name` (default `DNACPR`), `cancelled`, `closed`.
fn decision(line: &str) -> Message {
    let mut words = line.split_whitespace();
    let id = words.next().unwrap();
    let at = t(words.next().unwrap());
    let fields: std::collections::HashMap<&str, &str> =
        words.map(|w| w.split_once('=').unwrap()).collect();
    let get = |key: &str| fields.get(key).map(|v| (*v).to_owned());
    interchange::order::AdvanceDecisionMessage {
        source_message_id: Some(id.to_owned()),
        source_system: Some("EPIC".to_owned()),
        advance_decision_number: Some(get("epic").map_or(88, |e| e.parse().unwrap())),
        mrn: Some(get("mrn").unwrap_or_else(|| "M1".to_owned())),
        visit_number: Some(get("visit").unwrap_or_else(|| "V1".to_owned())),
        advance_care_code: Some(get("code").unwrap_or_else(|| "COD4".to_owned())),
        advance_decision_type_name: Some(get("name").unwrap_or_else(|| "DNACPR".to_owned())),
        status_change_datetime: Some(at),
        requested_datetime: Some(t("09:00")),
        cancelled: fields.contains_key("cancelled"),
        closed_due_to_discharge: fields.contains_key("closed"),
        questions: questions(&fields),
    }
    .into()
}

#[tokio::test]
async fn q4_a_decision_is_one_row_per_epic_number_its_type_named_by_the_earliest_message() {
    let db = TestDb::migrated().await;
    let lines = [
        "1 10:00 name=DNACPR",
        "2 12:00 cancelled=y name=FULL_ACTIVE_TREATMENT",
        "2 12:00 cancelled=y name=FULL_ACTIVE_TREATMENT",
        "3 11:00 name=DNACPR",
    ];
    let orderings = crate::harness::permutations(lines.len());
    for (n, order) in orderings.iter().enumerate() {
        for &i in order {
            let line = format!("{} epic={n} visit=V{n} mrn=M{n}", lines[i]);
            apply(&db.pool, &decision(&line), "2024-01-02T00:00:00Z")
                .await
                .unwrap();
        }
    }
    let rows: Vec<(bool, Option<chrono::DateTime<chrono::Utc>>)> =
        sqlx::query_as("SELECT cancelled, status_change_datetime FROM star.advance_decision")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), orderings.len());
    assert!(
        rows.iter().all(|r| *r == (true, Some(t("12:00")))),
        "{rows:?}"
    );
    let names: Vec<Option<String>> =
        sqlx::query_scalar("SELECT name FROM star.advance_decision_type")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(names, [Some("DNACPR".to_owned())]);
}

#[tokio::test]
async fn x3_a_delete_of_the_person_removes_their_visits_decisions_audited() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 09:00 at=A"]).await;
    apply(&db.pool, &decision("1 10:00"), "2024-01-02T00:00:00Z")
        .await
        .unwrap();
    ok(&db.pool, &["A29 12:00"]).await;
    assert_eq!(count(&db.pool, "advance_decision").await, 0);
    assert_eq!(count(&db.pool, "advance_decision_audit").await, 1);
}

/// Every answer as `(parent table, parent's Epic number, question, answer)`.
async fn answers(pool: &PgPool) -> Vec<(String, i64, String, Option<String>)> {
    sqlx::query_as(
        "SELECT a.parent_table, coalesce(c.internal_id, d.internal_id), q.question, a.answer
         FROM star.request_answer a JOIN star.question q USING (question_id)
         LEFT JOIN star.consultation_request c
             ON a.parent_table = 'CONSULT_REQUEST' AND c.consultation_request_id = a.parent_id
         LEFT JOIN star.advance_decision d
             ON a.parent_table = 'ADVANCE_DECISION' AND d.advance_decision_id = a.parent_id
         ORDER BY 1, 2, 3",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn q5_every_ordering_of_a_requests_answers_ends_with_the_newest_answer_to_each_question() {
    let db = TestDb::migrated().await;
    let lines = [
        "1 10:00 q:Reason=fall",
        "2 12:00 q:Reason=frailty q:Home=alone",
        "2 12:00 q:Reason=frailty q:Home=alone",
        "3 11:00 q:Reason=stroke q:Pets=cat q:Home=family",
    ];
    let orderings = crate::harness::permutations(lines.len());
    for (n, order) in orderings.iter().enumerate() {
        for &i in order {
            processed(
                &db.pool,
                &format!("{} epic={n} visit=V{n} mrn=M{n}", lines[i]),
            )
            .await
            .unwrap();
        }
    }
    let rows = answers(&db.pool).await;
    assert_eq!(rows.len(), 3 * orderings.len());
    for (n, order) in orderings.iter().enumerate() {
        let mine: Vec<(&str, Option<&str>)> = rows
            .iter()
            .filter(|r| r.1 == n as i64)
            .map(|r| (r.2.as_str(), r.3.as_deref()))
            .collect();
        assert_eq!(
            mine,
            [
                ("Home", Some("alone")),
                ("Pets", Some("cat")),
                ("Reason", Some("frailty"))
            ],
            "ordering {order:?}"
        );
    }
    // Questions are global, by their text.
    assert_eq!(count(&db.pool, "question").await, 3);
    let sources: Vec<Option<i64>> = sqlx::query_scalar(
        "SELECT DISTINCT a.source_ids_id FROM star.request_answer a
         JOIN star.question q USING (question_id) WHERE q.question = 'Reason'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(sources, [Some(2)]);
}

#[tokio::test]
async fn q5_a_consult_and_a_decision_with_the_same_surrogate_key_keep_their_own_answers() {
    let db = TestDb::migrated().await;
    processed(&db.pool, "1 10:00 q:Reason=fall").await.unwrap();
    let d = decision("2 10:00 q:Reason=patient_wishes");
    apply(&db.pool, &d, "2024-01-02T00:00:00Z").await.unwrap();
    assert_eq!(
        answers(&db.pool).await,
        [
            (
                "ADVANCE_DECISION".to_owned(),
                88,
                "Reason".to_owned(),
                Some("patient_wishes".to_owned())
            ),
            (
                "CONSULT_REQUEST".to_owned(),
                77,
                "Reason".to_owned(),
                Some("fall".to_owned())
            ),
        ]
    );
    // A newer answer replaces the stored one, audited.
    processed(&db.pool, "3 11:00 q:Reason=confusion")
        .await
        .unwrap();
    assert_eq!(answers(&db.pool).await[1].3.as_deref(), Some("confusion"));
    assert_eq!(count(&db.pool, "request_answer_audit").await, 1);
}

#[tokio::test]
async fn x3_a_delete_of_the_person_removes_their_requests_answers_audited() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 09:00 at=A"]).await;
    processed(&db.pool, "1 10:00 q:Reason=fall q:Home=alone")
        .await
        .unwrap();
    let d = decision("2 10:00 q:Reason=patient_wishes");
    apply(&db.pool, &d, "2024-01-02T00:00:00Z").await.unwrap();
    ok(&db.pool, &["A29 12:00"]).await;
    assert_eq!(count(&db.pool, "request_answer").await, 0);
    assert_eq!(count(&db.pool, "request_answer_audit").await, 3);
    // The questions are everyone's: they stay.
    assert_eq!(count(&db.pool, "question").await, 2);
}

fn consult_metadata(id: &str, at: &str, code: &str, name: &str) -> Message {
    interchange::order::ConsultMetadata {
        source_message_id: Some(id.to_owned()),
        source_system: Some("clarity".to_owned()),
        code: Some(code.to_owned()),
        name: Some(name.to_owned()),
        last_updated_date: Some(t(at)),
    }
    .into()
}

async fn type_names(pool: &PgPool) -> Vec<(String, Option<String>)> {
    sqlx::query_as("SELECT code, name FROM star.consultation_type ORDER BY code")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn q3_consult_metadata_names_a_type_and_older_metadata_is_ignored() {
    let db = TestDb::migrated().await;
    let at = "2024-01-02T00:00:00Z";
    // Metadata before any request creates the type, named.
    let m = consult_metadata("c1", "10:00", "CON1", "Frailty");
    apply(&db.pool, &m, at).await.unwrap();
    processed(&db.pool, "1 09:00 type=CON1").await.unwrap();
    let older = consult_metadata("c2", "08:00", "CON1", "Old name");
    apply(&db.pool, &older, at).await.unwrap();
    assert_eq!(
        type_names(&db.pool).await,
        [("CON1".to_owned(), Some("Frailty".to_owned()))]
    );
    assert_eq!(count(&db.pool, "consultation_type_audit").await, 0);
    // A request's type first, then newer metadata renames it, audited.
    processed(&db.pool, "2 09:00 type=CON2 epic=2")
        .await
        .unwrap();
    let newer = consult_metadata("c3", "11:00", "CON2", "Stroke");
    apply(&db.pool, &newer, at).await.unwrap();
    let renamed = consult_metadata("c4", "12:00", "CON1", "Frailty review");
    apply(&db.pool, &renamed, at).await.unwrap();
    assert_eq!(
        type_names(&db.pool).await,
        [
            ("CON1".to_owned(), Some("Frailty review".to_owned())),
            ("CON2".to_owned(), Some("Stroke".to_owned()))
        ]
    );
    assert_eq!(count(&db.pool, "consultation_type_audit").await, 2);
    let nameless = interchange::order::ConsultMetadata {
        name: Some("x".to_owned()),
        last_updated_date: Some(t("13:00")),
        ..Default::default()
    };
    match apply(&db.pool, &nameless.into(), at).await {
        Err(ProcessError::Rejected(r)) => assert_eq!(r.rule, "Q3"),
        other => panic!("{other:?}"),
    }
}
