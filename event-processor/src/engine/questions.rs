//! Questions asked on requests and their answers (Q5), which several families share (consults
//! and advance decisions in `requests`, samples in `labs`), as they share places: a `question`
//! is a reference row by its text, shared by every patient; a `request_answer` is keyed by (the
//! request it answers, the question). The newest message about an answer (hospital time, ties to the later IDS id)
//! gives it its text and provenance; an older one only fills an answer not yet stored, so every arrival order
//! ends with the same rows. A change is audited first.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::Context;
use super::reference::earliest_row;

/// The request a set of answers belongs to: its table, as `request_answer.parent_table` names
/// it, and its key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Parent {
    ConsultRequest(i64),
    AdvanceDecision(i64),
    LabSample(i64),
}

impl Parent {
    fn table_and_id(self) -> (&'static str, i64) {
        match self {
            Parent::ConsultRequest(id) => ("CONSULT_REQUEST", id),
            Parent::AdvanceDecision(id) => ("ADVANCE_DECISION", id),
            Parent::LabSample(id) => ("LAB_SAMPLE", id),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Stored {
    request_answer_id: i64,
    question_id: i64,
    valid_from: DateTime<Utc>,
    source_ids_id: Option<i64>,
}

/// Q5: the answers `questions` (question text → answer) to `parent`, as of `context`'s message.
pub(crate) async fn answers(
    conn: &mut PgConnection,
    parent: Parent,
    questions: &BTreeMap<String, String>,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    if questions.is_empty() {
        return Ok(());
    }
    let mut given = Vec::with_capacity(questions.len());
    for (text, answer) in questions {
        given.push((
            earliest_row(conn, "question", "question", text, context).await?,
            answer,
        ));
    }
    let (table, parent_id) = parent.table_and_id();
    let stored: Vec<Stored> = sqlx::query_as(
        "SELECT request_answer_id, question_id, valid_from, source_ids_id
         FROM request_answer WHERE parent_table = $1 AND parent_id = $2 FOR UPDATE",
    )
    .bind(table)
    .bind(parent_id)
    .fetch_all(&mut *conn)
    .await?;
    let rank = |at, source| (at, source);
    let ours = rank(context.valid_from, context.source_ids_id);
    let (mut new_questions, mut new_answers) = (Vec::new(), Vec::new());
    let (mut changed, mut changed_answers) = (Vec::new(), Vec::new());
    for (question_id, answer) in given {
        match stored.iter().find(|s| s.question_id == question_id) {
            None => {
                new_questions.push(question_id);
                new_answers.push(answer.as_str());
            }
            Some(s) => {
                let newer = ours >= rank(s.valid_from, s.source_ids_id);
                let moves =
                    (s.valid_from, s.source_ids_id) != (context.valid_from, context.source_ids_id);
                // The newest message gives the answer its provenance, even when it repeats it,
                // so every arrival order ends with the same row.
                if newer && moves {
                    changed.push(s.request_answer_id);
                    changed_answers.push(answer.as_str());
                }
            }
        }
    }
    if new_questions.is_empty() && changed.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "WITH added AS (
             INSERT INTO request_answer (question_id, parent_table, parent_id, answer, valid_from,
                 stored_from, source_ids_id)
             SELECT question_id, $1, $2, answer, $7, $8, $9
             FROM unnest($3::bigint[], $4::text[]) AS g(question_id, answer)),
         audited AS (
             INSERT INTO request_answer_audit (request_answer_id, question_id, parent_table,
                 parent_id, answer, valid_from, valid_until, stored_from, stored_until,
                 source_ids_id)
             SELECT request_answer_id, question_id, parent_table, parent_id, answer, valid_from,
                    greatest(valid_from, $7), stored_from, $8, source_ids_id
             FROM request_answer WHERE request_answer_id = ANY($5))
         UPDATE request_answer r SET answer = c.answer, valid_from = $7, stored_from = $8,
             source_ids_id = $9
         FROM unnest($5::bigint[], $6::text[]) AS c(request_answer_id, answer)
         WHERE r.request_answer_id = c.request_answer_id",
    )
    .bind(table)
    .bind(parent_id)
    .bind(&new_questions)
    .bind(&new_answers)
    .bind(&changed)
    .bind(&changed_answers)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
