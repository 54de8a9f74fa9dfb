//! A visit's facts as stored: the movements and cancellations received for it, its live
//! location visits and planned movements, read with the visit in one statement
//! ([`fact_columns_sql`], as binary arrays of records with location ids only) and named from
//! the place cache ([`StoredFacts::named`]). Shared by the first read ([`super::patient`]), the
//! visit ([`super::visits`]) and the derivation of its stays ([`super::locations`]).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::movements::{Cancellation, Kind, Movement, Stay};
use crate::engine::places::PlaceCache;

/// Everything received for a visit, and the location visits derived from it so far.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    pub movements: Vec<Movement>,
    pub cancellations: Vec<Cancellation>,
    /// The live `location_visit` rows, by admission time (unknown last), then id.
    pub live: Vec<LiveStay>,
}

/// A `planned_movement` row as [`super::pending`] pairs them.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub planned_movement_id: i64,
    pub event_type: String,
    pub location_id: Option<i64>,
    pub event_datetime: Option<DateTime<Utc>>,
    pub cancelled_datetime: Option<DateTime<Utc>>,
}

impl Facts {
    /// The admission times of the live location visits at one place (for an A11 without a
    /// cancellation time).
    pub(crate) fn admissions_at(&self, location_id: i64) -> Vec<DateTime<Utc>> {
        self.live
            .iter()
            .filter(|row| row.location_id == location_id)
            .filter_map(|row| row.admission_datetime)
            .collect()
    }
}

/// A `visit_movement` row: event type, time, location, previous location, admission,
/// presentation, disposition, destination.
type MovementRow = (
    String,
    DateTime<Utc>,
    Option<i64>,
    Option<i64>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
);
/// A `movement_cancellation` row: event type, cancelled time, location.
type CancellationRow = (String, DateTime<Utc>, Option<i64>);
/// A live `location_visit` row: id, location, admission, discharge, inferred admission and
/// discharge.
type LiveRow = (
    i64,
    i64,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    bool,
    bool,
);
/// A `planned_movement` row: id, event type, event time, location, cancelled time.
type PlannedRow = (
    i64,
    String,
    Option<DateTime<Utc>>,
    Option<i64>,
    Option<DateTime<Utc>>,
);

/// A query for a visit's location visits, locked for this transaction: to name as a CTE or a
/// sub-select wherever [`fact_columns_sql`] needs the live rows.
pub(crate) fn live_sql(visit_id: &str) -> String {
    format!(
        "SELECT location_visit_id, location_id, admission_datetime, discharge_datetime,
                inferred_admission, inferred_discharge
         FROM location_visit WHERE hospital_visit_id = {visit_id} FOR UPDATE"
    )
}

/// The columns of [`FactColumns`] for the visit whose id is `visit_id`, its live rows coming
/// from `live` (a table expression without alias): each table's rows as one array of records,
/// in binary — a JSON aggregate of the same rows cost PostgreSQL twice as much, formatting every
/// timestamp as text, and `ward` as much again parsing it. Location names are not read: the
/// processor knows nearly all of them ([`StoredFacts::named`]).
pub(crate) fn fact_columns_sql(visit_id: &str, live: &str) -> String {
    format!(
        "(SELECT array_agg((m.event_type, m.event_datetime, m.location_id,
                            m.previous_location_id, m.admission_datetime,
                            m.presentation_datetime, m.discharge_disposition,
                            m.discharge_destination))
          FROM visit_movement m WHERE m.hospital_visit_id = {visit_id}) AS fact_movements,
         (SELECT array_agg((c.event_type, c.cancelled_datetime, c.location_id))
          FROM movement_cancellation c WHERE c.hospital_visit_id = {visit_id})
             AS fact_cancellations,
         (SELECT array_agg((l.location_visit_id, l.location_id, l.admission_datetime,
                            l.discharge_datetime, l.inferred_admission, l.inferred_discharge))
          FROM {live} l) AS fact_live,
         (SELECT array_agg((p.planned_movement_id, p.event_type, p.event_datetime,
                            p.location_id, p.cancelled_datetime))
          FROM planned_movement p WHERE p.hospital_visit_id = {visit_id}) AS fact_planned"
    )
}

/// The columns of [`fact_columns_sql`], read in the same statement as the visit
/// ([`super::visits::MaybeRow`]) or alone ([`facts`]).
#[derive(sqlx::FromRow)]
pub(crate) struct FactColumns {
    fact_movements: Option<Vec<MovementRow>>,
    fact_cancellations: Option<Vec<CancellationRow>>,
    fact_live: Option<Vec<LiveRow>>,
    fact_planned: Option<Vec<PlannedRow>>,
}

