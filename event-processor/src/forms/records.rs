//! Filled-in forms and their answers. A form is keyed by its instance id (Ward makes one from
//! the definition, first filed time and visit or MRN when the source gives none); its first
//! filed time and provenance are the earliest message's, its visit the first one named. An
//! answer is keyed by (form, question) and reported whole: the newest answer by filed time (ties
//! to the later message) gives all its values and an older one changes nothing, so every arrival
//! order ends with the same rows. A change is audited first.

use chrono::{DateTime, NaiveDate, Utc};
use interchange::form::{FormAnswerMsg, FormMsg};
use sqlx::PgConnection;

use super::definitions::{self, QUESTION};
use crate::engine::Context;

/// The form's own id, or Ward's when the source gives none.
pub(crate) fn instance_id(m: &FormMsg, form_id: &str, at: DateTime<Utc>) -> String {
    match m.form_instance_id.as_deref().filter(|i| !i.is_empty()) {
        Some(id) => id.to_owned(),
        None => {
            let whose = m.visit_number.as_deref().or(m.mrn.as_deref()).unwrap_or("");
            format!("{form_id}@{}/{whose}", at.to_rfc3339())
        }
    }
}

#[derive(sqlx::FromRow)]
struct StoredForm {
    form_id: i64,
    hospital_visit_id: Option<i64>,
    first_filed_datetime: Option<DateTime<Utc>>,
    valid_from: DateTime<Utc>,
}

/// The form `internal_id` of definition `definition`, created or filled from the message; its id.
pub(crate) async fn form(
    conn: &mut PgConnection,
    definition: i64,
    mrn_id: i64,
    visit: Option<i64>,
    internal_id: &str,
    first_filed: Option<DateTime<Utc>>,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    let stored: Option<StoredForm> = sqlx::query_as(
        "SELECT form_id, hospital_visit_id, first_filed_datetime, valid_from
         FROM form WHERE internal_id = $1 FOR UPDATE",
    )
    .bind(internal_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(stored) = stored else {
        return sqlx::query_scalar(
            "INSERT INTO form (form_definition_id, mrn_id, hospital_visit_id, internal_id,
                 first_filed_datetime, valid_from, stored_from, source_ids_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             RETURNING form_id",
        )
        .bind(definition)
        .bind(mrn_id)
        .bind(visit)
        .bind(internal_id)
        .bind(first_filed)
        .bind(context.valid_from)
        .bind(context.stored_from)
        .bind(context.source_ids_id)
        .fetch_one(&mut *conn)
        .await;
    };
    let earlier = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let visit_now = stored.hospital_visit_id.or(visit);
    let filed_now = earlier(stored.first_filed_datetime, first_filed);
    let older = context.valid_from < stored.valid_from;
    if visit_now == stored.hospital_visit_id && filed_now == stored.first_filed_datetime && !older {
        return Ok(stored.form_id);
    }
    sqlx::query(
        "WITH audited AS (
             INSERT INTO form_audit (form_id, form_definition_id, mrn_id, hospital_visit_id,
                 internal_id, note_id, first_filed_datetime, valid_from, valid_until,
                 stored_from, stored_until, source_ids_id)
             SELECT form_id, form_definition_id, mrn_id, hospital_visit_id, internal_id,
                    note_id, first_filed_datetime, valid_from, greatest(valid_from, $4),
                    stored_from, $5, source_ids_id
             FROM form WHERE form_id = $1)
         UPDATE form SET hospital_visit_id = $2, first_filed_datetime = $3,
             valid_from = least(valid_from, $4), stored_from = $5,
             source_ids_id = CASE WHEN $4 < valid_from THEN $6 ELSE source_ids_id END
         WHERE form_id = $1",
    )
    .bind(stored.form_id)
    .bind(visit_now)
    .bind(filed_now)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    Ok(stored.form_id)
}

/// An answer's values.
#[derive(Debug, Clone, PartialEq, Default, sqlx::FromRow)]
struct Values {
    internal_id: Option<String>,
    filed_datetime: Option<DateTime<Utc>>,
    context: Option<String>,
    value_as_text: Option<String>,
    value_as_number: Option<f64>,
    value_as_boolean: Option<bool>,
    value_as_datetime: Option<DateTime<Utc>>,
    value_as_date: Option<NaiveDate>,
}

