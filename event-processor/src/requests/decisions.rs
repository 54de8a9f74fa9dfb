//! Advance decisions (Q4): types by care code (reference rows; the earliest message's name, as
//! EMAP fixes the name at creation) and decisions by Epic number. The newest message by status
//! change time (ties to the later IDS id) gives a decision its values; an older one only fills a
//! requested time the row lacks. A change is audited first.

use chrono::{DateTime, Utc};
use interchange::order::AdvanceDecisionMessage;
use sqlx::PgConnection;

use super::consults::rank;
use crate::engine::Context;
use crate::engine::reference::Connection;

/// The advance decision type `care_code`, created on first sight.
pub(crate) async fn decision_type(
    conn: &mut PgConnection,
    care_code: &str,
    name: Option<&str>,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    let mut reference = Connection::of(conn, context).await?;
    sqlx::query_scalar(
        "INSERT INTO advance_decision_type AS t (care_code, name, valid_from, stored_from,
             source_ids_id)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (care_code) DO UPDATE SET
             name = CASE WHEN (excluded.valid_from, coalesce(excluded.source_ids_id, 0))
                             < (t.valid_from, coalesce(t.source_ids_id, 0))
                         THEN coalesce(excluded.name, t.name) ELSE coalesce(t.name, excluded.name) END,
             valid_from = least(t.valid_from, excluded.valid_from),
             source_ids_id = CASE WHEN (excluded.valid_from, coalesce(excluded.source_ids_id, 0))
                                 < (t.valid_from, coalesce(t.source_ids_id, 0))
                             THEN excluded.source_ids_id ELSE t.source_ids_id END,
             stored_from = excluded.stored_from
         RETURNING advance_decision_type_id",
    )
    .bind(care_code)
    .bind(name)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .fetch_one(reference.get())
    .await
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct Values {
    advance_decision_type_id: i64,
    hospital_visit_id: i64,
    closed_due_to_discharge: bool,
    cancelled: bool,
    status_change_datetime: Option<DateTime<Utc>>,
    requested_datetime: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Stored {
    advance_decision_id: i64,
    valid_from: DateTime<Utc>,
    source_ids_id: Option<i64>,
    #[sqlx(flatten)]
    values: Values,
}

const COLUMNS: &str = "advance_decision_type_id, hospital_visit_id, closed_due_to_discharge, \
    cancelled, status_change_datetime, requested_datetime";

/// Q4: decision `epic` created or updated by `m`; its id.
pub(crate) async fn decision(
    conn: &mut PgConnection,
    kind: i64,
    visit: i64,
    epic: i64,
    m: &AdvanceDecisionMessage,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    let stored: Option<Stored> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT advance_decision_id, valid_from, source_ids_id, {COLUMNS}
         FROM advance_decision WHERE internal_id = $1 FOR UPDATE"
    )))
    .bind(epic)
    .fetch_optional(&mut *conn)
    .await?;
    let fresh = Values {
        advance_decision_type_id: kind,
        hospital_visit_id: visit,
        closed_due_to_discharge: m.closed_due_to_discharge,
        cancelled: m.cancelled,
        status_change_datetime: m.status_change_datetime,
        requested_datetime: m.requested_datetime,
    };
    let (id, now, kept) = match stored {
        None => (None, fresh, None),
        Some(stored) => {
            let newest = rank(context.valid_from, context.source_ids_id)
                >= rank(stored.valid_from, stored.source_ids_id);
            let now = match newest {
                true => Values {
                    requested_datetime: fresh
                        .requested_datetime
                        .or(stored.values.requested_datetime),
                    ..fresh
                },
                false => Values {
                    requested_datetime: stored.values.requested_datetime.or(m.requested_datetime),
                    ..stored.values.clone()
                },
            };
            let moves = newest
                && (stored.valid_from, stored.source_ids_id)
                    != (context.valid_from, context.source_ids_id);
            if now == stored.values && !moves {
                return Ok(stored.advance_decision_id);
            }
            let kept = (!newest).then_some((stored.valid_from, stored.source_ids_id));
            (Some(stored.advance_decision_id), now, kept)
        }
    };
    let (valid_from, source) = kept.unwrap_or((context.valid_from, context.source_ids_id));
    let sql = match id {
        None => format!(
            "INSERT INTO advance_decision (internal_id, {COLUMNS}, valid_from, stored_from,
                 source_ids_id)
             VALUES ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             RETURNING advance_decision_id"
        ),
        Some(_) => format!(
            "WITH audited AS (
                 INSERT INTO advance_decision_audit (advance_decision_id, internal_id, {COLUMNS},
                     valid_from, valid_until, stored_from, stored_until, source_ids_id)
                 SELECT advance_decision_id, internal_id, {COLUMNS}, valid_from,
                        greatest(valid_from, $12), stored_from, $10, source_ids_id
                 FROM advance_decision WHERE advance_decision_id = $1)
             UPDATE advance_decision SET advance_decision_type_id = $3, hospital_visit_id = $4,
                 closed_due_to_discharge = $5, cancelled = $6, status_change_datetime = $7,
                 requested_datetime = $8, valid_from = $9, stored_from = $10,
                 source_ids_id = $11
             WHERE advance_decision_id = $1 AND internal_id = $2
             RETURNING advance_decision_id"
        ),
    };
    let query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(epic)
        .bind(now.advance_decision_type_id)
        .bind(now.hospital_visit_id)
        .bind(now.closed_due_to_discharge)
        .bind(now.cancelled)
        .bind(now.status_change_datetime)
        .bind(now.requested_datetime)
        .bind(valid_from)
        .bind(context.stored_from)
        .bind(source);
    match id {
        None => query.fetch_one(&mut *conn).await,
        Some(_) => query.bind(context.valid_from).fetch_one(&mut *conn).await,
    }
}
