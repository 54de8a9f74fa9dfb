//! Departments (`DepartmentMetadata`, and the department a location names): a reference row by
//! Epic's department id, created bare by whichever message names it first; its HL7 name and name
//! are the newest metadata's (ties by name). Its states (record status and speciality) are keyed
//! by when they began: a message whose speciality changed at `speciality_update` states the
//! speciality from then, and the previous one from its contact date — which only the earliest
//! change after the contact date can say, so any arrival order ends with the same chain (LM4).
//! A department with an HL7 name gets its department-only location, `<dept>^null^null`.

use chrono::{DateTime, Utc};
use interchange::location::{DepartmentMetadata, EpicRecordStatus};
use sqlx::PgConnection;

use super::{link_location, states};
use crate::engine::places::place;
use crate::engine::{Context, ProcessError, reject};

/// The department with Epic id `internal_id`, created bare on first sight.
pub(crate) async fn department(
    conn: &mut PgConnection,
    internal_id: &str,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "WITH found AS (SELECT department_id FROM department WHERE internal_id = $1),
         created AS (
             INSERT INTO department (internal_id, stored_from, source_ids_id)
             SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT FROM found)
             RETURNING department_id)
         SELECT department_id FROM found UNION ALL SELECT department_id FROM created",
    )
    .bind(internal_id)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .fetch_one(&mut *conn)
    .await
}

/// Epic's record status as stored: its name (`ACTIVE`, `DELETED_AND_HIDDEN`…).
pub(crate) fn status(status: Option<EpicRecordStatus>) -> Option<String> {
    let value = serde_json::to_value(status?).ok()?;
    value.as_str().map(str::to_owned)
}

/// Applies one department metadata message.
pub(crate) async fn metadata(
    conn: &mut PgConnection,
    m: &DepartmentMetadata,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let Some(internal_id) = m.department_id.as_deref().filter(|d| !d.is_empty()) else {
        return Err(reject(
            "LM4",
            "department metadata without Epic's department id",
        ));
    };
    let id = department(conn, internal_id, context).await?;
    sqlx::query(
        "UPDATE department SET hl7_string = $2, name = $3, name_valid_from = $4
         WHERE department_id = $1
           AND (name_valid_from IS NULL
                OR (name_valid_from, coalesce(name, '')) < ($4, coalesce($3, '')))",
    )
    .bind(id)
    .bind(&m.department_hl7)
    .bind(&m.department_name)
    .bind(context.valid_from)
    .execute(&mut *conn)
    .await?;
    if let Some(hl7) = m
        .department_hl7
        .as_deref()
        .filter(|h| !h.is_empty() && *h != "null")
    {
        let location = place(conn, &format!("{hl7}^null^null"), context).await?;
        link_location(conn, location.id, Some(id), None, None).await?;
    }
    let status = status(m.department_record_status);
    let began = m.department_contact_date.unwrap_or(context.valid_from);
    match (m.speciality_update, &m.previous_department_speciality) {
        (Some(changed), Some(previous)) if changed > began => {
            let speciality = m.department_speciality.as_deref();
            state(conn, id, changed, &status, speciality, true, context).await?;
            // Only the earliest change after the contact date knows what held before it.
            let first_change: Option<DateTime<Utc>> = sqlx::query_scalar(
                "SELECT min(valid_from) FROM department_state
                 WHERE department_id = $1 AND valid_from > $2",
            )
            .bind(id)
            .bind(began)
            .fetch_one(&mut *conn)
            .await?;
            let replace = first_change == Some(changed);
            state(conn, id, began, &status, Some(previous), replace, context).await?;
        }
        _ => {
            let speciality = m.department_speciality.as_deref();
            state(conn, id, began, &status, speciality, true, context).await?;
        }
    }
    states::chain(conn, "department_state", "department_id", id, context).await?;
    Ok(())
}

/// The state of department `id` from `from`, created with these values, or given them if it
/// exists and `replace`.
async fn state(
    conn: &mut PgConnection,
    id: i64,
    from: DateTime<Utc>,
    status: &Option<String>,
    speciality: Option<&str>,
    replace: bool,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO department_state AS s (department_id, status, speciality, valid_from,
             stored_from, source_ids_id)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (department_id, valid_from) DO UPDATE SET
             status = excluded.status, speciality = excluded.speciality,
             stored_from = excluded.stored_from, source_ids_id = excluded.source_ids_id
         WHERE $7
           AND (s.status, s.speciality) IS DISTINCT FROM (excluded.status, excluded.speciality)",
    )
    .bind(id)
    .bind(status)
    .bind(speciality)
    .bind(from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .bind(replace)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
