//! Conditions (K1–K6, C9): problems, infections and allergies, applied as the consumer applies
//! them, against a real database.

use event_processor::ProcessError;
use interchange::Message;
use interchange::condition::{
    ConditionAction, ConditionFields, PatientAllergy, PatientInfection, PatientProblem,
};
use interchange::value::Iv;
use sqlx::PgPool;
use testkit::TestDb;

use crate::harness::{apply, count, ok, rule, t};

/// A condition as data: `<kind> <action> <time> [key=value]…`, kind `problem`, `infection` or
/// `allergy`, action `AD`/`UP`/`DE`. Keys: `id` (source message id, default the line), `mrn`
/// (default `M1`), `visit`, `code` (default `C90.0`), `epic` (Epic id), `added` (added time),
/// `status`, `comment`, `reactions` (comma-separated), `resolved` (an infection's time).
fn condition(line: &str) -> Message {
    let mut words = line.split_whitespace();
    let kind = words.next().unwrap();
    let action = match words.next().unwrap() {
        "AD" => ConditionAction::Add,
        "UP" => ConditionAction::Update,
        _ => ConditionAction::Delete,
    };
    let at = t(words.next().unwrap());
    let fields: std::collections::HashMap<&str, &str> =
        words.map(|w| w.split_once('=').unwrap()).collect();
    let get = |key: &str| fields.get(key).map(|v| (*v).to_owned());
    let condition = ConditionFields {
        source_message_id: Some(get("id").unwrap_or_else(|| line.to_owned())),
        source_system: Some("EPIC".to_owned()),
        mrn: Some(get("mrn").unwrap_or_else(|| "M1".to_owned())),
        visit_number: get("visit").map_or(Iv::Unknown, Iv::Save),
        condition_code: Some(get("code").unwrap_or_else(|| "C90.0".to_owned())),
        condition_name: Iv::Save("Multiple Myeloma".to_owned()),
        updated_date_time: Some(at),
        added_datetime: fields.get("added").map(|v| t(v)),
        action: Some(action),
        epic_condition_id: get("epic").map_or(Iv::Unknown, |e| Iv::Save(e.parse().unwrap())),
        status: get("status").map_or(Iv::Unknown, Iv::Save),
        comment: get("comment").map_or(Iv::Unknown, Iv::Save),
        ..ConditionFields::default()
    };
    match kind {
        "problem" => PatientProblem {
            condition,
            ..Default::default()
        }
        .into(),
        "infection" => PatientInfection {
            condition,
            resolved_datetime: fields
                .get("resolved")
                .map_or(Iv::Unknown, |v| Iv::Save(t(v))),
        }
        .into(),
        _ => PatientAllergy {
            condition,
            reactions: get("reactions")
                .map(|r| r.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
        }
        .into(),
    }
}

async fn processed(pool: &PgPool, line: &str) -> Result<(), ProcessError> {
    apply(pool, &condition(line), "2024-01-02T00:00:00Z").await
}

/// Each condition: (type code, Epic id, status, deleted, comment), by type and id.
type Row = (String, Option<i64>, Option<String>, bool, Option<String>);

async fn conditions(pool: &PgPool, mrn: &str) -> Vec<Row> {
    sqlx::query_as(
        "SELECT t.internal_code, c.internal_id, c.status, c.is_deleted, c.comment
         FROM star.patient_condition c JOIN star.condition_type t USING (condition_type_id)
         JOIN star.mrn m USING (mrn_id) WHERE m.mrn = $1 ORDER BY 1, 2, c.added_datetime",
    )
    .bind(mrn)
    .fetch_all(pool)
    .await
    .unwrap()
}

fn row(code: &str, epic: Option<i64>, status: Option<&str>, deleted: bool) -> Row {
    (
        code.to_owned(),
        epic,
        status.map(str::to_owned),
        deleted,
        None,
    )
}

#[tokio::test]
async fn k1_problems_and_allergies_are_keyed_by_epic_id_and_hl7_infections_by_added_time() {
    let db = TestDb::migrated().await;
    for line in [
        "problem AD 10:00 epic=7 status=ACTIVE",
        "problem UP 11:00 epic=7 status=ACTIVE",
        "problem AD 11:00 epic=8 status=ACTIVE code=K64.9",
        "infection AD 10:00 code=MRSA added=09:00",
        "infection AD 12:00 code=MRSA added=09:00 resolved=11:30",
        "infection AD 12:00 code=MRSA added=11:45",
    ] {
        processed(&db.pool, line).await.unwrap();
    }
    assert_eq!(count(&db.pool, "patient_condition").await, 4);
    assert_eq!(count(&db.pool, "condition_type").await, 3);
    assert_eq!(count(&db.pool, "patient_condition_audit").await, 2);
    let resolved: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT resolution_datetime FROM star.patient_condition WHERE added_datetime = $1",
    )
    .bind(t("09:00"))
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(resolved, Some(t("11:30")));
}

