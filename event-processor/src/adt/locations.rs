//! Locations, movement facts and location visits in the database (G4, L1–L29, S1).
//!
//! A movement or cancellation is stored once in `star.visit_movement` or
//! `star.movement_cancellation`; the visit's stays are then derived from all of its facts
//! ([`super::movements`]) and the difference from the live `star.location_visit` rows is
//! written, each change or deletion audited (G3). Nothing is written when nothing differs (G2).

use sqlx::PgConnection;

use super::facts::{FactColumns, Facts, LiveStay, fact_columns_sql, live_sql};
use super::movements::{self, Cancellation, Movement, Stay};
use super::patient::NewPatient;
use super::tables;
use super::visits::{NewVisit, Visit};
use crate::engine::Context;
use crate::engine::places::Place;
use crate::engine::writes::RowRef;

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
