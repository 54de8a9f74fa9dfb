//! Reference rows shared by every patient (places, lab batteries, test definitions): where a
//! family creates them. In a lane a new reference row is created and committed at once on a
//! connection of its own, so no lane holds a reference row another lane's transaction might yet
//! roll back: lanes naming the same new row neither wait for nor deadlock with each other. A row
//! named by a message that is then refused stays, as every other reference row seen — the same
//! in the live schema and a replay. Outside a lane it is created in the message's transaction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres};

use super::Context;

/// A reference row as last written or read: its id and the times its values hang on (its
/// provenance's valid-from and source, and one more a family may use, such as when a test's
/// department was given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cached {
    pub id: i64,
    pub valid_from: DateTime<Utc>,
    pub source: Option<i64>,
    pub also: Option<DateTime<Utc>>,
    /// A yes/no value a family may use, such as whether a flowsheet type was seen live.
    pub flag: bool,
}

/// Reference rows by table and key, so a message that would change nothing in a row spares
/// its round trips. Only rows committed on their own connection (in a lane) are kept, so no
/// cached id can be rolled back; the processor clears the cache with its places.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cache(Arc<Mutex<HashMap<(&'static str, String), Cached>>>);

impl Cache {
    pub(crate) fn get(&self, table: &'static str, key: &str) -> Option<Cached> {
        self.0.lock().ok()?.get(&(table, key.to_owned())).cloned()
    }

    pub(crate) fn put(&self, table: &'static str, key: String, row: Cached) {
        if let Ok(mut rows) = self.0.lock() {
            rows.insert((table, key), row);
        }
    }

    /// Forgets one row, when a message deleted or merged it away.
    pub(crate) fn forget(&self, table: &'static str, key: &str) {
        if let Ok(mut rows) = self.0.lock() {
            rows.remove(&(table, key.to_owned()));
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut rows) = self.0.lock() {
            rows.clear();
        }
    }
}

/// The connection a reference row is created on.
pub(crate) enum Connection<'c> {
    /// Of its own, each statement committed at once (in a lane).
    Own(PoolConnection<Postgres>),
    /// The message's (outside a lane).
    Message(&'c mut PgConnection),
}

impl Connection<'_> {
    /// The connection for `context`'s message.
    pub(crate) async fn of<'c>(
        conn: &'c mut PgConnection,
        context: &Context<'_>,
    ) -> Result<Connection<'c>, sqlx::Error> {
        Ok(match context.places_pool {
            Some(pool) => Connection::Own(pool.acquire().await?),
            None => Connection::Message(conn),
        })
    }

    /// Whether what is written here is committed at once (and so may be cached).
    pub(crate) fn commits(&self) -> bool {
        matches!(self, Connection::Own(_))
    }

    pub(crate) fn get(&mut self) -> &mut PgConnection {
        match self {
            Connection::Own(own) => own,
            Connection::Message(conn) => conn,
        }
    }
}

/// The row of `table` whose `key_column` is `key`, created on first sight: a reference row whose
/// provenance (valid-from, source) is the earliest message naming it, so the order patients'
/// messages reach it does not matter. Its id is cached once committed; a message older than the
/// cached provenance goes to the database to move it back.
pub(crate) async fn earliest_row(
    conn: &mut PgConnection,
    table: &'static str,
    key_column: &'static str,
    key: &str,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    if let Some(cached) = context.reference.get(table, key)
        && cached.valid_from <= context.valid_from
    {
        return Ok(cached.id);
    }
    let mut reference = Connection::of(conn, context).await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {table} AS t ({key_column}, valid_from, stored_from, source_ids_id)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT ({key_column}) DO UPDATE SET
             valid_from = least(t.valid_from, excluded.valid_from),
             source_ids_id = CASE
                 WHEN (excluded.valid_from, coalesce(excluded.source_ids_id, 0))
                      < (t.valid_from, coalesce(t.source_ids_id, 0))
                 THEN excluded.source_ids_id ELSE t.source_ids_id END,
             stored_from = CASE WHEN excluded.valid_from < t.valid_from
                           THEN excluded.stored_from ELSE t.stored_from END
         RETURNING {table}_id, valid_from, source_ids_id"
    )))
    .bind(key)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .fetch_one(reference.get())
    .await?;
    let id: i64 = row.try_get(0)?;
    if reference.commits() {
        let cached = Cached {
            id,
            valid_from: row.try_get(1)?,
            source: row.try_get(2)?,
            also: None,
            flag: false,
        };
        context.reference.put(table, key.to_owned(), cached);
    }
    Ok(id)
}
