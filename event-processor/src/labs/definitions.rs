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

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::engine::Context;
use crate::engine::reference::{Cached, Connection};

/// What an upsert returns: the row's id, valid-from, source and other time.
type Returned = (i64, DateTime<Utc>, Option<i64>, Option<DateTime<Utc>>);

/// What the tests' upsert returns: the test's code, then as [`Returned`].
type TestRow = (
    String,
    i64,
    DateTime<Utc>,
    Option<i64>,
    Option<DateTime<Utc>>,
);

/// A reference row's key: its table and what identifies it there.
struct Key {
    table: &'static str,
    key: String,
}

/// Whether `context`'s message could change the cached row: it is earlier than the row's
/// provenance, or (`department_at`) names a department no older than the row's.
fn could_change(
    cached: &Cached,
    department_at: Option<DateTime<Utc>>,
    context: &Context<'_>,
) -> bool {
    let earlier = (context.valid_from, context.source_ids_id) < (cached.valid_from, cached.source);
    let department = match (department_at, cached.also) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(at), Some(known)) => at >= known,
    };
    earlier || department
}

/// Runs the upsert `sql` (its parameters `texts`, then `ids`, then the message's valid-from,
/// stored-from and source id), which returns the row's id, provenance and other time; reads
/// again in a new statement when another transaction created the row meanwhile. A row the
/// message cannot change is taken from the cache without a round trip.
async fn upsert(
    conn: &mut PgConnection,
    context: &Context<'_>,
    key: Key,
    (sql, texts, ids): (&'static str, &[Option<&str>], &[i64]),
    department_at: Option<DateTime<Utc>>,
) -> Result<i64, sqlx::Error> {
    if context.places_pool.is_some()
        && let Some(cached) = context.reference.get(key.table, &key.key)
        && !could_change(&cached, department_at, context)
    {
        return Ok(cached.id);
    }
    let mut reference = Connection::of(conn, context).await?;
    for _ in 0..2 {
        let mut query = sqlx::query_as(sql);
        for text in texts {
            query = query.bind(*text);
        }
        for id in ids {
            query = query.bind(*id);
        }
        let found: Option<Returned> = query
            .bind(context.valid_from)
            .bind(context.stored_from)
            .bind(context.source_ids_id)
            .fetch_optional(reference.get())
            .await?;
        if let Some((id, valid_from, source, also)) = found {
            if reference.commits() {
                let row = Cached {
                    id,
                    valid_from,
                    source,
                    also,
                    flag: false,
                };
                context.reference.put(key.table, key.key, row);
            }
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
                 WHERE (excluded.valid_from, coalesce(excluded.source_ids_id, 0))
                     < (t.valid_from, coalesce(t.source_ids_id, 0))
             RETURNING lab_battery_id, valid_from, source_ids_id)
         SELECT *, NULL::timestamptz FROM up
         UNION ALL
         SELECT lab_battery_id, valid_from, source_ids_id, NULL FROM lab_battery
         WHERE battery_code = $1 AND lab_provider = $2 AND NOT EXISTS (SELECT FROM up)";
    let key = Key {
        table: "lab_battery",
        key: format!("{provider}\u{1f}{code}"),
    };
    upsert(
        conn,
        context,
        key,
        (sql, &[Some(code), Some(provider)], &[]),
        None,
    )
    .await
}

/// The tests `codes` of lab system `provider`, each created on first sight with the department
/// of the latest message naming one, and all linked to `battery`: at most two round trips for
/// the tests and one for the links whatever their number; each test's id, in `codes`' order.
pub(crate) async fn tests(
    conn: &mut PgConnection,
    battery: i64,
    provider: &str,
    codes: &[&str],
    department: Option<&str>,
    context: &Context<'_>,
) -> Result<Vec<i64>, sqlx::Error> {
    let ids = definitions(conn, provider, codes, department, context).await?;
    link(conn, battery, &ids, context).await?;
    Ok(ids)
}

/// The tests `codes` of lab system `provider`, as [`tests`] but linked to no battery (lab
/// metadata names tests on their own).
pub(crate) async fn definitions(
    conn: &mut PgConnection,
    provider: &str,
    codes: &[&str],
    department: Option<&str>,
    context: &Context<'_>,
) -> Result<Vec<i64>, sqlx::Error> {
    let department = department.filter(|d| !d.is_empty());
    let department_at = department.map(|_| context.valid_from);
    let cached = |table: &'static str, key: &str, at: Option<DateTime<Utc>>| {
        context
            .places_pool
            .and_then(|_| context.reference.get(table, key))
            .filter(|c| !could_change(c, at, context))
            .map(|c| c.id)
    };
    let test_key = |code: &str| format!("{provider}\u{1f}{code}");
    // Sorted and once each: one statement may touch a row once, and lanes lock in one order.
    let mut wanted: Vec<&str> = codes
        .iter()
        .copied()
        .filter(|c| cached("lab_test_definition", &test_key(c), department_at).is_none())
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut found: Vec<(String, i64)> = Vec::new();
    if !wanted.is_empty() {
        let mut reference = Connection::of(conn, context).await?;
        for _ in 0..2 {
            let rows: Vec<(String, Returned)> = sqlx::query_as::<_, TestRow>(TESTS_SQL)
                .bind(provider)
                .bind(&wanted)
                .bind(department)
                .bind(context.valid_from)
                .bind(context.stored_from)
                .bind(context.source_ids_id)
                .fetch_all(reference.get())
                .await?
                .into_iter()
                .map(|(code, id, valid_from, source, also)| (code, (id, valid_from, source, also)))
                .collect();
            for (code, (id, valid_from, source, also)) in rows {
                if reference.commits() {
                    let row = Cached {
                        id,
                        valid_from,
                        source,
                        also,
                        flag: false,
                    };
                    context
                        .reference
                        .put("lab_test_definition", test_key(&code), row);
                }
                found.push((code, id));
            }
            // A row another lane created since this statement began is read again.
            wanted.retain(|code| !found.iter().any(|(c, _)| c == code));
            if wanted.is_empty() {
                break;
            }
        }
        if !wanted.is_empty() {
            return Err(sqlx::Error::RowNotFound);
        }
    }
    let ids: Vec<i64> = codes
        .iter()
        .map(|code| {
            found
                .iter()
                .find(|(c, _)| c == code)
                .map(|(_, id)| *id)
                .or_else(|| cached("lab_test_definition", &test_key(code), department_at))
                .ok_or(sqlx::Error::RowNotFound)
        })
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

/// The battery elements linking `battery` to the tests `ids`, in one round trip unless cached.
async fn link(
    conn: &mut PgConnection,
    battery: i64,
    ids: &[i64],
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    let cached = |key: &str| {
        context
            .places_pool
            .and_then(|_| context.reference.get("lab_battery_element", key))
            .filter(|c| !could_change(c, None, context))
    };
    let element_key = |id: i64| format!("{battery}:{id}");
    let mut unlinked: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| cached(&element_key(*id)).is_none())
        .collect();
    unlinked.sort_unstable();
    unlinked.dedup();
    if !unlinked.is_empty() {
        let mut reference = Connection::of(conn, context).await?;
        let rows: Vec<(i64, i64, DateTime<Utc>, Option<i64>)> = sqlx::query_as(ELEMENTS_SQL)
            .bind(battery)
            .bind(&unlinked)
            .bind(context.valid_from)
            .bind(context.stored_from)
            .bind(context.source_ids_id)
            .fetch_all(reference.get())
            .await?;
        if reference.commits() {
            for (test, id, valid_from, source) in rows {
                let row = Cached {
                    id,
                    valid_from,
                    source,
                    also: None,
                    flag: false,
                };
                context
                    .reference
                    .put("lab_battery_element", element_key(test), row);
            }
        }
    }
    Ok(())
}

/// Battery elements of battery $1 for the tests $2 created, or given an earlier provenance;
/// every one returned (test, id, provenance).
const ELEMENTS_SQL: &str = "WITH up AS (
         INSERT INTO lab_battery_element AS t (lab_battery_id, lab_test_definition_id,
                                               valid_from, stored_from, source_ids_id)
         SELECT $1, test, $3, $4, $5 FROM unnest($2::int8[]) AS test
         ON CONFLICT (lab_battery_id, lab_test_definition_id) DO UPDATE
             SET valid_from = excluded.valid_from, stored_from = excluded.stored_from,
                 source_ids_id = excluded.source_ids_id
             WHERE (excluded.valid_from, coalesce(excluded.source_ids_id, 0))
                 < (t.valid_from, coalesce(t.source_ids_id, 0))
         RETURNING lab_test_definition_id, lab_battery_element_id, valid_from, source_ids_id)
     SELECT * FROM up
     UNION ALL
     SELECT lab_test_definition_id, lab_battery_element_id, valid_from, source_ids_id
     FROM lab_battery_element
     WHERE lab_battery_id = $1 AND lab_test_definition_id = ANY($2)
       AND lab_test_definition_id NOT IN (SELECT lab_test_definition_id FROM up)";

