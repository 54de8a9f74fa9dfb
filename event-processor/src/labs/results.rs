//! Lab results (LB8–LB10): one per (order, test). A result is applied only if its result time
//! is not earlier than the stored `result_last_modified_datetime`, which advances only when
//! something changed (LB8). The value goes in the column its mime type names (LB9): NUMERIC →
//! `value_as_real` with `result_operator`, TEXT → `value_as_text`, PDF → `value_as_bytes`,
//! LAB_ISOLATE → none (its organism is in `lab_isolate`, [`super::isolates`]). Results a later
//! message leaves out stay (LB10). A change is audited first (G3).

use chrono::{DateTime, Utc};
use interchange::lab::{LabResultMsg, LabResultStatus, ValueType};
use sqlx::PgConnection;

use crate::engine::Context;

/// A result's values.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct Values {
    abnormal_flag: Option<String>,
    mime_type: Option<String>,
    value_as_text: Option<String>,
    value_as_real: Option<f64>,
    value_as_bytes: Option<Vec<u8>>,
    result_operator: Option<String>,
    range_high: Option<f64>,
    range_low: Option<f64>,
    result_status: Option<String>,
    units: Option<String>,
    comment: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Stored {
    lab_result_id: i64,
    result_last_modified_datetime: DateTime<Utc>,
    #[sqlx(flatten)]
    result: Values,
}

/// The star name of a mime type.
fn mime(value: ValueType) -> &'static str {
    match value {
        ValueType::Numeric => "NUMERIC",
        ValueType::Text => "TEXT",
        ValueType::Date => "DATE",
        ValueType::Time => "TIME",
        ValueType::Instant => "INSTANT",
        ValueType::Boolean => "BOOLEAN",
        ValueType::Pdf => "PDF",
        ValueType::LabIsolate => "LAB_ISOLATE",
    }
}

/// The star name of a result status.
fn status(value: LabResultStatus) -> &'static str {
    match value {
        LabResultStatus::Final => "FINAL",
        LabResultStatus::Corrected => "CORRECTED",
        LabResultStatus::Preliminary => "PRELIMINARY",
        LabResultStatus::Incomplete => "INCOMPLETE",
        LabResultStatus::ResultNotAvailable => "RESULT_NOT_AVAILABLE",
        LabResultStatus::Deleted => "DELETED",
        LabResultStatus::InvalidResult => "INVALID_RESULT",
        LabResultStatus::NonstandardValue => "NONSTANDARD_VALUE",
        LabResultStatus::Unknown => "UNKNOWN",
    }
}

impl Values {
    /// What `r` makes of `current` (LB9: only its mime type's value column holds a value).
    fn from_message(r: &LabResultMsg, current: Option<Values>) -> Values {
        let c = current.unwrap_or(Values {
            abnormal_flag: None,
            mime_type: None,
            value_as_text: None,
            value_as_real: None,
            value_as_bytes: None,
            result_operator: None,
            range_high: None,
            range_low: None,
            result_status: None,
            units: None,
            comment: None,
        });
        let kind = r.mime_type.unwrap_or(ValueType::Text);
        let (text, real, bytes, operator) = match kind {
            ValueType::Numeric => (
                None,
                r.numeric_value.clone().apply_to(c.value_as_real),
                None,
                r.result_operator.clone().or(c.result_operator),
            ),
            ValueType::Pdf => (
                None,
                None,
                r.byte_value.clone().map(|b| b.0).apply_to(c.value_as_bytes),
                None,
            ),
            ValueType::LabIsolate => (None, None, None, None),
            _ => (
                r.string_value.clone().apply_to(c.value_as_text),
                None,
                None,
                None,
            ),
        };
        Values {
            abnormal_flag: r.abnormal_flag.clone().apply_to(c.abnormal_flag),
            mime_type: Some(mime(kind).to_owned()),
            value_as_text: text,
            value_as_real: real,
            value_as_bytes: bytes,
            result_operator: operator,
            range_high: r.reference_high.clone().apply_to(c.range_high),
            range_low: r.reference_low.clone().apply_to(c.range_low),
            result_status: r
                .result_status
                .map(|s| status(s).to_owned())
                .or(c.result_status),
            units: r.units.clone().apply_to(c.units),
            comment: r.notes.clone().apply_to(c.comment),
        }
    }
}

/// When the result `r` says it was produced: its result time, else the message's.
pub(crate) fn at(r: &LabResultMsg, context: &Context<'_>) -> DateTime<Utc> {
    r.result_time.unwrap_or(context.valid_from)
}

