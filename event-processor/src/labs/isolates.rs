//! Microbiology isolates and their sensitivities (LB11).
//!
//! An isolate is keyed by its result and the lab's isolate id; a sensitivity by its isolate and
//! agent (a sensitivity without an agent is skipped). Each is created when new; a message not
//! older than the stored row replaces what it says, an older one only fills what the row lacks
//! (the labs family's `fill` rule, so arrival order does not matter). A changed isolate moves
//! its result's last-modified time on. A sensitivity's reporting time is when its value was
//! reported: it moves on only when the value changes, and back when an older message reports
//! the same value. Every change is audited first.

use chrono::{DateTime, Utc};
use interchange::lab::{LabIsolateMsg, LabResultMsg};
use sqlx::PgConnection;

use super::results;
use crate::engine::Context;
use crate::engine::fill;

/// An isolate's values.
#[derive(Debug, Clone, PartialEq, Default, sqlx::FromRow)]
struct Isolate {
    isolate_code: Option<String>,
    isolate_name: Option<String>,
    culture_type: Option<String>,
    quantity: Option<String>,
    clinical_information: Option<String>,
}

#[derive(sqlx::FromRow)]
struct StoredIsolate {
    lab_isolate_id: i64,
    valid_from: DateTime<Utc>,
    #[sqlx(flatten)]
    values: Isolate,
}

/// The columns of [`Isolate`], in order.
const ISOLATE_COLUMNS: &str =
    "isolate_code, isolate_name, culture_type, quantity, clinical_information";

impl Isolate {
    fn from_message(m: &LabIsolateMsg, current: Isolate, newer: bool) -> Isolate {
        let named = |value: &Option<String>, current: Option<String>| match value {
            Some(v) if newer || current.is_none() => Some(v.clone()),
            _ => current,
        };
        Isolate {
            isolate_code: named(&m.isolate_code, current.isolate_code),
            isolate_name: named(&m.isolate_name, current.isolate_name),
            culture_type: fill(&m.culture_type, current.culture_type, newer),
            quantity: fill(&m.quantity, current.quantity, newer),
            clinical_information: fill(
                &m.clinical_information,
                current.clinical_information,
                newer,
            ),
        }
    }
}

/// The isolate of result `result` (reported at `at`) and its sensitivities, created or updated.
pub(crate) async fn isolate(
    conn: &mut PgConnection,
    result: i64,
    m: &LabIsolateMsg,
    at: DateTime<Utc>,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    let internal_id = m.isolate_id.as_deref().unwrap_or_default();
    let stored: Option<StoredIsolate> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT lab_isolate_id, valid_from, {ISOLATE_COLUMNS} FROM lab_isolate
         WHERE lab_result_id = $1 AND lab_internal_id = $2 FOR UPDATE"
    )))
    .bind(result)
    .bind(internal_id)
    .fetch_optional(&mut *conn)
    .await?;
    let id = match stored {
        None => {
            let new = Isolate::from_message(m, Isolate::default(), true);
            let id = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "INSERT INTO lab_isolate (lab_result_id, lab_internal_id, {ISOLATE_COLUMNS},
                     valid_from, stored_from, source_ids_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 RETURNING lab_isolate_id"
            )))
            .bind(result)
            .bind(internal_id)
            .bind(&new.isolate_code)
            .bind(&new.isolate_name)
            .bind(&new.culture_type)
            .bind(&new.quantity)
            .bind(&new.clinical_information)
            .bind(context.valid_from)
            .bind(context.stored_from)
            .bind(context.source_ids_id)
            .fetch_one(&mut *conn)
            .await?;
            results::touch(conn, result, at, context).await?;
            id
        }
        Some(stored) => {
            let newer = context.valid_from >= stored.valid_from;
            let new = Isolate::from_message(m, stored.values.clone(), newer);
            if new != stored.values {
                update_isolate(conn, stored.lab_isolate_id, &new, context).await?;
                results::touch(conn, result, at, context).await?;
            }
            stored.lab_isolate_id
        }
    };
    for sensitivity in &m.sensitivities {
        self::sensitivity(conn, id, sensitivity, at, context).await?;
    }
    Ok(())
}

