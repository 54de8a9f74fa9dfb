//! A patient's conditions (K1–K6): one `patient_condition` per patient, type and Epic id, or,
//! for an HL7 infection flag, which has none, per added time (K1).
//!
//! The message that is newest — by hospital time, then an add or update before a delete at the
//! same time (K3), then the later IDS id — gives the row its values; an older one only fills
//! what the row lacks, so a delete followed by an older add leaves the row deleted (K4) and any
//! arrival order gives the same row as long as older messages do not disagree about a field
//! the newest leaves unknown (then the first of them to arrive fills it; exact answers would
//! need a time per field, which EMAP does not keep either). A delete keeps the row, flagged `is_deleted` (K4): for a
//! problem only while its status is active (a problem deleted as Resolved keeps its flag, K2),
//! for an allergy or infection always (K6); anything else clears the flag. Every visit a
//! condition is reported in is kept in `condition_visits`, and the row names the newest
//! message's (K5). An allergy's reactions are the newest message's set, the others removed,
//! audited (K6). A change is audited first.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, Utc};
use interchange::condition::{ConditionAction, ConditionFields};
use interchange::value::Iv;
use sqlx::PgConnection;

use crate::engine::Context;

/// A condition row's values.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub(crate) struct Values {
    hospital_visit_id: Option<i64>,
    added_datetime: Option<DateTime<Utc>>,
    added_date: Option<NaiveDate>,
    resolution_datetime: Option<DateTime<Utc>>,
    resolution_date: Option<NaiveDate>,
    onset_date: Option<NaiveDate>,
    status: Option<String>,
    is_deleted: bool,
    comment: Option<String>,
    severity: Option<String>,
}

/// What a message says of its condition besides the shared fields.
pub(crate) struct Reported<'a> {
    pub fields: &'a ConditionFields,
    pub added_date: Option<NaiveDate>,
    pub resolution_date: Option<NaiveDate>,
    pub resolution_datetime: Iv<DateTime<Utc>>,
    /// Whether a delete flags the row only while the status is active (problems, K2).
    pub delete_needs_active: bool,
}

#[derive(sqlx::FromRow)]
struct Stored {
    patient_condition_id: i64,
    valid_from: DateTime<Utc>,
    source_ids_id: Option<i64>,
    #[sqlx(flatten)]
    values: Values,
}

fn fill<T: Clone>(value: Option<T>, current: Option<T>) -> Option<T> {
    current.or(value)
}

impl Values {
    /// What `r` makes of `current` when it is the newest message (`newest`), or else.
    fn from_message(r: &Reported<'_>, visit: Option<i64>, current: Values, newest: bool) -> Values {
        let f = r.fields;
        if !newest {
            return Values {
                hospital_visit_id: fill(visit, current.hospital_visit_id),
                added_datetime: fill(f.added_datetime, current.added_datetime),
                added_date: fill(r.added_date, current.added_date),
                resolution_datetime: fill(
                    r.resolution_datetime.clone().apply_to(None),
                    current.resolution_datetime,
                ),
                resolution_date: fill(r.resolution_date, current.resolution_date),
                onset_date: fill(f.onset_date.clone().apply_to(None), current.onset_date),
                status: fill(f.status.clone().apply_to(None), current.status),
                comment: fill(f.comment.clone().apply_to(None), current.comment),
                severity: fill(f.severity.clone().apply_to(None), current.severity),
                is_deleted: current.is_deleted,
            };
        }
        let status = f.status.clone().apply_to(current.status.clone());
        let is_deleted = match f.action {
            Some(ConditionAction::Delete) if r.delete_needs_active => {
                match status.as_deref().map(str::to_lowercase).as_deref() {
                    Some("active") => true,
                    _ => current.is_deleted,
                }
            }
            Some(ConditionAction::Delete) => true,
            _ => false,
        };
        Values {
            hospital_visit_id: visit.or(current.hospital_visit_id),
            added_datetime: f.added_datetime.or(current.added_datetime),
            added_date: r.added_date.or(current.added_date),
            resolution_datetime: r
                .resolution_datetime
                .clone()
                .apply_to(current.resolution_datetime),
            resolution_date: r.resolution_date.or(current.resolution_date),
            onset_date: f.onset_date.clone().apply_to(current.onset_date),
            status,
            comment: f.comment.clone().apply_to(current.comment),
            severity: f.severity.clone().apply_to(current.severity),
            is_deleted,
        }
    }
}

