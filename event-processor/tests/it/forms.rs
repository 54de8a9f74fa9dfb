//! Forms (Smart Data Elements): definitions and questions as reference rows named by metadata,
//! filled-in forms keyed by instance, answers by (form, question) with the newest winning in
//! any order, and A29's deletion (X2), against a real database.

use interchange::Message;
use interchange::form::{FormAnswerMsg, FormMetadataMsg, FormMsg, FormQuestionMetadataMsg};
use interchange::value::Iv;
use sqlx::PgPool;
use testkit::TestDb;

use crate::harness::{apply, count, ok, t};

/// A form as data: `<id> <first filed> [key=value]…`, each answer `a:<question>=<text>@<filed>`
/// (`-` as the text deletes it). Keys: `mrn` (default `M1`), `visit` (default `V1`, `-` for
/// none), `form` (definition, default `2056`), `instance` (default `I1`, `-` for none).
fn form(line: &str) -> Message {
    let mut words = line.split_whitespace();
    let id = words.next().unwrap();
    let filed = t(words.next().unwrap());
    let mut fields = std::collections::HashMap::new();
    let mut answers = Vec::new();
    for word in words {
        let (key, value) = word.split_once('=').unwrap();
        match key.strip_prefix("a:") {
            Some(question) => {
                let (text, at) = value.split_once('@').unwrap();
                answers.push(FormAnswerMsg {
                    source_message_id: Some(format!("{id}-{question}")),
                    question_id: Some(question.to_owned()),
                    context: Some("NOTE".to_owned()),
                    filed_datetime: Some(t(at)),
                    string_value: match text {
                        "-" => Iv::delete(),
                        text => Iv::Save(text.to_owned()),
                    },
                    boolean_value: match text {
                        "yes" => Iv::Save(true),
                        _ => Iv::Unknown,
                    },
                    ..Default::default()
                });
            }
            None => {
                fields.insert(key, value);
            }
        }
    }
    let get = |key: &str, default: &str| {
        Some(fields.get(key).copied().unwrap_or(default).to_owned()).filter(|v| v != "-")
    };
    FormMsg {
        source_message_id: Some(id.to_owned()),
        source_system: Some("clarity".to_owned()),
        form_id: get("form", "2056"),
        form_instance_id: get("instance", "I1"),
        first_filed_datetime: Some(filed),
        visit_number: get("visit", "V1"),
        mrn: get("mrn", "M1"),
        form_answer_msgs: answers,
    }
    .into()
}

async fn processed(pool: &PgPool, line: &str) {
    apply(pool, &form(line), "2024-01-02T00:00:00Z")
        .await
        .unwrap();
}

