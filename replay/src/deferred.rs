//! Loading an empty schema without its foreign keys and audit indexes, as pg_restore does.
//!
//! Every inserted row costs a query per foreign key and a b-tree insert per secondary index; in
//! a replay that was a quarter of the work. Nobody else writes to or should read a replay's
//! target before it finishes (promote refuses an unfinished replay), so a replay into an empty
//! schema drops the foreign keys and the audit tables' secondary indexes (which the processor
//! never reads) before loading, and re-creates them, validating every row, in the transaction
//! that marks the replay finished. What it drops is written to `replay_deferred` in the same
//! transaction as the drops, so a replay interrupted in between restores it when it finishes.
//!
//! The foreign keys to `location` go too: lanes create a new place in a transaction of its own,
//! committed before any lane names it (`event_processor` `locations::place`), so no lane can
//! hold the id of a place that is then rolled back.

use sqlx::PgPool;

/// Records and drops the target's foreign keys and audit-table secondary indexes; returns how
/// many. The pool's `search_path` puts the target first.
pub(crate) async fn defer(pool: &PgPool) -> Result<usize, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let target: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&mut *tx)
        .await?;
    // With only pg_catalog on the path, the definitions name every table with its schema.
    sqlx::query("SET LOCAL search_path = pg_catalog")
        .execute(&mut *tx)
        .await?;
    let deferred: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT format('%I.%I', n.nspname, c.relname), con.conname,
                format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s',
                       n.nspname, c.relname, con.conname, pg_get_constraintdef(con.oid)),
                format('ALTER TABLE %I.%I DROP CONSTRAINT %I', n.nspname, c.relname, con.conname)
         FROM pg_constraint con
         JOIN pg_class c ON c.oid = con.conrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE con.contype = 'f' AND n.nspname = $1
         UNION ALL
         SELECT format('%I.%I', n.nspname, c.relname), ic.relname,
                pg_get_indexdef(i.indexrelid),
                format('DROP INDEX %I.%I', n.nspname, ic.relname)
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indrelid
         JOIN pg_class ic ON ic.oid = i.indexrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relname LIKE '%\\_audit'
           AND NOT i.indisprimary AND NOT i.indisunique
         ORDER BY 1, 2",
    )
    .bind(&target)
    .fetch_all(&mut *tx)
    .await?;
    for (table, name, definition, drop) in &deferred {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {}.replay_deferred (table_name, name, definition) VALUES ($1, $2, $3)",
            quote(&target)
        )))
        .bind(table)
        .bind(name)
        .bind(definition)
        .execute(&mut *tx)
        .await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(drop.clone()))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(deferred.len())
}

/// Re-creates what [`defer`] dropped, in the caller's transaction (the one that marks the
/// replay finished); returns how many. A row that breaks a foreign key fails it, and with it
/// the finish, naming the constraint.
pub(crate) async fn restore(conn: &mut sqlx::PgConnection) -> Result<usize, sqlx::Error> {
    let definitions: Vec<String> =
        sqlx::query_scalar("SELECT definition FROM replay_deferred ORDER BY replay_deferred_id")
            .fetch_all(&mut *conn)
            .await?;
    if !definitions.is_empty() {
        // Validating every row takes a while on a large schema: say why the end waits.
        tracing::info!(
            count = definitions.len(),
            "Re-creating the foreign keys and indexes dropped for loading"
        );
    }
    for definition in &definitions {
        sqlx::raw_sql(sqlx::AssertSqlSafe(definition.clone()))
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("DELETE FROM replay_deferred")
        .execute(&mut *conn)
        .await?;
    Ok(definitions.len())
}

/// A schema name as an SQL identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
