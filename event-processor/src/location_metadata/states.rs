//! The chain of states of one department, room or bed: each state holds from its valid-from
//! until the next one's, whatever order they arrived in. A state closed (or reopened) by this
//! message records when the warehouse learnt it (`stored_until`).

use sqlx::PgConnection;

use crate::engine::Context;

/// Re-links the states in `table` (`department_state`, `room_state`, `bed_state`) of the
/// parent `parent_column = parent`.
pub(crate) async fn chain(
    conn: &mut PgConnection,
    table: &'static str,
    parent_column: &'static str,
    parent: i64,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH ordered AS (
             SELECT {table}_id AS id,
                    lead(valid_from) OVER (ORDER BY valid_from, {table}_id) AS next
             FROM {table} WHERE {parent_column} = $1)
         UPDATE {table} s SET valid_until = o.next,
             stored_until = CASE WHEN o.next IS NULL THEN NULL ELSE $2 END
         FROM ordered o
         WHERE s.{table}_id = o.id AND s.valid_until IS DISTINCT FROM o.next"
    )))
    .bind(parent)
    .bind(context.stored_from)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