/// Orders messages: hospital time, then anything before a delete (K3), then IDS id.
fn rank(at: DateTime<Utc>, deleting: bool, source: Option<i64>) -> impl Ord {
    (at, !deleting, source)
}

/// Where a condition is found (K1).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Key {
    Epic(i64),
    Added(DateTime<Utc>),
}

const COLUMNS: &str = "hospital_visit_id, added_datetime, added_date, resolution_datetime, \
    resolution_date, onset_date, status, is_deleted, comment, severity";

/// The condition of type `kind` of patient `mrn_id` found by `key`, created or updated by the
/// message; its id, and whether the message was the newest about it.
pub(crate) async fn record(
    conn: &mut PgConnection,
    mrn_id: i64,
    kind: i64,
    key: Key,
    visit: Option<i64>,
    r: &Reported<'_>,
    context: &Context<'_>,
) -> Result<(i64, bool), sqlx::Error> {
    let (by, epic, added) = match key {
        Key::Epic(id) => ("internal_id = $3", Some(id), None),
        Key::Added(at) => (
            "internal_id IS NULL AND added_datetime = $4",
            None,
            Some(at),
        ),
    };
    let stored: Option<Stored> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT patient_condition_id, valid_from, source_ids_id, {COLUMNS}
         FROM patient_condition WHERE mrn_id = $1 AND condition_type_id = $2 AND {by}
         FOR UPDATE"
    )))
    .bind(mrn_id)
    .bind(kind)
    .bind(epic)
    .bind(added)
    .fetch_optional(&mut *conn)
    .await?;
    let deleting = r.fields.action == Some(ConditionAction::Delete);
    let Some(stored) = stored else {
        let now = Values::from_message(r, visit, Values::default(), true);
        let id = write(conn, mrn_id, kind, epic, &now, context).await?;
        return Ok((id, true));
    };
    let newest = rank(context.valid_from, deleting, context.source_ids_id).cmp(&rank(
        stored.valid_from,
        stored.values.is_deleted,
        stored.source_ids_id,
    )) != Ordering::Less;
    let now = Values::from_message(r, visit, stored.values.clone(), newest);
    let moves = newest
        && (stored.valid_from, stored.source_ids_id) != (context.valid_from, context.source_ids_id);
    if now != stored.values || moves {
        let id = Some(stored.patient_condition_id);
        let at = match newest {
            true => None,
            false => Some((stored.valid_from, stored.source_ids_id)),
        };
        update(conn, id, &now, at, context).await?;
    }
    Ok((stored.patient_condition_id, newest))
}

/// Inserts a new condition: its id.
async fn write(
    conn: &mut PgConnection,
    mrn_id: i64,
    kind: i64,
    epic: Option<i64>,
    v: &Values,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "INSERT INTO patient_condition (mrn_id, condition_type_id, internal_id, {COLUMNS},
             valid_from, stored_from, source_ids_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         RETURNING patient_condition_id"
    )))
    .bind(mrn_id)
    .bind(kind)
    .bind(epic)
    .bind(v.hospital_visit_id)
    .bind(v.added_datetime)
    .bind(v.added_date)
    .bind(v.resolution_datetime)
    .bind(v.resolution_date)
    .bind(v.onset_date)
    .bind(&v.status)
    .bind(v.is_deleted)
    .bind(&v.comment)
    .bind(&v.severity)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .fetch_one(&mut *conn)
    .await
}

/// Updates condition `id` to `v`, its previous state audited; `kept` is the provenance to keep
/// (an older message's fill), else the message's.
async fn update(
    conn: &mut PgConnection,
    id: Option<i64>,
    v: &Values,
    kept: Option<(DateTime<Utc>, Option<i64>)>,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    let (valid_from, source) = kept.unwrap_or((context.valid_from, context.source_ids_id));
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH audited AS (
             INSERT INTO patient_condition_audit (patient_condition_id, condition_type_id,
                 internal_id, mrn_id, {COLUMNS}, classification, priority, valid_from,
                 valid_until, stored_from, stored_until, source_ids_id)
             SELECT patient_condition_id, condition_type_id, internal_id, mrn_id, {COLUMNS},
                 classification, priority, valid_from, greatest(valid_from, $12), stored_from,
                 $13, source_ids_id
             FROM patient_condition WHERE patient_condition_id = $1)
         UPDATE patient_condition SET hospital_visit_id = $2, added_datetime = $3,
             added_date = $4, resolution_datetime = $5, resolution_date = $6, onset_date = $7,
             status = $8, is_deleted = $9, comment = $10, severity = $11,
             valid_from = $14, stored_from = $13, source_ids_id = $15
         WHERE patient_condition_id = $1"
    )))
    .bind(id)
    .bind(v.hospital_visit_id)
    .bind(v.added_datetime)
    .bind(v.added_date)
    .bind(v.resolution_datetime)
    .bind(v.resolution_date)
    .bind(v.onset_date)
    .bind(&v.status)
    .bind(v.is_deleted)
    .bind(&v.comment)
    .bind(&v.severity)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(valid_from)
    .bind(source)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// K5: notes that condition `id` was reported in `visit`, keeping the earliest message.
