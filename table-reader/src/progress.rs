//! The table-reader's durable state in Ward's database (schema `reader`): each query's
//! position, the messages it published and the rows it could not map. One page's worth is
//! written in one transaction after the broker confirmed the page, so after a crash the reader
//! resumes after the last confirmed page: no row is skipped, and at most that page is
//! published again (the processor is idempotent).

use sqlx::PgPool;

use crate::cell::{Cell, Position};

/// Which position: a query's continuous read, or one `--from`/`--until` window of it.
#[derive(Debug, Clone, Copy)]
pub struct Slot<'a> {
    /// Source name.
    pub source: &'a str,
    /// Query name.
    pub query: &'a str,
    /// `""`, or `from..until` for a window.
    pub window: &'a str,
}

/// A published message to keep.
#[derive(Debug)]
pub struct Kept {
    /// `source/query/key`.
    pub message_id: String,
    /// Interchange class.
    pub class: &'static str,
    /// The JSON published.
    pub body: Vec<u8>,
}

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProgressError {
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A stored position that does not read back (changed by hand?).
    #[error("reader.table_progress for {0} holds a position that cannot be read")]
    Corrupt(String),
    /// A row's ordering value or key has a type that cannot be stored as a position.
    #[error(
        "the order_by or key column has a type that cannot order rows (use an integer, text, date or timestamp)"
    )]
    Unorderable,
    /// A published message body that is not UTF-8 (cannot happen: the interchange writes it).
    #[error("a published message is not UTF-8: {0}")]
    Body(#[from] std::str::Utf8Error),
}

/// Where `slot` stopped, if it has started.
pub async fn load(pool: &PgPool, slot: Slot<'_>) -> Result<Option<Position>, ProgressError> {
    let row: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT order_kind, order_value, key_kind, key_value FROM reader.table_progress
         WHERE source = $1 AND query = $2 AND run_window = $3",
    )
    .bind(slot.source)
    .bind(slot.query)
    .bind(slot.window)
    .fetch_optional(pool)
    .await?;
    let Some((order_kind, order_value, key_kind, key_value)) = row else {
        return Ok(None);
    };
    let read = |kind: &str, text: &str| {
        Cell::from_stored(kind, text)
            .ok_or_else(|| ProgressError::Corrupt(format!("{}/{}", slot.source, slot.query)))
    };
    Ok(Some(Position {
        order: read(&order_kind, &order_value)?,
        key: read(&key_kind, &key_value)?,
    }))
}

/// Records a confirmed page: its messages, its unmappable rows and the new position, together.
pub async fn commit(
    pool: &PgPool,
    slot: Slot<'_>,
    last: &Position,
    rows: usize,
    kept: &[Kept],
    errors: &[(String, String)],
) -> Result<(), ProgressError> {
    let (order_kind, order_value) = last.order.to_stored().ok_or(ProgressError::Unorderable)?;
    let (key_kind, key_value) = last.key.to_stored().ok_or(ProgressError::Unorderable)?;
    let mut tx = pool.begin().await?;
    if !kept.is_empty() {
        let ids: Vec<&str> = kept.iter().map(|k| k.message_id.as_str()).collect();
        let classes: Vec<&str> = kept.iter().map(|k| k.class).collect();
        let bodies = kept
            .iter()
            .map(|k| std::str::from_utf8(&k.body))
            .collect::<Result<Vec<_>, _>>()?;
        sqlx::query(
            "INSERT INTO reader.table_message (message_id, source, query, class, body)
             SELECT m, $4, $5, c, b::json FROM unnest($1::text[], $2::text[], $3::text[]) AS t(m, c, b)",
        )
        .bind(&ids)
        .bind(&classes)
        .bind(&bodies)
        .bind(slot.source)
        .bind(slot.query)
        .execute(&mut *tx)
        .await?;
    }
    if !errors.is_empty() {
        let ids: Vec<&str> = errors.iter().map(|(id, _)| id.as_str()).collect();
        let reasons: Vec<&str> = errors.iter().map(|(_, e)| e.as_str()).collect();
        sqlx::query(
            "INSERT INTO reader.table_error (source, query, message_id, reader_version, error)
             SELECT $3, $4, m, $5, e FROM unnest($1::text[], $2::text[]) AS t(m, e)",
        )
        .bind(&ids)
        .bind(&reasons)
        .bind(slot.source)
        .bind(slot.query)
        .bind(env!("CARGO_PKG_VERSION"))
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO reader.table_progress
             (source, query, run_window, order_kind, order_value, key_kind, key_value, rows_read)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (source, query, run_window) DO UPDATE SET
             order_kind = EXCLUDED.order_kind, order_value = EXCLUDED.order_value,
             key_kind = EXCLUDED.key_kind, key_value = EXCLUDED.key_value,
             rows_read = reader.table_progress.rows_read + EXCLUDED.rows_read,
             updated_at = now()",
    )
    .bind(slot.source)
    .bind(slot.query)
    .bind(slot.window)
    .bind(order_kind)
    .bind(order_value)
    .bind(key_kind)
    .bind(key_value)
    .bind(i64::try_from(rows).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
