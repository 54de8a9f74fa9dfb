//! Condition types: what a condition is (a problem's ICD-10 code, an infection's name, an
//! allergen), by data type and code. Reference rows ([`crate::engine::reference`]) shared by
//! every patient and a function of the set of messages naming them: provenance is the earliest
//! message, the name the latest message's that gives one (ties by name), the allergen type the
//! greatest given, so
//! the order in which patients' lanes reach the row does not matter. (EMAP compares a
//! condition's time with its type's valid-from, K9; Ward compares it with the condition's own.)

use sqlx::PgConnection;

use crate::engine::Context;
use crate::engine::reference::Connection;

/// Creates the type or updates its provenance, name and sub-type; returns its id. `$1` data
/// type, `$2` code, `$3` name, `$4` sub-type, `$5`–`$7` valid-from, stored-from, source id.
const UPSERT: &str = "INSERT INTO condition_type AS t (data_type, internal_code, name,
         name_valid_from, sub_type, valid_from, stored_from, source_ids_id)
     VALUES ($1, $2, $3, CASE WHEN $3::text IS NULL THEN NULL ELSE $5::timestamptz END, $4, $5,
             $6, $7)
     ON CONFLICT (data_type, internal_code) DO UPDATE SET
         name = CASE WHEN excluded.name IS NOT NULL AND (t.name_valid_from IS NULL
                         OR (t.name_valid_from, t.name) < (excluded.valid_from, excluded.name))
                     THEN excluded.name ELSE t.name END,
         name_valid_from = CASE WHEN excluded.name IS NOT NULL AND (t.name_valid_from IS NULL
                         OR (t.name_valid_from, t.name) < (excluded.valid_from, excluded.name))
                     THEN excluded.valid_from ELSE t.name_valid_from END,
         sub_type = CASE WHEN excluded.sub_type IS NOT NULL AND (t.sub_type IS NULL
                         OR t.sub_type < excluded.sub_type)
                     THEN excluded.sub_type ELSE t.sub_type END,
         valid_from = least(t.valid_from, excluded.valid_from),
         source_ids_id = CASE WHEN (excluded.valid_from, coalesce(excluded.source_ids_id, 0))
                             < (t.valid_from, coalesce(t.source_ids_id, 0))
                         THEN excluded.source_ids_id ELSE t.source_ids_id END,
         stored_from = excluded.stored_from
     RETURNING condition_type_id";

/// The type `code` of `data_type`, created on first sight, named by the message if it names it.
pub(crate) async fn condition_type(
    conn: &mut PgConnection,
    data_type: &str,
    code: &str,
    name: Option<&str>,
    sub_type: Option<&str>,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    let mut reference = Connection::of(conn, context).await?;
    sqlx::query_scalar(UPSERT)
        .bind(data_type)
        .bind(code)
        .bind(name)
        .bind(sub_type)
        .bind(context.valid_from)
        .bind(context.stored_from)
        .bind(context.source_ids_id)
        .fetch_one(reference.get())
        .await
}