pub(crate) async fn seen_in(
    conn: &mut PgConnection,
    id: i64,
    visit: i64,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO condition_visits AS t (patient_condition_id, hospital_visit_id, valid_from,
             stored_from, source_ids_id)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (patient_condition_id, hospital_visit_id) DO UPDATE
             SET valid_from = excluded.valid_from, stored_from = excluded.stored_from,
                 source_ids_id = excluded.source_ids_id
             WHERE (excluded.valid_from, coalesce(excluded.source_ids_id, 0))
                 < (t.valid_from, coalesce(t.source_ids_id, 0))",
    )
    .bind(id)
    .bind(visit)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// K6: allergy `id`'s reactions become `names`, those it no longer lists removed, audited.
pub(crate) async fn reactions(
    conn: &mut PgConnection,
    id: i64,
    names: &[String],
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH gone AS (
             DELETE FROM allergen_reaction
             WHERE patient_condition_id = $1 AND NOT (name = ANY($2))
             RETURNING *)
         INSERT INTO allergen_reaction_audit (allergen_reaction_id, patient_condition_id, name,
             valid_from, valid_until, stored_from, stored_until, source_ids_id)
         SELECT allergen_reaction_id, patient_condition_id, name, valid_from,
                greatest(valid_from, $3), stored_from, $4, source_ids_id
         FROM gone",
    )
    .bind(id)
    .bind(names)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO allergen_reaction (patient_condition_id, name, valid_from, stored_from,
             source_ids_id)
         SELECT $1, n, $3, $4, $5 FROM unnest($2::text[]) n
         ON CONFLICT (patient_condition_id, name) DO NOTHING",
    )
    .bind(id)
    .bind(names)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// K7: whether a Clarity infection (one with an Epic id) of patient `mrn_id` was updated at or
/// after `at`, superseding the HL7 infection flags reported until then.
pub(crate) async fn superseded_by_clarity(
    conn: &mut PgConnection,
    mrn_id: i64,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (
             SELECT 1 FROM patient_condition c JOIN condition_type t USING (condition_type_id)
             WHERE c.mrn_id = $1 AND t.data_type = 'PATIENT_INFECTION'
               AND c.internal_id IS NOT NULL AND c.valid_from >= $2)",
    )
    .bind(mrn_id)
    .bind(at)
    .fetch_one(&mut *conn)
    .await
}

/// K7: a Clarity infection of patient `mrn_id` deletes the patient's HL7 infection flags (no
/// Epic id) valid from no later than it, each audited with its visit links. EMAP deletes every
/// patient's; Ward only this patient's.
pub(crate) async fn delete_hl7_infections(
    conn: &mut PgConnection,
    mrn_id: i64,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH doomed AS (
             SELECT c.patient_condition_id FROM patient_condition c
             JOIN condition_type t USING (condition_type_id)
             WHERE c.mrn_id = $1 AND t.data_type = 'PATIENT_INFECTION'
               AND c.internal_id IS NULL AND c.valid_from <= $2
             FOR UPDATE OF c),
         unlinked AS (
             DELETE FROM condition_visits
             WHERE patient_condition_id = ANY(ARRAY(SELECT patient_condition_id FROM doomed))),
         gone AS (
             DELETE FROM patient_condition
             WHERE patient_condition_id = ANY(ARRAY(SELECT patient_condition_id FROM doomed))
             RETURNING *)
         INSERT INTO patient_condition_audit (patient_condition_id, condition_type_id,
             internal_id, mrn_id, {COLUMNS}, classification, priority, valid_from, valid_until,
             stored_from, stored_until, source_ids_id)
         SELECT patient_condition_id, condition_type_id, internal_id, mrn_id, {COLUMNS},
                classification, priority, valid_from, greatest(valid_from, $2), stored_from, $3,
                source_ids_id
         FROM gone"
    )))
    .bind(mrn_id)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
