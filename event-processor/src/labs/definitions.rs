//! Lab reference data (LB2): batteries by (code, lab system), test definitions by (lab system,
//! test code) with their lab department, and the battery elements linking them. Created as
//! reference rows ([`crate::engine::reference`]), so lanes naming the same new battery never wait
//! for each other.
//!
//! Patients' messages are applied in parallel, so the order in which two patients' messages
//! reach a shared row is not fixed; a reference row must therefore be a function of the set of
//! messages naming it. Each keeps the earliest message (by hospital time, then IDS id) as its
//! provenance, and a test the department of the latest message that named one. EMAP overwrites
//! the department with whichever message arrived last (and audits it), which makes it depend on
//! arrival order; Ward keeps no audit of reference rows for the same reason.

use sqlx::PgConnection;

use crate::engine::Context;
use crate::engine::reference::Connection;

/// Runs the upsert `sql` (its parameters `texts`, then `ids`, then the message's valid-from,
/// stored-from and source id), which returns the row's id; reads again in a new statement when
/// another transaction created the row meanwhile.
async fn upsert(
    conn: &mut PgConnection,
    context: &Context<'_>,
    sql: &'static str,
    texts: &[Option<&str>],
    ids: &[i64],
) -> Result<i64, sqlx::Error> {
    let mut reference = Connection::of(conn, context).await?;
    for _ in 0..2 {
        let mut query = sqlx::query_scalar(sql);
        for text in texts {
            query = query.bind(*text);
        }
        for id in ids {
            query = query.bind(*id);
        }
        let found: Option<i64> = query
            .bind(context.valid_from)
            .bind(context.stored_from)
            .bind(context.source_ids_id)
            .fetch_optional(reference.get())
            .await?;
        if let Some(id) = found {
            return Ok(id);
        }
    }
    Err(sqlx::Error::RowNotFound)
}

/// The battery `code` of lab system `provider`, created on first sight.
pub(crate) async fn battery(
    conn: &mut PgConnection,
    code: &str,
    provider: &str,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    let sql = "WITH up AS (
             INSERT INTO lab_battery AS t (battery_code, lab_provider, valid_from, stored_from,
                                           source_ids_id)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (battery_code, lab_provider) DO UPDATE
                 SET valid_from = excluded.valid_from, stored_from = excluded.stored_from,
                     source_ids_id = excluded.source_ids_id
                 WHERE (excluded.valid_from, coalesce(excluded.source_ids_id, ''))
                     < (t.valid_from, coalesce(t.source_ids_id, ''))
             RETURNING lab_battery_id)
         SELECT lab_battery_id FROM up
         UNION ALL
         SELECT lab_battery_id FROM lab_battery
         WHERE battery_code = $1 AND lab_provider = $2 AND NOT EXISTS (SELECT FROM up)";
    upsert(conn, context, sql, &[Some(code), Some(provider)], &[]).await
}

/// The test `code` of lab system `provider`, created on first sight, with the department of
/// the latest message naming one, and linked to `battery` (LB2).
pub(crate) async fn test(
    conn: &mut PgConnection,
    battery: i64,
    provider: &str,
    code: &str,
    department: Option<&str>,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    let sql = "WITH up AS (
             INSERT INTO lab_test_definition AS t (lab_provider, test_lab_code, lab_department,
                 lab_department_valid_from, valid_from, stored_from, source_ids_id)
             VALUES ($1, $2, $3, CASE WHEN $3::text IS NULL THEN NULL ELSE $4 END, $4, $5, $6)
             ON CONFLICT (lab_provider, test_lab_code) DO UPDATE SET
                 lab_department = CASE WHEN newer_department THEN excluded.lab_department
                                       ELSE t.lab_department END,
                 lab_department_valid_from = CASE WHEN newer_department
                     THEN excluded.lab_department_valid_from ELSE t.lab_department_valid_from END,
                 valid_from = CASE WHEN earlier THEN excluded.valid_from ELSE t.valid_from END,
                 stored_from = excluded.stored_from,
                 source_ids_id = CASE WHEN earlier THEN excluded.source_ids_id
                                      ELSE t.source_ids_id END
                 WHERE newer_department OR earlier
             RETURNING lab_test_definition_id)
         SELECT lab_test_definition_id FROM up
         UNION ALL
         SELECT lab_test_definition_id FROM lab_test_definition
         WHERE lab_provider = $1 AND test_lab_code = $2 AND NOT EXISTS (SELECT FROM up)";
    // `newer_department` and `earlier` are spelled out where they are used.
    let newer_department = "(excluded.lab_department IS NOT NULL AND (t.lab_department IS NULL \
        OR (excluded.lab_department_valid_from, excluded.lab_department) \
           > (t.lab_department_valid_from, t.lab_department)))";
    let earlier = "((excluded.valid_from, coalesce(excluded.source_ids_id, '')) \
        < (t.valid_from, coalesce(t.source_ids_id, '')))";
    let sql: &'static str = STATEMENTS
        .get_or_init(|| {
            sql.replace("newer_department", newer_department)
                .replace("earlier", earlier)
        })
        .as_str();
    let texts = [
        Some(provider),
        Some(code),
        department.filter(|d| !d.is_empty()),
    ];
    let id = upsert(conn, context, sql, &texts, &[]).await?;
    let element = "WITH up AS (
             INSERT INTO lab_battery_element AS t (lab_battery_id, lab_test_definition_id,
                                                   valid_from, stored_from, source_ids_id)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (lab_battery_id, lab_test_definition_id) DO UPDATE
                 SET valid_from = excluded.valid_from, stored_from = excluded.stored_from,
                     source_ids_id = excluded.source_ids_id
                 WHERE (excluded.valid_from, coalesce(excluded.source_ids_id, ''))
                     < (t.valid_from, coalesce(t.source_ids_id, ''))
             RETURNING lab_battery_element_id)
         SELECT lab_battery_element_id FROM up
         UNION ALL
         SELECT lab_battery_element_id FROM lab_battery_element
         WHERE lab_battery_id = $1 AND lab_test_definition_id = $2 AND NOT EXISTS (SELECT FROM up)";
    upsert(conn, context, element, &[], &[battery, id]).await?;
    Ok(id)
}

/// The test definition statement, with its conditions written out once.
static STATEMENTS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