/// `(form instance, question, text, yes/no)` of every answer.
async fn answers(pool: &PgPool) -> Vec<(String, String, Option<String>, Option<bool>)> {
    sqlx::query_as(
        "SELECT f.internal_id, q.internal_id, a.value_as_text, a.value_as_boolean
         FROM star.form_answer a JOIN star.form f USING (form_id)
         JOIN star.form_question q USING (form_question_id)
         ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_form_creates_its_patient_visit_definition_and_questions_and_keeps_its_answers() {
    let db = TestDb::migrated().await;
    processed(
        &db.pool,
        "1 10:00 a:UCLH#1205=yes@10:00 a:UCLH#1167=reason@10:00",
    )
    .await;
    assert_eq!(
        answers(&db.pool).await,
        [
            (
                "I1".to_owned(),
                "UCLH#1167".to_owned(),
                Some("reason".to_owned()),
                None
            ),
            (
                "I1".to_owned(),
                "UCLH#1205".to_owned(),
                Some("yes".to_owned()),
                Some(true)
            ),
        ]
    );
    assert_eq!(count(&db.pool, "form_definition").await, 1);
    assert_eq!(count(&db.pool, "form_question").await, 2);
    assert_eq!(count(&db.pool, "hospital_visit").await, 1);
    let visit: Option<String> = sqlx::query_scalar(
        "SELECT v.encounter FROM star.form f JOIN star.hospital_visit v USING (hospital_visit_id)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(visit.as_deref(), Some("V1"));
}

#[tokio::test]
async fn every_ordering_of_a_forms_messages_with_a_duplicate_ends_with_the_newest_answers() {
    let db = TestDb::migrated().await;
    let lines = [
        "1 10:00 a:Q1=first@10:00 a:Q2=kept@10:00",
        "2 10:00 a:Q1=second@11:00 a:Q3=later@11:00",
        "2 10:00 a:Q1=second@11:00 a:Q3=later@11:00",
        "3 10:00 a:Q1=third@12:00 a:Q3=-@12:00",
    ];
    let orderings = crate::harness::permutations(lines.len());
    for (n, order) in orderings.iter().enumerate() {
        for &i in order {
            processed(
                &db.pool,
                &format!("{} instance=F{n} mrn=M{n} visit=V{n}", lines[i]),
            )
            .await;
        }
    }
    let rows = answers(&db.pool).await;
    assert_eq!(rows.len(), 3 * orderings.len());
    for (n, order) in orderings.iter().enumerate() {
        let mine: Vec<(&str, Option<&str>)> = rows
            .iter()
            .filter(|r| r.0 == format!("F{n}"))
            .map(|r| (r.1.as_str(), r.2.as_deref()))
            .collect();
        assert_eq!(
            mine,
            [("Q1", Some("third")), ("Q2", Some("kept")), ("Q3", None)],
            "ordering {order:?}"
        );
    }
    assert_eq!(count(&db.pool, "form_question").await, 3);
}

#[tokio::test]
async fn a_form_without_an_instance_id_is_one_form_per_definition_time_and_visit() {
    let db = TestDb::migrated().await;
    processed(&db.pool, "1 10:00 instance=- a:Q1=one@10:00").await;
    processed(&db.pool, "2 10:00 instance=- a:Q2=two@10:05").await;
    processed(&db.pool, "3 10:00 instance=- visit=V2 a:Q1=other@10:00").await;
    let forms: Vec<String> = sqlx::query_scalar("SELECT internal_id FROM star.form ORDER BY 1")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(forms.len(), 2, "{forms:?}");
    assert_eq!(count(&db.pool, "form_answer").await, 3);
}

#[tokio::test]
async fn metadata_names_definitions_and_questions_the_latest_winning_in_any_order() {
    let db = TestDb::migrated().await;
    let at = "2024-01-02T00:00:00Z";
    let definition = |id: &str, when: &str, name: &str| -> Message {
        FormMetadataMsg {
            source_message_id: Some("2056".to_owned()),
            source_system: Some(id.to_owned()),
            form_name: Some(name.to_owned()),
            form_patient_friendly_name: Some(format!("{name} (for patients)")),
            valid_from: Some(t(when)),
        }
        .into()
    };
    let question = |when: &str, name: &str| -> Message {
        FormQuestionMetadataMsg {
            source_message_id: Some("UCLH#1205".to_owned()),
            source_system: Some("clarity".to_owned()),
            name: Some(name.to_owned()),
            abbrev_name: Some("ICU Discussion".to_owned()),
            description: None,
            valid_from: Some(t(when)),
        }
        .into()
    };
    // A form first creates both bare; metadata names them, newer before older.
    processed(&db.pool, "1 09:00 a:UCLH#1205=yes@09:00").await;
    apply(&db.pool, &definition("m2", "11:00", "TEP"), at)
        .await
        .unwrap();
    apply(&db.pool, &definition("m1", "10:00", "Old TEP"), at)
        .await
        .unwrap();
    apply(&db.pool, &question("10:00", "ICU DISCUSSION"), at)
        .await
        .unwrap();
    let names: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT name, patient_friendly_name FROM star.form_definition")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        names,
        [(
            Some("TEP".to_owned()),
            Some("TEP (for patients)".to_owned())
        )]
    );
    let question_names: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT concept_name, concept_abbrev_name FROM star.form_question")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        question_names,
        [(
            Some("ICU DISCUSSION".to_owned()),
            Some("ICU Discussion".to_owned())
        )]
    );
    // The bare rows' states are kept.
    assert_eq!(count(&db.pool, "form_definition_audit").await, 1);
    assert_eq!(count(&db.pool, "form_question_audit").await, 1);
}

#[tokio::test]
async fn x2_a_delete_of_the_person_removes_their_earlier_forms_with_answers_audited() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 09:00 at=A"]).await;
    processed(&db.pool, "1 10:00 a:Q1=one@10:00 a:Q2=two@10:00").await;
    // A form of no visit, filed after the delete: it stays.
    processed(&db.pool, "2 13:00 instance=I2 visit=- a:Q1=after@13:00").await;
    ok(&db.pool, &["A29 12:00"]).await;
    assert_eq!(count(&db.pool, "form").await, 1);
    assert_eq!(count(&db.pool, "form_audit").await, 1);
    assert_eq!(count(&db.pool, "form_answer").await, 1);
    assert_eq!(count(&db.pool, "form_answer_audit").await, 2);
}
