//! Locations, movement facts and location visits in the database (G4, L1–L29, S1).
//!
//! A movement or cancellation is stored once in `star.visit_movement` or
//! `star.movement_cancellation`; the visit's stays are then derived from all of its facts
//! ([`super::movements`]) and the difference from the live `star.location_visit` rows is
//! written, each change or deletion audited (G3). Nothing is written when nothing differs (G2).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::movements::{self, Cancellation, Kind, Movement, Stay};
use super::patient::NewPatient;
use super::tables;
use super::visits::{NewVisit, Visit};
use crate::engine::Context;
use crate::engine::places::{Place, PlaceCache};
use crate::engine::writes::RowRef;

/// Everything received for a visit, and the location visits derived from it so far.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    pub movements: Vec<Movement>,
    pub cancellations: Vec<Cancellation>,
    /// The live `location_visit` rows, by admission time (unknown last), then id.
    live: Vec<LiveStay>,
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

/// A visit's movements, cancellations and live location visits (locked for this transaction),
/// their places named: as read with the visit if they were, none for a visit this message
/// created, else read in one round trip.
pub(crate) async fn facts(
    conn: &mut PgConnection,
    visit: &mut Visit,
    context: &Context<'_>,
) -> Result<Facts, sqlx::Error> {
    let stored = match visit.take_facts() {
        Some(stored) => stored,
        None if visit.is_new() => return Ok(Facts::default()),
        None => {
            let columns: FactColumns = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "WITH live AS ({live}) SELECT {columns}",
                live = live_sql("$1"),
                columns = fact_columns_sql("$1", "live")
            )))
            .bind(visit.id)
            .fetch_one(&mut *conn)
            .await?;
            columns.stored()
        }
    };
    stored.named(conn, context.places).await
}

#[derive(Debug)]
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

/// The columns a `location_visit` row and its audit rows share, bar validity and provenance.
pub(crate) const STAY_COLUMNS: &str = "location_visit_id, hospital_visit_id, location_id, \
    admission_datetime, discharge_datetime, inferred_admission, inferred_discharge, \
    parent_location_visit_id";

/// A fact newly received for a visit.
pub(crate) enum Fact {
    Movement(Movement),
    Cancellation(Cancellation),
}

impl Facts {
    /// Whether `fact` is stored already (a resent message), compared on its table's unique key.
    fn holds(&self, fact: &Fact) -> bool {
        let id = |place: &Option<Place>| place.as_ref().map(|p| p.id);
        match fact {
            Fact::Movement(m) => self.movements.iter().any(|o| {
                o.kind == m.kind
                    && o.at == m.at
                    && id(&o.location) == id(&m.location)
                    && id(&o.previous) == id(&m.previous)
            }),
            Fact::Cancellation(c) => self
                .cancellations
                .iter()
                .any(|o| o.kind == c.kind && o.at == c.at && id(&o.location) == id(&c.location)),
        }
    }
}

/// Stores a new fact for `visit` with everything it changes: the visit's stays are re-derived
/// from all its facts ([`movements::stays`]) and the difference from the live `location_visit`
/// rows written — changed rows updated and removed rows deleted, each first copied to the audit
/// table (G3), new stays inserted — and the visit saved with the times the facts give it
/// (V3–V8), all as one message's part of a set-wise statement ([`crate::engine::writes`]), whose parts
/// all see its snapshot, so audit rows hold the previous state. A fact stored already (a resent
/// message) writes nothing (G2) and the visit comes back unsaved.
///
/// `facts` must be all of the visit's facts, read under the visit's row lock
/// ([`super::visits::find`]), so that no other transaction can store this fact meanwhile.
pub(crate) async fn record(
    conn: &mut PgConnection,
    mut visit: Visit,
    fact: Fact,
    mut facts: Facts,
    context: &Context<'_>,
) -> Result<Option<Visit>, sqlx::Error> {
    if facts.holds(&fact) {
        return Ok(Some(visit));
    }
    match &fact {
        Fact::Movement(movement) => facts.movements.push(movement.clone()),
        Fact::Cancellation(cancellation) => facts.cancellations.push(cancellation.clone()),
    }
    let derived = movements::stays(&facts.movements, &facts.cancellations);
    let (pairs, gone, new) = pair_up(&facts.live, &derived);
    let changed: Vec<(&LiveStay, &Stay)> = pairs
        .into_iter()
        .filter(|(row, stay)| !row.holds(stay))
        .collect();
    if let Some(times) = movements::visit_times(&facts.movements, &facts.cancellations) {
        visit.state = visit.state.with_times(times);
    }
    let change = visit.change(context);
    let id = visit.id;
    context
        .write(conn, |w| {
            match &fact {
                Fact::Movement(m) => tables::movement(w, RowRef::Stored(id), m, context),
                Fact::Cancellation(c) => tables::cancellation(w, id, c, context),
            }
            if let Some(change) = &change {
                let (state, valid_from) = (change.state, change.valid_from);
                tables::visit_change(w, id, state, valid_from, change.audit, context);
            }
            for (row, stay) in &changed {
                tables::stay_change(w, row.location_visit_id, stay, context);
            }
            for row in &gone {
                tables::stay_delete(w, row.location_visit_id, context);
            }
            for stay in &new {
                tables::stay_insert(w, RowRef::Stored(id), stay, context);
            }
        })
        .await?;
    Ok(None)
}

/// [`record`] for the first fact of a visit this message creates: the visit, the movement and
/// the stays it gives written together, the visit with the times the movement gives — and the
/// patient too, when the message creates it (the visit's MRN is then the new one).
pub(crate) async fn record_first(
    conn: &mut PgConnection,
    patient: Option<&NewPatient>,
    visit: NewVisit,
    movement: Movement,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    let movements = [movement];
    let stays = movements::stays(&movements, &[]);
    let state = match movements::visit_times(&movements, &[]) {
        Some(times) => visit.state.with_times(times),
        None => visit.state,
    };
    let [movement] = movements;
    context
        .write(conn, |w| {
            let owner = match patient {
                Some(patient) => patient.add_to(w, context),
                None => RowRef::Stored(state.mrn_id),
            };
            let new = tables::new_visit(w, owner, &visit.encounter, &state, context);
            tables::movement(w, new, &movement, context);
            for stay in &stays {
                tables::stay_insert(w, new, stay, context);
            }
        })
        .await
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
             ({STAY_COLUMNS}, valid_from, valid_until, stored_from, stored_until, source_ids_id)
         SELECT {STAY_COLUMNS}, valid_from, greatest(valid_from, $2), stored_from, $3,
                source_ids_id
         FROM gone"
    )))
    .bind(ids)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