/// Replaces the isolate `id`'s values with `new`, its previous state audited.
async fn update_isolate(
    conn: &mut PgConnection,
    id: i64,
    new: &Isolate,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH audited AS (
             INSERT INTO lab_isolate_audit (lab_isolate_id, lab_result_id, lab_internal_id,
                 {ISOLATE_COLUMNS}, valid_from, valid_until, stored_from, stored_until,
                 source_ids_id)
             SELECT lab_isolate_id, lab_result_id, lab_internal_id, {ISOLATE_COLUMNS},
                    valid_from, greatest(valid_from, $7), stored_from, $8, source_ids_id
             FROM lab_isolate WHERE lab_isolate_id = $1)
         UPDATE lab_isolate SET isolate_code = $2, isolate_name = $3, culture_type = $4,
             quantity = $5, clinical_information = $6, valid_from = greatest(valid_from, $7),
             stored_from = $8, source_ids_id = $9
         WHERE lab_isolate_id = $1"
    )))
    .bind(id)
    .bind(&new.isolate_code)
    .bind(&new.isolate_name)
    .bind(&new.culture_type)
    .bind(&new.quantity)
    .bind(&new.clinical_information)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct StoredSensitivity {
    lab_sensitivity_id: i64,
    sensitivity: Option<String>,
    reporting_datetime: Option<DateTime<Utc>>,
    valid_from: DateTime<Utc>,
}

/// The sensitivity `s` of isolate `isolate`, reported at `at`, created or updated.
async fn sensitivity(
    conn: &mut PgConnection,
    isolate: i64,
    s: &LabResultMsg,
    at: DateTime<Utc>,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    let Some(agent) = s.string_value.saved().filter(|a| !a.is_empty()) else {
        return Ok(());
    };
    let stored: Option<StoredSensitivity> = sqlx::query_as(
        "SELECT lab_sensitivity_id, sensitivity, reporting_datetime, valid_from
         FROM lab_sensitivity WHERE lab_isolate_id = $1 AND agent = $2 FOR UPDATE",
    )
    .bind(isolate)
    .bind(agent)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(stored) = stored else {
        sqlx::query(
            "INSERT INTO lab_sensitivity (lab_isolate_id, agent, sensitivity, reporting_datetime,
                 valid_from, stored_from, source_ids_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(isolate)
        .bind(agent)
        .bind(s.abnormal_flag.clone().apply_to(None))
        .bind(at)
        .bind(context.valid_from)
        .bind(context.stored_from)
        .bind(context.source_ids_id)
        .execute(&mut *conn)
        .await?;
        return Ok(());
    };
    let newer = context.valid_from >= stored.valid_from;
    let value = fill(&s.abnormal_flag, stored.sensitivity.clone(), newer);
    let said = s.abnormal_flag.clone().apply_to(stored.sensitivity.clone());
    let reported = if value != stored.sensitivity
        || (said == stored.sensitivity && stored.reporting_datetime.is_none_or(|r| at < r))
    {
        // A new value, or the same value reported earlier than we knew.
        Some(at)
    } else {
        stored.reporting_datetime
    };
    if value == stored.sensitivity && reported == stored.reporting_datetime {
        return Ok(());
    }
    sqlx::query(
        "WITH audited AS (
             INSERT INTO lab_sensitivity_audit (lab_sensitivity_id, lab_isolate_id, agent,
                 sensitivity, reporting_datetime, valid_from, valid_until, stored_from,
                 stored_until, source_ids_id)
             SELECT lab_sensitivity_id, lab_isolate_id, agent, sensitivity, reporting_datetime,
                    valid_from, greatest(valid_from, $4), stored_from, $5, source_ids_id
             FROM lab_sensitivity WHERE lab_sensitivity_id = $1)
         UPDATE lab_sensitivity SET sensitivity = $2, reporting_datetime = $3,
             valid_from = greatest(valid_from, $4), stored_from = $5, source_ids_id = $6
         WHERE lab_sensitivity_id = $1",
    )
    .bind(stored.lab_sensitivity_id)
    .bind(&value)
    .bind(reported)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
