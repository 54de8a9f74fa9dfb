//! Locations, movement facts and location visits in the database (G4, L1–L29, S1).
//!
//! A movement or cancellation is stored once in `star.visit_movement` or
//! `star.movement_cancellation`; the visit's stays are then derived from all of its facts
//! ([`crate::movements`]) and the difference from the live `star.location_visit` rows is
//! written, each change or deletion audited (G3). Nothing is written when nothing differs (G2).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::Context;
use crate::movements::{self, Cancellation, Kind, Movement, Place, Stay, VisitTimes};

/// Location ids by string. A location row never changes or goes, so an id once read stays
/// right — unless the transaction that created it rolls back: then the id (never reused, as ids
/// come from a sequence) fails its foreign key, the message fails, and the processor clears the
/// cache ([`crate::Processor::forget_cached`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct PlaceCache(Arc<Mutex<HashMap<String, i64>>>);

impl PlaceCache {
    fn get(&self, name: &str) -> Option<i64> {
        self.0.lock().ok()?.get(name).copied()
    }

    fn put(&self, name: &str, id: i64) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(name.to_owned(), id);
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut map) = self.0.lock() {
            map.clear();
        }
    }
}

/// The location with this string, created on first sight (G4).
pub(crate) async fn place(
    conn: &mut PgConnection,
    name: &str,
    cache: &PlaceCache,
) -> Result<Place, sqlx::Error> {
    let place = |id| Place {
        name: name.to_owned(),
        id,
    };
    if let Some(id) = cache.get(name) {
        return Ok(place(id));
    }
    // Another transaction may be creating the same location: insert-or-nothing, then read in a
    // new statement (a new snapshot) to see its row once it commits.
    for _ in 0..2 {
        let id: Option<i64> = sqlx::query_scalar(
            "WITH created AS (
                 INSERT INTO location (location_string) VALUES ($1)
                 ON CONFLICT (location_string) DO NOTHING RETURNING location_id)
             SELECT location_id FROM created
             UNION ALL SELECT location_id FROM location WHERE location_string = $1
             LIMIT 1",
        )
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(id) = id {
            cache.put(name, id);
            return Ok(place(id));
        }
    }
    Err(sqlx::Error::RowNotFound)
}