impl Values {
    /// Answer `a` as it was filed: a source reports an answer whole, so a value it leaves out
    /// is not there.
    fn from_answer(a: &FormAnswerMsg) -> Values {
        Values {
            internal_id: a.source_message_id.clone(),
            filed_datetime: a.filed_datetime,
            context: a.context.clone(),
            value_as_text: a.string_value.clone().apply_to(None),
            value_as_number: a.numeric_value.clone().apply_to(None),
            value_as_boolean: a.boolean_value.clone().apply_to(None),
            value_as_datetime: a.utc_datetime_value.clone().apply_to(None),
            value_as_date: a.date_value.clone().apply_to(None),
        }
    }
}

#[derive(sqlx::FromRow)]
struct StoredAnswer {
    form_answer_id: i64,
    form_question_id: i64,
    valid_from: DateTime<Utc>,
    source_ids_id: Option<i64>,
    #[sqlx(flatten)]
    values: Values,
}

const COLUMNS: &str = "internal_id, filed_datetime, context, value_as_text, value_as_number, \
    value_as_boolean, value_as_datetime, value_as_date";

/// The answers of `m` on form `form`.
pub(crate) async fn answers(
    conn: &mut PgConnection,
    form: i64,
    m: &FormMsg,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    let mut given = Vec::with_capacity(m.form_answer_msgs.len());
    for a in &m.form_answer_msgs {
        if let Some(question) = a.question_id.as_deref().filter(|q| !q.is_empty()) {
            given.push((
                definitions::row(conn, QUESTION, question, context).await?,
                a,
            ));
        }
    }
    if given.is_empty() {
        return Ok(());
    }
    let stored: Vec<StoredAnswer> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT form_answer_id, form_question_id, valid_from, source_ids_id, {COLUMNS}
         FROM form_answer WHERE form_id = $1 FOR UPDATE"
    )))
    .bind(form)
    .fetch_all(&mut *conn)
    .await?;
    let source = context.source_ids_id;
    for (question, a) in given {
        let at = a.filed_datetime.unwrap_or(context.valid_from);
        let v = Values::from_answer(a);
        let Some(current) = stored.iter().find(|s| s.form_question_id == question) else {
            write(conn, None, (form, question), &v, at, context).await?;
            continue;
        };
        let newer = (at, &source) >= (current.valid_from, &current.source_ids_id);
        let moves = (current.valid_from, current.source_ids_id) != (at, context.source_ids_id);
        if !newer || (v == current.values && !moves) {
            continue;
        }
        write(
            conn,
            Some(current.form_answer_id),
            (form, question),
            &v,
            at,
            context,
        )
        .await?;
    }
    Ok(())
}

/// Inserts an answer, or updates answer `id` (its previous state audited), valid from `at`.
async fn write(
    conn: &mut PgConnection,
    id: Option<i64>,
    (form, question): (i64, i64),
    v: &Values,
    at: DateTime<Utc>,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    let sql = match id {
        None => format!(
            "INSERT INTO form_answer (form_id, form_question_id, {COLUMNS}, valid_from,
                 stored_from, source_ids_id)
             SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 WHERE $1 IS NULL"
        ),
        Some(_) => format!(
            "WITH audited AS (
                 INSERT INTO form_answer_audit (form_answer_id, form_id, form_question_id,
                     {COLUMNS}, valid_from, valid_until, stored_from, stored_until,
                     source_ids_id)
                 SELECT form_answer_id, form_id, form_question_id, {COLUMNS}, valid_from,
                        greatest(valid_from, $12), stored_from, $13, source_ids_id
                 FROM form_answer WHERE form_answer_id = $1)
             UPDATE form_answer SET internal_id = $4, filed_datetime = $5, context = $6,
                 value_as_text = $7, value_as_number = $8, value_as_boolean = $9,
                 value_as_datetime = $10, value_as_date = $11, valid_from = $12,
                 stored_from = $13, source_ids_id = $14
             WHERE form_answer_id = $1 AND form_id = $2 AND form_question_id = $3"
        ),
    };
    let query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(form)
        .bind(question)
        .bind(&v.internal_id)
        .bind(v.filed_datetime)
        .bind(&v.context)
        .bind(&v.value_as_text)
        .bind(v.value_as_number)
        .bind(v.value_as_boolean)
        .bind(v.value_as_datetime)
        .bind(v.value_as_date)
        .bind(at)
        .bind(context.stored_from)
        .bind(context.source_ids_id);
    query.execute(&mut *conn).await?;
    Ok(())
}
