//! Visit observation types (F5, F6): what a flowsheet row measures, reference rows shared by
//! every patient ([`crate::engine::reference`]). HL7 names a type by its interface id, source
//! tables by the EHR's own id (`id_in_application`); each finds or creates the row by the id it
//! has. A type is a function of the set of messages naming it, whatever order patients' lanes
//! reach it in: its provenance is the earliest message, `is_real_time` turns on once a live
//! message names it and never off, and `has_visit_observation` turns on with its first
//! observation. (Metadata's changes, applied between patients' messages, are in
//! [`super::metadata`].)

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::engine::Context;
use crate::engine::reference::{Cached, Connection};

/// Which id names a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Id<'a> {
    /// HL7's interface id (OBX-3.1).
    Interface(&'a str),
    /// The EHR's own id.
    Application(&'a str),
}

impl Id<'_> {
    /// The key the reference cache knows the type by.
    pub(crate) fn cache_key(&self, source_type: &str) -> String {
        match self {
            Id::Interface(id) => format!("{source_type}\u{1f}interface\u{1f}{id}"),
            Id::Application(id) => format!("{source_type}\u{1f}application\u{1f}{id}"),
        }
    }
}

/// The table types are cached under.
pub(crate) const TABLE: &str = "visit_observation_type";

/// Creates the type or turns its flags on, unless a row with the same key has an earlier
/// provenance and both flags already on; then reads it. `$1` the id, `$2` the source type,
/// `$3` live, `$4`–`$6` valid-from, stored-from, source id.
macro_rules! upsert {
    ($column:literal) => {
        concat!(
            "WITH up AS (
                 INSERT INTO visit_observation_type AS t (",
            $column,
            ", source_observation_type, is_real_time, has_visit_observation,
                     valid_from, stored_from, source_ids_id)
                 VALUES ($1, $2, $3, true, $4, $5, $6)
                 ON CONFLICT (source_observation_type, ",
            $column,
            ") WHERE ",
            $column,
            " IS NOT NULL DO UPDATE SET
                     is_real_time = t.is_real_time OR excluded.is_real_time,
                     has_visit_observation = true,
                     valid_from = least(t.valid_from, excluded.valid_from),
                     stored_from = excluded.stored_from,
                     source_ids_id = CASE
                         WHEN (excluded.valid_from, coalesce(excluded.source_ids_id, 0))
                             < (t.valid_from, coalesce(t.source_ids_id, 0))
                         THEN excluded.source_ids_id ELSE t.source_ids_id END
                 WHERE (excluded.valid_from, coalesce(excluded.source_ids_id, 0))
                         < (t.valid_from, coalesce(t.source_ids_id, 0))
                     OR (excluded.is_real_time AND NOT t.is_real_time)
                     OR NOT t.has_visit_observation
                 RETURNING visit_observation_type_id, valid_from, source_ids_id, is_real_time)
             SELECT * FROM up
             UNION ALL
             SELECT visit_observation_type_id, valid_from, source_ids_id, is_real_time
             FROM visit_observation_type
             WHERE source_observation_type = $2 AND ",
            $column,
            " = $1 AND NOT EXISTS (SELECT FROM up)"
        )
    };
}

const BY_INTERFACE: &str = upsert!("interface_id");
const BY_APPLICATION: &str = upsert!("id_in_application");

/// The type `id` of kind `source_type` for an observation (live or not), created on first
/// sight; a type the message cannot change is taken from the cache without a round trip.
pub(crate) async fn for_observation(
    conn: &mut PgConnection,
    id: Id<'_>,
    source_type: &str,
    live: bool,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    let key = id.cache_key(source_type);
    if context.places_pool.is_some()
        && let Some(cached) = context.reference.get(TABLE, &key)
        && !could_change(&cached, live, context)
    {
        return Ok(cached.id);
    }
    let (sql, value) = match id {
        Id::Interface(value) => (BY_INTERFACE, value),
        Id::Application(value) => (BY_APPLICATION, value),
    };
    let mut reference = Connection::of(conn, context).await?;
    // A second try reads the row another transaction created meanwhile.
    for _ in 0..2 {
        let found: Option<(i64, DateTime<Utc>, Option<i64>, bool)> = sqlx::query_as(sql)
            .bind(value)
            .bind(source_type)
            .bind(live)
            .bind(context.valid_from)
            .bind(context.stored_from)
            .bind(context.source_ids_id)
            .fetch_optional(reference.get())
            .await?;
        if let Some((id, valid_from, source, flag)) = found {
            if reference.commits() {
                let row = Cached {
                    id,
                    valid_from,
                    source,
                    also: None,
                    flag,
                };
                context.reference.put(TABLE, key, row);
            }
            return Ok(id);
        }
    }
    Err(sqlx::Error::RowNotFound)
}

/// Whether the message could change the cached type: it is earlier than the type's provenance,
/// or live while the type has not been seen live.
fn could_change(cached: &Cached, live: bool, context: &Context<'_>) -> bool {
    let earlier = (context.valid_from, context.source_ids_id) < (cached.valid_from, cached.source);
    earlier || (live && !cached.flag)
}