#[tokio::test]
async fn k1_a_condition_without_code_or_key_is_refused() {
    let db = TestDb::migrated().await;
    assert_eq!(
        rule(processed(&db.pool, "infection AD 10:00 code=MRSA").await),
        "K1"
    );
    assert_eq!(
        rule(processed(&db.pool, "problem AD 10:00 code= epic=1").await),
        "K1"
    );
}

#[tokio::test]
async fn k2_a_problem_deleted_while_active_is_flagged_and_any_later_update_clears_it() {
    let db = TestDb::migrated().await;
    processed(&db.pool, "problem AD 10:00 epic=7 status=ACTIVE")
        .await
        .unwrap();
    processed(&db.pool, "problem DE 11:00 epic=7 status=ACTIVE")
        .await
        .unwrap();
    assert_eq!(
        conditions(&db.pool, "M1").await,
        [row("C90.0", Some(7), Some("ACTIVE"), true)]
    );
    processed(&db.pool, "problem UP 12:00 epic=7 status=ACTIVE")
        .await
        .unwrap();
    assert_eq!(
        conditions(&db.pool, "M1").await,
        [row("C90.0", Some(7), Some("ACTIVE"), false)]
    );
    // Deleted as resolved: not flagged.
    processed(&db.pool, "problem DE 13:00 epic=7 status=Resolved")
        .await
        .unwrap();
    assert_eq!(
        conditions(&db.pool, "M1").await,
        [row("C90.0", Some(7), Some("Resolved"), false)]
    );
    match processed(&db.pool, "problem DE 14:00 epic=7").await {
        Err(ProcessError::Rejected(r)) => assert_eq!(r.rule, "K2"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn k3_k4_every_ordering_of_add_delete_and_an_older_add_with_a_duplicate_agrees() {
    let db = TestDb::migrated().await;
    // An add and a delete at the same time (the add wins, K3), then a later delete, and an
    // older add that must not undelete it (K4); one message twice. (Two older messages giving
    // a field the newest leaves unknown different values would fill it in arrival order: see
    // `records`.)
    let lines = [
        "problem AD 10:00 epic=7 status=ACTIVE comment=first",
        "problem DE 10:00 epic=7 status=ACTIVE",
        "problem DE 12:00 epic=7 status=ACTIVE",
        "problem DE 12:00 epic=7 status=ACTIVE",
        "problem AD 09:00 epic=7 status=ACTIVE",
    ];
    let orderings = crate::harness::permutations(lines.len());
    for (n, order) in orderings.iter().enumerate() {
        for &i in order {
            processed(&db.pool, &format!("{} mrn=P{n}", lines[i]))
                .await
                .unwrap();
        }
    }
    for (n, order) in orderings.iter().enumerate() {
        assert_eq!(
            conditions(&db.pool, &format!("P{n}")).await,
            [(
                "C90.0".to_owned(),
                Some(7),
                Some("ACTIVE".to_owned()),
                true,
                Some("first".to_owned())
            )],
            "ordering {order:?}"
        );
    }
    // K3 on its own: at one time, the add wins whichever came first.
    for (mrn, lines) in [
        (
            "Q1",
            [
                "problem AD 10:00 epic=9 status=ACTIVE",
                "problem DE 10:00 epic=9 status=ACTIVE",
            ],
        ),
        (
            "Q2",
            [
                "problem DE 10:00 epic=9 status=ACTIVE",
                "problem AD 10:00 epic=9 status=ACTIVE",
            ],
        ),
    ] {
        for line in lines {
            processed(&db.pool, &format!("{line} mrn={mrn}"))
                .await
                .unwrap();
        }
        assert!(!conditions(&db.pool, mrn).await[0].3, "{mrn}");
    }
}

#[tokio::test]
async fn k4_a_condition_first_seen_as_deleted_is_stored_flagged() {
    let db = TestDb::migrated().await;
    processed(&db.pool, "allergy DE 10:00 epic=3 code=TRAMADOL")
        .await
        .unwrap();
    assert_eq!(
        conditions(&db.pool, "M1").await,
        [row("TRAMADOL", Some(3), None, true)]
    );
}

#[tokio::test]
async fn k5_every_visit_a_condition_is_reported_in_is_kept_once_and_the_row_names_the_newest() {
    let db = TestDb::migrated().await;
    for line in [
        "problem AD 10:00 epic=7 status=ACTIVE visit=V1",
        "problem UP 12:00 epic=7 status=ACTIVE visit=V2",
        "problem UP 11:00 epic=7 status=ACTIVE visit=V1",
    ] {
        processed(&db.pool, line).await.unwrap();
    }
    assert_eq!(count(&db.pool, "condition_visits").await, 2);
    let visit: String = sqlx::query_scalar(
        "SELECT v.encounter FROM star.patient_condition c JOIN star.hospital_visit v
         USING (hospital_visit_id)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(visit, "V2");
}

#[tokio::test]
async fn k6_an_allergy_keeps_its_newest_reactions_and_a_delete_flags_it() {
    let db = TestDb::migrated().await;
    for line in [
        "allergy AD 10:00 epic=3 code=PENICILLIN reactions=Rash,Hives",
        "allergy UP 12:00 epic=3 code=PENICILLIN reactions=Rash,Anaphylaxis",
        "allergy UP 11:00 epic=3 code=PENICILLIN reactions=Wheeze",
    ] {
        processed(&db.pool, line).await.unwrap();
    }
    let reactions: Vec<String> =
        sqlx::query_scalar("SELECT name FROM star.allergen_reaction ORDER BY name")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(reactions, ["Anaphylaxis", "Rash"]);
    let removed: Vec<String> = sqlx::query_scalar("SELECT name FROM star.allergen_reaction_audit")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(removed, ["Hives"]);
    processed(&db.pool, "allergy DE 13:00 epic=3 code=PENICILLIN")
        .await
        .unwrap();
    assert!(conditions(&db.pool, "M1").await[0].3);
}

#[tokio::test]
async fn c9_a_condition_for_an_unknown_patient_and_visit_creates_them() {
    let db = TestDb::migrated().await;
    processed(
        &db.pool,
        "problem AD 10:00 epic=7 status=ACTIVE mrn=NEW visit=VNEW",
    )
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
}

#[tokio::test]
async fn reprocessing_a_condition_changes_nothing() {
    let db = TestDb::migrated().await;
    let line = "allergy AD 10:00 epic=3 code=PENICILLIN reactions=Rash visit=V1";
    processed(&db.pool, line).await.unwrap();
    processed(&db.pool, line).await.unwrap();
    for (table, n) in [
        ("patient_condition", 1),
        ("patient_condition_audit", 0),
        ("allergen_reaction", 1),
        ("allergen_reaction_audit", 0),
        ("condition_visits", 1),
    ] {
        assert_eq!(count(&db.pool, table).await, n, "{table}");
    }
}

#[tokio::test]
async fn a_delete_of_the_person_keeps_their_conditions_without_the_deleted_visit() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 09:00 at=A"]).await;
    processed(&db.pool, "problem AD 10:00 epic=7 status=ACTIVE visit=V1")
        .await
        .unwrap();
    ok(&db.pool, &["A29 12:00"]).await;
    assert_eq!(count(&db.pool, "patient_condition").await, 1);
    assert_eq!(count(&db.pool, "condition_visits").await, 0);
    let visit: Option<i64> =
        sqlx::query_scalar("SELECT hospital_visit_id FROM star.patient_condition")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(visit, None);
}

#[tokio::test]
async fn conditions_as_the_warehouse_held_them_at_a_stored_time() {
    let db = TestDb::migrated().await;
    apply(
        &db.pool,
        &condition("problem AD 10:00 epic=7 status=ACTIVE"),
        "2024-01-01T10:05:00Z",
    )
    .await
    .unwrap();
    apply(
        &db.pool,
        &condition("problem UP 11:00 epic=7 status=Resolved"),
        "2024-01-01T11:05:00Z",
    )
    .await
    .unwrap();
    let at = |stored: &str| {
        let pool = db.pool.clone();
        let stored = t(stored);
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT status FROM star.patient_condition_as_of($1)",
            )
            .bind(stored)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(at("10:30").await, [Some("ACTIVE".to_owned())]);
    assert_eq!(at("11:30").await, [Some("Resolved".to_owned())]);
}

#[tokio::test]
async fn k7_a_clarity_infection_replaces_the_patients_older_hl7_flags_in_either_order() {
    let hl7_flags = |pool: &PgPool, mrn: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>(
                "SELECT c.added_datetime FROM star.patient_condition c JOIN star.mrn m
                 USING (mrn_id) WHERE m.mrn = $1 AND c.internal_id IS NULL ORDER BY 1",
            )
            .bind(mrn)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    for order in [[0, 1, 2, 3], [3, 2, 1, 0]] {
        let db = TestDb::migrated().await;
        let lines = [
            "infection AD 10:00 code=MRSA added=09:00",
            "infection AD 10:00 code=CPE added=09:30 mrn=OTHER",
            "infection AD 11:00 code=VRE epic=7 added=08:00",
            "infection AD 12:00 code=MRSA added=11:45",
        ];
        for i in order {
            let outcome = processed(&db.pool, lines[i]).await;
            // The 10:00 flag is refused when the Clarity infection is already stored.
            if i == 0 && order[0] == 3 {
                assert_eq!(rule(outcome), "K7");
            } else {
                outcome.unwrap();
            }
        }
        assert_eq!(hl7_flags(&db.pool, "M1").await, [t("11:45")], "{order:?}");
        // Another patient's flags stay (EMAP's deletion is not restricted to the patient).
        assert_eq!(
            hl7_flags(&db.pool, "OTHER").await,
            [t("09:30")],
            "{order:?}"
        );
    }
}

#[tokio::test]
async fn k9_whether_a_message_is_newer_is_judged_against_the_condition_not_its_type() {
    // EMAP compares with the type's valid-from; Ward with the condition's own, so an older
    // message changes no status whatever other patients' conditions of the type say.
    let db = TestDb::migrated().await;
    processed(&db.pool, "problem AD 10:00 epic=1 status=Active")
        .await
        .unwrap();
    processed(&db.pool, "problem AD 08:00 epic=2 status=Active mrn=M2")
        .await
        .unwrap();
    processed(&db.pool, "problem UP 09:00 epic=1 status=Resolved")
        .await
        .unwrap();
    assert_eq!(
        conditions(&db.pool, "M1").await,
        [row("C90.0", Some(1), Some("Active"), false)]
    );
}