/// Stores a movement; false if it was already stored (a resent message).
pub(crate) async fn record_movement(
    conn: &mut PgConnection,
    visit_id: i64,
    movement: &Movement,
    context: &Context<'_>,
) -> Result<bool, sqlx::Error> {
    let stored = sqlx::query(
        "INSERT INTO visit_movement
             (hospital_visit_id, event_type, event_datetime, location_id, previous_location_id,
              admission_datetime, presentation_datetime, discharge_disposition,
              discharge_destination, valid_from, stored_from, source_ids_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT DO NOTHING",
    )
    .bind(visit_id)
    .bind(movement.kind.as_str())
    .bind(movement.at)
    .bind(movement.location.as_ref().map(|p| p.id))
    .bind(movement.previous.as_ref().map(|p| p.id))
    .bind(movement.admission)
    .bind(movement.presentation)
    .bind(&movement.disposition)
    .bind(&movement.destination)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    Ok(stored.rows_affected() == 1)
}

/// Stores a cancellation; false if it was already stored.
pub(crate) async fn record_cancellation(
    conn: &mut PgConnection,
    visit_id: i64,
    cancellation: &Cancellation,
    context: &Context<'_>,
) -> Result<bool, sqlx::Error> {
    let stored = sqlx::query(
        "INSERT INTO movement_cancellation
             (hospital_visit_id, event_type, cancelled_datetime, location_id, valid_from,
              stored_from, source_ids_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT DO NOTHING",
    )
    .bind(visit_id)
    .bind(cancellation.kind.as_str())
    .bind(cancellation.at)
    .bind(cancellation.location.as_ref().map(|p| p.id))
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    Ok(stored.rows_affected() == 1)
}

/// Everything received for a visit.
pub(crate) struct Facts {
    pub movements: Vec<Movement>,
    pub cancellations: Vec<Cancellation>,
}

#[derive(sqlx::FromRow)]
struct FactRow {
    cancellation: bool,
    event_type: String,
    at: DateTime<Utc>,
    location_id: Option<i64>,
    location: Option<String>,
    previous_location_id: Option<i64>,
    previous: Option<String>,
    admission_datetime: Option<DateTime<Utc>>,
    presentation_datetime: Option<DateTime<Utc>>,
    discharge_disposition: Option<String>,
    discharge_destination: Option<String>,
}

/// Loads a visit's movements and cancellations in one round trip.
pub(crate) async fn facts(conn: &mut PgConnection, visit_id: i64) -> Result<Facts, sqlx::Error> {
    let rows: Vec<FactRow> = sqlx::query_as(
        "SELECT false AS cancellation, m.event_type, m.event_datetime AS at, m.location_id,
                l.location_string AS location, m.previous_location_id,
                p.location_string AS previous, m.admission_datetime, m.presentation_datetime,
                m.discharge_disposition, m.discharge_destination
         FROM visit_movement m
         LEFT JOIN location l ON l.location_id = m.location_id
         LEFT JOIN location p ON p.location_id = m.previous_location_id
         WHERE m.hospital_visit_id = $1
         UNION ALL
         SELECT true, c.event_type, c.cancelled_datetime, c.location_id, l.location_string,
                NULL, NULL, NULL, NULL, NULL, NULL
         FROM movement_cancellation c
         LEFT JOIN location l ON l.location_id = c.location_id
         WHERE c.hospital_visit_id = $1",
    )
    .bind(visit_id)
    .fetch_all(&mut *conn)
    .await?;
    let place = |id: Option<i64>, name: Option<String>| {
        Some(Place {
            id: id?,
            name: name?,
        })
    };
    let mut facts = Facts {
        movements: Vec::new(),
        cancellations: Vec::new(),
    };
    for row in rows {
        // The table's CHECK constraint admits only known kinds.
        let Some(kind) = Kind::parse(&row.event_type) else {
            continue;
        };
        let location = place(row.location_id, row.location);
        if row.cancellation {
            facts.cancellations.push(Cancellation {
                kind,
                at: row.at,
                location,
            });
        } else {
            facts.movements.push(Movement {
                kind,
                at: row.at,
                location,
                previous: place(row.previous_location_id, row.previous),
                admission: row.admission_datetime,
                presentation: row.presentation_datetime,
                disposition: row.discharge_disposition,
                destination: row.discharge_destination,
            });
        }
    }
    Ok(facts)
}

#[derive(Debug, sqlx::FromRow)]
struct LiveStay {
    location_visit_id: i64,
    location_id: i64,
    admission_datetime: Option<DateTime<Utc>>,
    discharge_datetime: Option<DateTime<Utc>>,
    inferred_admission: bool,
    inferred_discharge: bool,
}

impl LiveStay {
    fn holds(&self, stay: &Stay) -> bool {
        self.location_id == stay.location.id
            && self.admission_datetime == Some(stay.admission)
            && self.discharge_datetime == stay.discharge
            && self.inferred_admission == stay.inferred_admission
            && self.inferred_discharge == stay.inferred_discharge
    }
}

/// Re-derives the visit's stays from its facts, writes the difference to `location_visit`, and
/// returns the visit's times as the facts give them.
pub(crate) async fn rederive(
    conn: &mut PgConnection,
    visit_id: i64,
    facts: &Facts,
    context: &Context<'_>,
) -> Result<Option<VisitTimes>, sqlx::Error> {
    let derived = movements::stays(&facts.movements, &facts.cancellations);
    let live: Vec<LiveStay> = sqlx::query_as(
        "SELECT location_visit_id, location_id, admission_datetime, discharge_datetime,
                inferred_admission, inferred_discharge
         FROM location_visit WHERE hospital_visit_id = $1
         ORDER BY admission_datetime, location_visit_id FOR UPDATE",
    )
    .bind(visit_id)
    .fetch_all(&mut *conn)
    .await?;
    let (pairs, unmatched_live, unmatched_derived) = pair_up(&live, &derived);
    for (row, stay) in pairs {
        if !row.holds(stay) {
            sqlx::query(
                "WITH audited AS (
                     INSERT INTO location_visit_audit
                         (location_visit_id, hospital_visit_id, location_id, admission_datetime,
                          discharge_datetime, inferred_admission, inferred_discharge,
                          parent_location_visit_id, valid_from, valid_until, stored_from,
                          stored_until, source_ids_id)
                     SELECT location_visit_id, hospital_visit_id, location_id, admission_datetime,
                            discharge_datetime, inferred_admission, inferred_discharge,
                            parent_location_visit_id, valid_from, greatest(valid_from, $6),
                            stored_from, $7, source_ids_id
                     FROM location_visit WHERE location_visit_id = $1)
                 UPDATE location_visit SET admission_datetime = $2, discharge_datetime = $3,
                     inferred_admission = $4, inferred_discharge = $5,
                     valid_from = greatest(valid_from, $6), stored_from = $7, source_ids_id = $8
                 WHERE location_visit_id = $1",
            )
            .bind(row.location_visit_id)
            .bind(stay.admission)
            .bind(stay.discharge)
            .bind(stay.inferred_admission)
            .bind(stay.inferred_discharge)
            .bind(context.valid_from)
            .bind(context.stored_from)
            .bind(context.source_ids_id)
            .execute(&mut *conn)
            .await?;
        }
    }
    let gone: Vec<i64> = unmatched_live
        .iter()
        .map(|row| row.location_visit_id)
        .collect();
    delete_stays(conn, "location_visit_id", &gone, context).await?;
    for stay in unmatched_derived {
        sqlx::query(
            "INSERT INTO location_visit
                 (hospital_visit_id, location_id, admission_datetime, discharge_datetime,
                  inferred_admission, inferred_discharge, valid_from, stored_from, source_ids_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(visit_id)
        .bind(stay.location.id)
        .bind(stay.admission)
        .bind(stay.discharge)
        .bind(stay.inferred_admission)
        .bind(stay.inferred_discharge)
        .bind(context.valid_from)
        .bind(context.stored_from)
        .bind(context.source_ids_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(movements::visit_times(
        &facts.movements,
        &facts.cancellations,
    ))
}

/// Pairs live rows with derived stays so that a stay keeps its row (and id) across changes:
/// first by place and admission time, then by place in time order. Returns the pairs, the live
/// rows to delete and the stays to insert.
fn pair_up<'a, 'b>(
    live: &'a [LiveStay],
    derived: &'b [Stay],
) -> (
    Vec<(&'a LiveStay, &'b Stay)>,
    Vec<&'a LiveStay>,
    Vec<&'b Stay>,
) {
    let mut live_taken = vec![false; live.len()];
    let mut derived_taken = vec![false; derived.len()];
    let mut pairs = Vec::new();
    for exact in [true, false] {
        for (d, stay) in derived.iter().enumerate() {
            if derived_taken[d] {
                continue;
            }
            let found = live.iter().enumerate().position(|(l, row)| {
                !live_taken[l]
                    && row.location_id == stay.location.id
                    && (!exact || row.admission_datetime == Some(stay.admission))
            });
            if let Some(l) = found {
                live_taken[l] = true;
                derived_taken[d] = true;
                pairs.push((&live[l], stay));
            }
        }
    }
    let unmatched_live = live
        .iter()
        .zip(&live_taken)
        .filter(|(_, taken)| !**taken)
        .map(|(row, _)| row)
        .collect();
    let unmatched_derived = derived
        .iter()
        .zip(&derived_taken)
        .filter(|(_, taken)| !**taken)
        .map(|(stay, _)| stay)
        .collect();
    (pairs, unmatched_live, unmatched_derived)
}

/// Deletes the location visits whose `key` (`location_visit_id` or `hospital_visit_id`) is one
/// of `ids`, keeping each one's last state in the audit table (G3).
pub(crate) async fn delete_stays(
    conn: &mut PgConnection,
    key: &'static str,
    ids: &[i64],
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH gone AS (
             DELETE FROM location_visit WHERE {key} = ANY($1) RETURNING *)
         INSERT INTO location_visit_audit
             (location_visit_id, hospital_visit_id, location_id, admission_datetime,
              discharge_datetime, inferred_admission, inferred_discharge,
              parent_location_visit_id, valid_from, valid_until, stored_from, stored_until,
              source_ids_id)
         SELECT location_visit_id, hospital_visit_id, location_id, admission_datetime,
                discharge_datetime, inferred_admission, inferred_discharge,
                parent_location_visit_id, valid_from, greatest(valid_from, $2), stored_from,
                $3, source_ids_id
         FROM gone"
    )))
    .bind(ids)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The live location visits of a visit at one place (for an A11 without a cancellation time).
pub(crate) async fn admissions_at(
    conn: &mut PgConnection,
    visit_id: i64,
    location_id: i64,
) -> Result<Vec<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT admission_datetime FROM location_visit
         WHERE hospital_visit_id = $1 AND location_id = $2 AND admission_datetime IS NOT NULL",
    )
    .bind(visit_id)
    .bind(location_id)
    .fetch_all(&mut *conn)
    .await
}
