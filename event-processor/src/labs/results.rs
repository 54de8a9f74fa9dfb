//! Lab results (LB8–LB10): one per (order, test). A result is applied only if its result time
//! is not earlier than the stored `result_last_modified_datetime`, which advances only when
//! something changed (LB8). The value goes in the column its mime type names (LB9): NUMERIC →
//! `value_as_real` with `result_operator`, TEXT → `value_as_text`, PDF → `value_as_bytes`,
//! LAB_ISOLATE → none (its organism is in `lab_isolate`, [`super::isolates`]). Results a later
//! message leaves out stay (LB10). A change is audited first (G3).

use chrono::{DateTime, Utc};
use interchange::lab::{LabResultMsg, LabResultStatus, ValueType};
use sqlx::{PgConnection, Row as _};

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

/// The results `rs` (each with its test) of order `order`, created or updated (LB8–LB10) in
/// two round trips whatever their number: one read of the stored rows, one statement writing
/// the new ones and one the changed ones (each audited first). Several results of one test in
/// a message are applied in turn, as one change. Each result's id, in `rs`'s order.
pub(crate) async fn results(
    conn: &mut PgConnection,
    order: i64,
    rs: &[(i64, &LabResultMsg)],
    context: &Context<'_>,
) -> Result<Vec<i64>, sqlx::Error> {
    if rs.is_empty() {
        return Ok(Vec::new());
    }
    let tests: Vec<i64> = rs.iter().map(|(test, _)| *test).collect();
    let stored: Vec<(i64, Stored)> = sqlx::query_as::<_, StoredOf>(sqlx::AssertSqlSafe(format!(
        "SELECT lab_test_definition_id, lab_result_id, result_last_modified_datetime, {COLUMNS}
         FROM lab_result WHERE lab_order_id = $1 AND lab_test_definition_id = ANY($2)
         ORDER BY lab_result_id FOR UPDATE"
    )))
    .bind(order)
    .bind(&tests)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|row| (row.lab_test_definition_id, row.stored))
    .collect();
    // Per test: the stored row (if any) and what the message makes of it.
    let mut rows: Vec<Row> = stored
        .into_iter()
        .map(|(test, stored)| Row {
            test,
            id: Some(stored.lab_result_id),
            at: stored.result_last_modified_datetime,
            before: Some(stored.result.clone()),
            now: stored.result,
        })
        .collect();
    for (test, r) in rs {
        let at = at(r, context);
        match rows.iter_mut().find(|row| row.test == *test) {
            // LB8: an older result never overwrites a newer one.
            Some(row) if at < row.at => {}
            Some(row) => {
                let now = Values::from_message(r, Some(row.now.clone()));
                if now != row.now {
                    row.now = now;
                    row.at = at;
                }
            }
            None => rows.push(Row {
                test: *test,
                id: None,
                at,
                before: None,
                now: Values::from_message(r, None),
            }),
        }
    }
    let fresh: Vec<&Row> = rows.iter().filter(|r| r.id.is_none()).collect();
    let changed: Vec<&Row> = rows
        .iter()
        .filter(|r| r.id.is_some() && r.before.as_ref() != Some(&r.now))
        .collect();
    let mut ids: Vec<(i64, i64)> = rows
        .iter()
        .filter_map(|r| r.id.map(|id| (r.test, id)))
        .collect();
    if !fresh.is_empty() {
        ids.extend(insert(conn, order, &fresh, context).await?);
    }
    if !changed.is_empty() {
        update(conn, &changed, context).await?;
    }
    tests
        .iter()
        .map(|test| {
            ids.iter()
                .find(|(t, _)| t == test)
                .map(|(_, id)| *id)
                .ok_or(sqlx::Error::RowNotFound)
        })
        .collect()
}

/// A result row as the message leaves it.
struct Row {
    test: i64,
    id: Option<i64>,
    at: DateTime<Utc>,
    before: Option<Values>,
    now: Values,
}

#[derive(sqlx::FromRow)]
struct StoredOf {
    lab_test_definition_id: i64,
    #[sqlx(flatten)]
    stored: Stored,
}

/// The columns of `rows`, as arrays for `unnest`.
struct Columns {
    tests: Vec<i64>,
    ids: Vec<Option<i64>>,
    at: Vec<DateTime<Utc>>,
    abnormal_flag: Vec<Option<String>>,
    mime_type: Vec<Option<String>>,
    value_as_text: Vec<Option<String>>,
    value_as_real: Vec<Option<f64>>,
    value_as_bytes: Vec<Option<Vec<u8>>>,
    result_operator: Vec<Option<String>>,
    range_high: Vec<Option<f64>>,
    range_low: Vec<Option<f64>>,
    result_status: Vec<Option<String>>,
    units: Vec<Option<String>>,
    comment: Vec<Option<String>>,
}

