//! Visit observations (F1–F3): one row per (visit, type, observation time) (F1). The message
//! that is newest by hospital time — ties going to the later IDS id, which is the later arrival
//! in a live feed — gives the row its values, a deleted value (F3) included (F2: EMAP applies
//! a message whose time equals the row's too). An older message never replaces a value but
//! fills a unit or comment the row lacks, so the row is the same whatever order its messages
//! arrive in: HL7 sends a row's value in every message (saved or deleted) while units and
//! comments only when present. (Two older messages with different comments for a row whose
//! newest has none fill it in arrival order; exact answers would need a time per field.) A
//! change is audited first.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use interchange::observation::Flowsheet;
use interchange::value::Iv;
use sqlx::PgConnection;

use crate::engine::Context;

/// An observation's values.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
struct Values {
    value_as_text: Option<String>,
    value_as_real: Option<f64>,
    value_as_date: Option<NaiveDate>,
    value_as_time: Option<NaiveTime>,
    unit: Option<String>,
    comment: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Stored {
    visit_observation_id: i64,
    valid_from: DateTime<Utc>,
    source_ids_id: Option<i64>,
    #[sqlx(flatten)]
    values: Values,
}

/// An older message's value: it fills what the row lacks.
fn fill<T: Clone>(value: &Iv<T>, current: Option<T>) -> Option<T> {
    match (current, value) {
        (None, Iv::Save(v)) => Some(v.clone()),
        (current, _) => current,
    }
}

impl Values {
    /// What `f` makes of `current`: all of it when `f` is the newest, else only the unit and
    /// comment the row lacks.
    fn from_message(f: &Flowsheet, current: Values, newest: bool) -> Values {
        if newest {
            return Values {
                value_as_text: f.string_value.clone().apply_to(current.value_as_text),
                value_as_real: f.numeric_value.clone().apply_to(current.value_as_real),
                value_as_date: f.date_value.clone().apply_to(current.value_as_date),
                value_as_time: f.time_value.clone().apply_to(current.value_as_time),
                unit: f.unit.clone().apply_to(current.unit),
                comment: f.comment.clone().apply_to(current.comment),
            };
        }
        Values {
            unit: fill(&f.unit, current.unit.clone()),
            comment: fill(&f.comment, current.comment.clone()),
            ..current
        }
    }
}

/// Orders messages by hospital time, then by source id (IDS ids as numbers).
pub(crate) fn compare(
    a: (DateTime<Utc>, Option<i64>),
    b: (DateTime<Utc>, Option<i64>),
) -> Ordering {
    a.cmp(&b)
}

/// The observation of type `kind` at `at` in `visit`, created or updated by `f` (F1–F3).
pub(crate) async fn observe(
    conn: &mut PgConnection,
    visit: i64,
    kind: i64,
    at: DateTime<Utc>,
    f: &Flowsheet,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    let fresh = Values::from_message(f, Values::default(), true);
    // Most observations are new: one round trip tries the insert.
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO visit_observation (visit_observation_type_id, hospital_visit_id,
             observation_datetime, value_as_text, value_as_real, value_as_date, value_as_time,
             unit, comment, source_system, valid_from, stored_from, source_ids_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (hospital_visit_id, visit_observation_type_id, observation_datetime)
         DO NOTHING
         RETURNING visit_observation_id",
    )
    .bind(kind)
    .bind(visit)
    .bind(at)
    .bind(&fresh.value_as_text)
    .bind(fresh.value_as_real)
    .bind(fresh.value_as_date)
    .bind(fresh.value_as_time)
    .bind(&fresh.unit)
    .bind(&fresh.comment)
    .bind(context.source_system.unwrap_or("unknown"))
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_some() {
        return Ok(());
    }
    let stored: Stored = sqlx::query_as(
        "SELECT visit_observation_id, valid_from, source_ids_id, value_as_text, value_as_real,
             value_as_date, value_as_time, unit, comment
         FROM visit_observation
         WHERE hospital_visit_id = $1 AND visit_observation_type_id = $2
           AND observation_datetime = $3
         FOR UPDATE",
    )
    .bind(visit)
    .bind(kind)
    .bind(at)
    .fetch_one(&mut *conn)
    .await?;
    let newest = compare(
        (context.valid_from, context.source_ids_id),
        (stored.valid_from, stored.source_ids_id),
    ) != Ordering::Less;
    let now = Values::from_message(f, stored.values.clone(), newest);
    let moves = newest
        && (stored.valid_from, stored.source_ids_id) != (context.valid_from, context.source_ids_id);
    if now == stored.values && !moves {
        return Ok(());
    }
    let (valid_from, source) = match newest {
        true => (context.valid_from, context.source_ids_id),
        false => (stored.valid_from, stored.source_ids_id),
    };
    sqlx::query(
        "WITH audited AS (
             INSERT INTO visit_observation_audit (visit_observation_id,
                 visit_observation_type_id, hospital_visit_id, observation_datetime,
                 value_as_text, value_as_real, value_as_date, value_as_time, unit, comment,
                 source_system, valid_from, valid_until, stored_from, stored_until,
                 source_ids_id)
             SELECT visit_observation_id, visit_observation_type_id, hospital_visit_id,
                    observation_datetime, value_as_text, value_as_real, value_as_date,
                    value_as_time, unit, comment, source_system, valid_from,
                    greatest(valid_from, $10), stored_from, $11, source_ids_id
             FROM visit_observation WHERE visit_observation_id = $1)
         UPDATE visit_observation SET value_as_text = $2, value_as_real = $3,
             value_as_date = $4, value_as_time = $5, unit = $6, comment = $7,
             source_system = coalesce($8, source_system), valid_from = $9,
             stored_from = $11, source_ids_id = $12
         WHERE visit_observation_id = $1",
    )
    .bind(stored.visit_observation_id)
    .bind(&now.value_as_text)
    .bind(now.value_as_real)
    .bind(now.value_as_date)
    .bind(now.value_as_time)
    .bind(&now.unit)
    .bind(&now.comment)
    .bind(context.source_system.filter(|_| newest))
    .bind(valid_from)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(source)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn equal_times_go_to_the_later_ids_id_as_numbers() {
        let t = at("2024-01-01T10:00:00Z");
        assert_eq!(compare((t, Some(10)), (t, Some(9))), Ordering::Greater);
        assert_eq!(compare((t, Some(9)), (t, Some(9))), Ordering::Equal);
        let later = at("2024-01-01T10:00:01Z");
        assert_eq!(compare((t, Some(10)), (later, Some(9))), Ordering::Less);
    }

    #[test]
    fn an_older_message_fills_a_missing_comment_but_never_replaces_a_value() {
        let older = Flowsheet {
            numeric_value: Iv::Save(80.0),
            comment: Iv::Save("asleep".to_owned()),
            ..Flowsheet::default()
        };
        let current = Values {
            value_as_real: None,
            ..Values::default()
        };
        let now = Values::from_message(&older, current, false);
        assert_eq!(now.value_as_real, None);
        assert_eq!(now.comment.as_deref(), Some("asleep"));
    }
}
