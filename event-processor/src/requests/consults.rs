//! Consultation types (reference rows by code, earliest provenance; named by consult metadata,
//! Q3) and requests (Q1).

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use interchange::order::{ConsultMetadata, ConsultRequest};
use sqlx::PgConnection;

use crate::engine::reference::earliest_row;
use crate::engine::{Context, ProcessError, reject};

/// The consultation type `code`, created on first sight.
pub(crate) async fn consultation_type(
    conn: &mut PgConnection,
    code: &str,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    earliest_row(conn, "consultation_type", "code", code, context).await
}

/// Q3: consult metadata names the type `code` (created when not seen yet) when the type has no
/// name or the metadata is newer than the name's (ties by name, so any arrival order gives the
/// same row); older metadata changes nothing. A rename is audited first. Metadata names no
/// patient, so it is applied between patients' messages, in its own transaction.
pub(crate) async fn metadata(
    conn: &mut PgConnection,
    m: &ConsultMetadata,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let Some(code) = m.code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(reject("Q3", "consult metadata without a type code"));
    };
    let Some(name) = m.name.as_deref() else {
        consultation_type(conn, code, context).await?;
        return Ok(());
    };
    let created: Option<i64> = sqlx::query_scalar(
        "INSERT INTO consultation_type (code, name, name_valid_from, valid_from, stored_from,
             source_ids_id)
         VALUES ($1, $2, $3, $3, $4, $5)
         ON CONFLICT (code) DO NOTHING RETURNING consultation_type_id",
    )
    .bind(code)
    .bind(name)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .fetch_optional(&mut *conn)
    .await?;
    if created.is_some() {
        return Ok(());
    }
    let id = consultation_type(conn, code, context).await?;
    let newer = "name_valid_from IS NULL OR (name_valid_from, coalesce(name, '')) < ($2, $3)";
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH audited AS (
             INSERT INTO consultation_type_audit (consultation_type_id, code, name,
                 name_valid_from, valid_from, valid_until, stored_from, stored_until,
                 source_ids_id)
             SELECT consultation_type_id, code, name, name_valid_from, valid_from,
                    greatest(valid_from, $2), stored_from, $4, source_ids_id
             FROM consultation_type WHERE consultation_type_id = $1 AND ({newer}))
         UPDATE consultation_type SET name = $3, name_valid_from = $2, stored_from = $4
         WHERE consultation_type_id = $1 AND ({newer})"
    )))
    .bind(id)
    .bind(context.valid_from)
    .bind(name)
    .bind(context.stored_from)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A request's values.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct Values {
    consultation_type_id: i64,
    hospital_visit_id: i64,
    closed_due_to_discharge: bool,
    cancelled: bool,
    comments: Option<String>,
    status_change_datetime: Option<DateTime<Utc>>,
    scheduled_datetime: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Stored {
    consultation_request_id: i64,
    valid_from: DateTime<Utc>,
    source_ids_id: Option<i64>,
    #[sqlx(flatten)]
    values: Values,
}

/// Orders messages by hospital time, then IDS id (as numbers).
pub(crate) fn rank(at: DateTime<Utc>, source: Option<i64>) -> (DateTime<Utc>, Option<i64>) {
    (at, source)
}

const COLUMNS: &str = "consultation_type_id, hospital_visit_id, closed_due_to_discharge, \
    cancelled, comments, status_change_datetime, scheduled_datetime";

/// Q1: request `epic` created or updated by `m`; its id.
pub(crate) async fn request(
    conn: &mut PgConnection,
    kind: i64,
    visit: i64,
    epic: i64,
    m: &ConsultRequest,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    let stored: Option<Stored> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT consultation_request_id, valid_from, source_ids_id, {COLUMNS}
         FROM consultation_request WHERE internal_id = $1 FOR UPDATE"
    )))
    .bind(epic)
    .fetch_optional(&mut *conn)
    .await?;
    let notes = m.notes.clone();
    let Some(stored) = stored else {
        let v = Values {
            consultation_type_id: kind,
            hospital_visit_id: visit,
            closed_due_to_discharge: m.closed_due_to_discharge,
            cancelled: m.cancelled,
            comments: notes.apply_to(None),
            status_change_datetime: m.status_change_datetime,
            scheduled_datetime: m.scheduled_datetime,
        };
        return write(conn, None, epic, &v, None, context).await;
    };
    let newest = rank(context.valid_from, context.source_ids_id)
        .cmp(&rank(stored.valid_from, stored.source_ids_id))
        != Ordering::Less;
    let current = stored.values.clone();
    let now = match newest {
        false => Values {
            comments: current.comments.clone().or(notes.apply_to(None)),
            scheduled_datetime: current.scheduled_datetime.or(m.scheduled_datetime),
            ..current.clone()
        },
        true => {
            let mut v = Values {
                consultation_type_id: kind,
                hospital_visit_id: visit,
                closed_due_to_discharge: m.closed_due_to_discharge,
                cancelled: m.cancelled,
                comments: notes.apply_to(current.comments.clone()),
                status_change_datetime: current.status_change_datetime,
                scheduled_datetime: m.scheduled_datetime.or(current.scheduled_datetime),
            };
            // The status change time moves only when something else changed.
            if v != current {
                v.status_change_datetime = m.status_change_datetime.or(v.status_change_datetime);
            }
            v
        }
    };
    if now == current {
        return Ok(stored.consultation_request_id);
    }
    let kept = (!newest).then_some((stored.valid_from, stored.source_ids_id));
    write(
        conn,
        Some(stored.consultation_request_id),
        epic,
        &now,
        kept,
        context,
    )
    .await
}

/// Inserts the request, or updates request `id` with its previous state audited; `kept` is the
/// provenance to keep (an older message's fill). Its id.
async fn write(
    conn: &mut PgConnection,
    id: Option<i64>,
    epic: i64,
    v: &Values,
    kept: Option<(DateTime<Utc>, Option<i64>)>,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    let (valid_from, source) = kept.unwrap_or((context.valid_from, context.source_ids_id));
    let sql = match id {
        None => format!(
            "INSERT INTO consultation_request (internal_id, {COLUMNS}, valid_from, stored_from,
                 source_ids_id)
             VALUES ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             RETURNING consultation_request_id"
        ),
        Some(_) => format!(
            "WITH audited AS (
                 INSERT INTO consultation_request_audit (consultation_request_id, internal_id,
                     {COLUMNS}, valid_from, valid_until, stored_from, stored_until,
                     source_ids_id)
                 SELECT consultation_request_id, internal_id, {COLUMNS}, valid_from,
                        greatest(valid_from, $13), stored_from, $11, source_ids_id
                 FROM consultation_request WHERE consultation_request_id = $1)
             UPDATE consultation_request SET consultation_type_id = $3,
                 hospital_visit_id = $4, closed_due_to_discharge = $5, cancelled = $6,
                 comments = $7, status_change_datetime = $8, scheduled_datetime = $9,
                 valid_from = $10, stored_from = $11, source_ids_id = $12
             WHERE consultation_request_id = $1 AND internal_id = $2
             RETURNING consultation_request_id"
        ),
    };
    let query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(epic)
        .bind(v.consultation_type_id)
        .bind(v.hospital_visit_id)
        .bind(v.closed_due_to_discharge)
        .bind(v.cancelled)
        .bind(&v.comments)
        .bind(v.status_change_datetime)
        .bind(v.scheduled_datetime)
        .bind(valid_from)
        .bind(context.stored_from)
        .bind(source);
    match id {
        None => query.fetch_one(&mut *conn).await,
        Some(_) => query.bind(context.valid_from).fetch_one(&mut *conn).await,
    }
}