/// A visit's facts as stored: places by id only, until [`StoredFacts::named`] names them.
#[derive(Debug, Default)]
pub(crate) struct StoredFacts {
    movements: Vec<MovementRow>,
    cancellations: Vec<CancellationRow>,
    live: Vec<LiveStay>,
    /// The visit's `planned_movement` rows, by id ([`super::pending`]).
    pub planned: Vec<Planned>,
}

impl FactColumns {
    pub(crate) fn stored(self) -> StoredFacts {
        let mut planned: Vec<Planned> = self
            .fact_planned
            .unwrap_or_default()
            .into_iter()
            .map(
                |(planned_movement_id, event_type, event_datetime, location_id, cancelled)| {
                    Planned {
                        planned_movement_id,
                        event_type,
                        location_id,
                        event_datetime,
                        cancelled_datetime: cancelled,
                    }
                },
            )
            .collect();
        planned.sort_by_key(|row| row.planned_movement_id);
        let mut live: Vec<LiveStay> = self
            .fact_live
            .unwrap_or_default()
            .into_iter()
            .map(
                |(id, location_id, admission, discharge, inf_admission, inf_discharge)| LiveStay {
                    location_visit_id: id,
                    location_id,
                    admission_datetime: admission,
                    discharge_datetime: discharge,
                    inferred_admission: inf_admission,
                    inferred_discharge: inf_discharge,
                },
            )
            .collect();
        // As PostgreSQL orders them (NULLs last), which pairing relies on.
        live.sort_by_key(|row| {
            (
                row.admission_datetime.is_none(),
                row.admission_datetime,
                row.location_visit_id,
            )
        });
        StoredFacts {
            movements: self.fact_movements.unwrap_or_default(),
            cancellations: self.fact_cancellations.unwrap_or_default(),
            live,
            planned,
        }
    }
}

impl StoredFacts {
    /// The facts with their places named: from the cache, and any place it does not know (one
    /// another process created, or before this one had seen it) read in one round trip.
    pub(crate) async fn named(
        self,
        conn: &mut PgConnection,
        places: &PlaceCache,
    ) -> Result<Facts, sqlx::Error> {
        let ids = self
            .movements
            .iter()
            .flat_map(|m| [m.2, m.3])
            .chain(self.cancellations.iter().map(|c| c.2))
            .flatten();
        let unknown = places.unknown(ids);
        if !unknown.is_empty() {
            let rows: Vec<(i64, String)> = sqlx::query_as(
                "SELECT location_id, location_string FROM location
                 WHERE location_id = ANY($1)",
            )
            .bind(&unknown)
            .fetch_all(&mut *conn)
            .await?;
            for (id, name) in rows {
                places.put(&name, id);
            }
        }
        // A place the database does not hold cannot be named (foreign keys forbid it); as the
        // outer join it replaces did, it is left out.
        let place = |id: Option<i64>| id.and_then(|id| places.named(id));
        let mut facts = Facts {
            live: self.live,
            ..Facts::default()
        };
        for (
            event_type,
            at,
            location,
            previous,
            admission,
            presentation,
            disposition,
            destination,
        ) in self.movements
        {
            // The table's CHECK constraint admits only known kinds.
            let Some(kind) = Kind::parse(&event_type) else {
                continue;
            };
            facts.movements.push(Movement {
                kind,
                at,
                location: place(location),
                previous: place(previous),
                admission,
                presentation,
                disposition,
                destination,
            });
        }
        for (event_type, at, location) in self.cancellations {
            let Some(kind) = Kind::parse(&event_type) else {
                continue;
            };
            facts.cancellations.push(Cancellation {
                kind,
                at,
                location: place(location),
            });
        }
        Ok(facts)
    }
}

#[derive(Debug)]
pub(crate) struct LiveStay {
    pub location_visit_id: i64,
    pub location_id: i64,
    pub admission_datetime: Option<DateTime<Utc>>,
    discharge_datetime: Option<DateTime<Utc>>,
    inferred_admission: bool,
    inferred_discharge: bool,
}

impl LiveStay {
    pub(crate) fn holds(&self, stay: &Stay) -> bool {
        self.location_id == stay.location.id
            && self.admission_datetime == Some(stay.admission)
            && self.discharge_datetime == stay.discharge
            && self.inferred_admission == stay.inferred_admission
            && self.inferred_discharge == stay.inferred_discharge
    }
}
