//! Lab reference data (LB2): batteries by (code, lab system), test definitions by (lab system,
//! test code) with the lab department overwritten (audited) whenever it changes, and the battery
//! elements linking them. Created as reference rows ([`crate::engine::reference`]), so lanes
//! naming the same new battery never wait for each other.

use sqlx::PgConnection;

use crate::engine::Context;
use crate::engine::reference::Connection;

/// Finds or creates a row with `sql`, whose parameters are `texts`, then `ids`, then the
/// message's valid-from, stored-from and source id; reads again in a new statement when another
/// transaction created the row meanwhile.
async fn find_or_create(
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
    let sql = "WITH found AS (
             SELECT lab_battery_id FROM lab_battery WHERE battery_code = $1 AND lab_provider = $2),
         created AS (
             INSERT INTO lab_battery (battery_code, lab_provider, valid_from, stored_from,
                                      source_ids_id)
             SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT FROM found)
             ON CONFLICT DO NOTHING RETURNING lab_battery_id)
         SELECT lab_battery_id FROM found UNION ALL SELECT lab_battery_id FROM created";
    find_or_create(conn, context, sql, &[Some(code), Some(provider)], &[]).await
}

/// The test `code` of lab system `provider`, created on first sight, linked to `battery` (LB2).
/// Its lab department is overwritten, audited, when a message names another.
pub(crate) async fn test(
    conn: &mut PgConnection,
    battery: i64,
    provider: &str,
    code: &str,
    department: Option<&str>,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    let sql = "WITH found AS (
             SELECT lab_test_definition_id FROM lab_test_definition
             WHERE lab_provider = $1 AND test_lab_code = $2),
         created AS (
             INSERT INTO lab_test_definition (lab_provider, test_lab_code, lab_department,
                                              valid_from, stored_from, source_ids_id)
             SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT FROM found)
             ON CONFLICT DO NOTHING RETURNING lab_test_definition_id)
         SELECT lab_test_definition_id FROM found
         UNION ALL SELECT lab_test_definition_id FROM created";
    let texts = [Some(provider), Some(code), department];
    let id = find_or_create(conn, context, sql, &texts, &[]).await?;
    let element = "WITH created AS (
             INSERT INTO lab_battery_element (lab_battery_id, lab_test_definition_id, valid_from,
                                              stored_from, source_ids_id)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING lab_battery_element_id)
         SELECT lab_battery_element_id FROM created
         UNION ALL SELECT lab_battery_element_id FROM lab_battery_element
         WHERE lab_battery_id = $1 AND lab_test_definition_id = $2";
    find_or_create(conn, context, element, &[], &[battery, id]).await?;
    if let Some(department) = department.filter(|d| !d.is_empty()) {
        change_department(conn, id, department, context).await?;
    }
    Ok(id)
}

/// LB2: the department a test was last reported by, the previous state audited.
async fn change_department(
    conn: &mut PgConnection,
    id: i64,
    department: &str,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH changing AS (
             SELECT * FROM lab_test_definition
             WHERE lab_test_definition_id = $1 AND lab_department IS DISTINCT FROM $2
             FOR UPDATE),
         audited AS (
             INSERT INTO lab_test_definition_audit
                 (lab_test_definition_id, lab_provider, lab_department, test_lab_code,
                  test_standard_code, standardised_vocabulary, name, valid_from, valid_until,
                  stored_from, stored_until, source_ids_id)
             SELECT lab_test_definition_id, lab_provider, lab_department, test_lab_code,
                    test_standard_code, standardised_vocabulary, name, valid_from,
                    greatest(valid_from, $3), stored_from, $4, source_ids_id
             FROM changing)
         UPDATE lab_test_definition t SET lab_department = $2,
             valid_from = greatest(t.valid_from, $3), stored_from = $4, source_ids_id = $5
         FROM changing c WHERE t.lab_test_definition_id = c.lab_test_definition_id",
    )
    .bind(id)
    .bind(department)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