/// The result `r` of test `test` in order `order`, created or updated (LB8–LB10); its id,
/// whether or not the message changed it.
pub(crate) async fn result(
    conn: &mut PgConnection,
    order: i64,
    test: i64,
    r: &LabResultMsg,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    let at = at(r, context);
    let stored: Option<Stored> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT lab_result_id, result_last_modified_datetime, {COLUMNS}
         FROM lab_result WHERE lab_order_id = $1 AND lab_test_definition_id = $2 FOR UPDATE"
    )))
    .bind(order)
    .bind(test)
    .fetch_optional(&mut *conn)
    .await?;
    let (id, new) = match stored {
        // LB8: an older result never overwrites a newer one.
        Some(stored) if at < stored.result_last_modified_datetime => {
            return Ok(stored.lab_result_id);
        }
        Some(stored) => {
            let new = Values::from_message(r, Some(stored.result.clone()));
            if new == stored.result {
                return Ok(stored.lab_result_id);
            }
            (Some(stored.lab_result_id), new)
        }
        None => (None, Values::from_message(r, None)),
    };
    write(conn, id, order, test, at, &new, context).await
}

/// LB11: a change to the result's isolate at `at` is a change to the result, so its last
/// modified time moves on to `at` (audited) if it is earlier.
pub(crate) async fn touch(
    conn: &mut PgConnection,
    id: i64,
    at: DateTime<Utc>,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH audited AS (
             INSERT INTO lab_result_audit (lab_result_id, lab_order_id, lab_test_definition_id,
                 result_last_modified_datetime, {COLUMNS}, valid_from, valid_until, stored_from,
                 stored_until, source_ids_id)
             SELECT lab_result_id, lab_order_id, lab_test_definition_id,
                    result_last_modified_datetime, {COLUMNS}, valid_from,
                    greatest(valid_from, $3), stored_from, $4, source_ids_id
             FROM lab_result WHERE lab_result_id = $1 AND result_last_modified_datetime < $2)
         UPDATE lab_result SET result_last_modified_datetime = $2,
             valid_from = greatest(valid_from, $3), stored_from = $4, source_ids_id = $5
         WHERE lab_result_id = $1 AND result_last_modified_datetime < $2"
    )))
    .bind(id)
    .bind(at)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The columns of [`Values`], in order.
const COLUMNS: &str = "abnormal_flag, mime_type, value_as_text, value_as_real, value_as_bytes, \
    result_operator, range_high, range_low, result_status, units, comment";

/// Inserts the result, or updates the stored one `id` with its previous state audited; the
/// result's id.
async fn write(
    conn: &mut PgConnection,
    id: Option<i64>,
    order: i64,
    test: i64,
    at: DateTime<Utc>,
    new: &Values,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    // $1 is the stored id (null for a new result): both statements bind the same parameters.
    let sql = match id {
        None => format!(
            "INSERT INTO lab_result (lab_order_id, lab_test_definition_id,
                 result_last_modified_datetime, {COLUMNS}, valid_from, stored_from,
                 source_ids_id)
             SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18
             WHERE $1::bigint IS NULL
             RETURNING lab_result_id"
        ),
        Some(_) => format!(
            "WITH audited AS (
                 INSERT INTO lab_result_audit (lab_result_id, lab_order_id,
                     lab_test_definition_id, result_last_modified_datetime, {COLUMNS},
                     valid_from, valid_until, stored_from, stored_until, source_ids_id)
                 SELECT lab_result_id, lab_order_id, lab_test_definition_id,
                        result_last_modified_datetime, {COLUMNS}, valid_from,
                        greatest(valid_from, $16), stored_from, $17, source_ids_id
                 FROM lab_result WHERE lab_result_id = $1)
             UPDATE lab_result SET result_last_modified_datetime = $4, abnormal_flag = $5,
                 mime_type = $6, value_as_text = $7, value_as_real = $8, value_as_bytes = $9,
                 result_operator = $10, range_high = $11, range_low = $12, result_status = $13,
                 units = $14, comment = $15, valid_from = greatest(valid_from, $16),
                 stored_from = $17, source_ids_id = $18
             WHERE lab_result_id = $1
             RETURNING lab_result_id"
        ),
    };
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(order)
        .bind(test)
        .bind(at)
        .bind(&new.abnormal_flag)
        .bind(&new.mime_type)
        .bind(&new.value_as_text)
        .bind(new.value_as_real)
        .bind(&new.value_as_bytes)
        .bind(&new.result_operator)
        .bind(new.range_high)
        .bind(new.range_low)
        .bind(&new.result_status)
        .bind(&new.units)
        .bind(&new.comment)
        .bind(context.valid_from)
        .bind(context.stored_from)
        .bind(context.source_ids_id)
        .fetch_one(&mut *conn)
        .await
}