/// Whether the message names a department given later than the row's (ties by name).
macro_rules! newer_department {
    () => {
        "(excluded.lab_department IS NOT NULL AND (t.lab_department IS NULL \
         OR (excluded.lab_department_valid_from, excluded.lab_department) \
            > (t.lab_department_valid_from, t.lab_department)))"
    };
}

/// Whether the message is earlier than the row's provenance (ties by source id).
macro_rules! earlier {
    () => {
        "((excluded.valid_from, coalesce(excluded.source_ids_id, 0)) \
         < (t.valid_from, coalesce(t.source_ids_id, 0)))"
    };
}

/// The tests $2 (an array, each once) of lab system $1 created, or given a later department
/// ($3 at $4) or an earlier provenance: (code, id, provenance, department time) of every one.
const TESTS_SQL: &str = concat!(
    "WITH up AS (
         INSERT INTO lab_test_definition AS t (lab_provider, test_lab_code, lab_department,
             lab_department_valid_from, valid_from, stored_from, source_ids_id)
         SELECT $1, code, $3, CASE WHEN $3::text IS NULL THEN NULL ELSE $4 END, $4, $5, $6
         FROM unnest($2::text[]) AS code
         ON CONFLICT (lab_provider, test_lab_code) DO UPDATE SET
             lab_department = CASE WHEN ",
    newer_department!(),
    " THEN excluded.lab_department ELSE t.lab_department END,
             lab_department_valid_from = CASE WHEN ",
    newer_department!(),
    " THEN excluded.lab_department_valid_from ELSE t.lab_department_valid_from END,
             valid_from = CASE WHEN ",
    earlier!(),
    " THEN excluded.valid_from ELSE t.valid_from END,
             stored_from = excluded.stored_from,
             source_ids_id = CASE WHEN ",
    earlier!(),
    " THEN excluded.source_ids_id ELSE t.source_ids_id END
             WHERE ",
    newer_department!(),
    " OR ",
    earlier!(),
    "
         RETURNING test_lab_code, lab_test_definition_id, valid_from, source_ids_id,
                   lab_department_valid_from)
     SELECT * FROM up
     UNION ALL
     SELECT test_lab_code, lab_test_definition_id, valid_from, source_ids_id,
            lab_department_valid_from
     FROM lab_test_definition
     WHERE lab_provider = $1 AND test_lab_code = ANY($2)
       AND test_lab_code NOT IN (SELECT test_lab_code FROM up)"
);