impl Columns {
    fn of(rows: &[&Row]) -> Columns {
        let take = |f: fn(&Values) -> Option<String>| rows.iter().map(|r| f(&r.now)).collect();
        Columns {
            tests: rows.iter().map(|r| r.test).collect(),
            ids: rows.iter().map(|r| r.id).collect(),
            at: rows.iter().map(|r| r.at).collect(),
            abnormal_flag: take(|v| v.abnormal_flag.clone()),
            mime_type: take(|v| v.mime_type.clone()),
            value_as_text: take(|v| v.value_as_text.clone()),
            value_as_real: rows.iter().map(|r| r.now.value_as_real).collect(),
            value_as_bytes: rows.iter().map(|r| r.now.value_as_bytes.clone()).collect(),
            result_operator: take(|v| v.result_operator.clone()),
            range_high: rows.iter().map(|r| r.now.range_high).collect(),
            range_low: rows.iter().map(|r| r.now.range_low).collect(),
            result_status: take(|v| v.result_status.clone()),
            units: take(|v| v.units.clone()),
            comment: take(|v| v.comment.clone()),
        }
    }

    /// Binds the arrays as $1…$14 of `query`.
    fn bind<'q>(
        self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        query
            .bind(self.tests)
            .bind(self.ids)
            .bind(self.at)
            .bind(self.abnormal_flag)
            .bind(self.mime_type)
            .bind(self.value_as_text)
            .bind(self.value_as_real)
            .bind(self.value_as_bytes)
            .bind(self.result_operator)
            .bind(self.range_high)
            .bind(self.range_low)
            .bind(self.result_status)
            .bind(self.units)
            .bind(self.comment)
    }
}

/// The rows as a table: test, id, result time, then [`COLUMNS`].
const NEW_ROWS: &str = "SELECT * FROM unnest($1::int8[], $2::int8[], $3::timestamptz[],
         $4::text[], $5::text[], $6::text[], $7::float8[], $8::bytea[], $9::text[],
         $10::float8[], $11::float8[], $12::text[], $13::text[], $14::text[])
     AS n(test, id, at, abnormal_flag, mime_type, value_as_text, value_as_real, value_as_bytes,
          result_operator, range_high, range_low, result_status, units, comment)";

/// Inserts new results of `order`: their (test, id).
async fn insert(
    conn: &mut PgConnection,
    order: i64,
    rows: &[&Row],
    context: &Context<'_>,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    let sql = format!(
        "INSERT INTO lab_result (lab_order_id, lab_test_definition_id,
             result_last_modified_datetime, {COLUMNS}, valid_from, stored_from, source_ids_id)
         SELECT $15, n.test, n.at, {COLUMNS}, $16, $17, $18 FROM ({NEW_ROWS}) n
         RETURNING lab_test_definition_id, lab_result_id"
    );
    Columns::of(rows)
        .bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
        .bind(order)
        .bind(context.valid_from)
        .bind(context.stored_from)
        .bind(context.source_ids_id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}

/// Updates changed results, each previous state audited first. Planned afresh each time (not
/// prepared): a plan cached while `lab_result` was small scans it whole once it is large, and
/// `= ANY` of the ids, besides the join, lets the planner find the rows by key.
async fn update(
    conn: &mut PgConnection,
    rows: &[&Row],
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "WITH n AS ({NEW_ROWS}),
         audited AS (
             INSERT INTO lab_result_audit (lab_result_id, lab_order_id, lab_test_definition_id,
                 result_last_modified_datetime, {COLUMNS}, valid_from, valid_until,
                 stored_from, stored_until, source_ids_id)
             SELECT r.lab_result_id, r.lab_order_id, r.lab_test_definition_id,
                    r.result_last_modified_datetime, {AUDITED}, r.valid_from,
                    greatest(r.valid_from, $15), r.stored_from, $16, r.source_ids_id
             FROM lab_result r JOIN n ON r.lab_result_id = n.id
             WHERE r.lab_result_id = ANY($2::int8[]))
         UPDATE lab_result r SET result_last_modified_datetime = n.at,
             abnormal_flag = n.abnormal_flag, mime_type = n.mime_type,
             value_as_text = n.value_as_text, value_as_real = n.value_as_real,
             value_as_bytes = n.value_as_bytes, result_operator = n.result_operator,
             range_high = n.range_high, range_low = n.range_low,
             result_status = n.result_status, units = n.units, comment = n.comment,
             valid_from = greatest(r.valid_from, $15), stored_from = $16, source_ids_id = $17
         FROM n WHERE r.lab_result_id = n.id AND r.lab_result_id = ANY($2::int8[])"
    );
    Columns::of(rows)
        .bind(sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false))
        .bind(context.valid_from)
        .bind(context.stored_from)
        .bind(context.source_ids_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// [`COLUMNS`] of the stored row `r`, as an audit copies them.
const AUDITED: &str = "r.abnormal_flag, r.mime_type, r.value_as_text, r.value_as_real, \
    r.value_as_bytes, r.result_operator, r.range_high, r.range_low, r.result_status, r.units, \
    r.comment";

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
