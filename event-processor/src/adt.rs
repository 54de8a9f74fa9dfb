//! The ADT family: which rules each message class runs, in what order.
//!
//! Every ADT message first resolves the patient (M1–M6) and updates demographics (D1–D5). Then:
//! A08/A28/A31 stop there (C6); implied ADT from lab and other messages creates a minimal visit
//! if it names one (C2, C4) and touches no locations (C5); movements (A01–A07) and cancellations
//! (A11–A13) update the visit, store their fact and re-derive the visit's locations and times
//! (V1–V8, L1–L29); pending transfers (A15/A26) go to `planned_movement` (P1–P3); A17 swaps
//! two patients' places (S1–S2); A29, A40, A45 and A47 are in [`crate::merges`] and
//! [`crate::deletion`]. Only trusted sources record movements.

use chrono::DateTime;
use chrono::Utc;
use interchange::Message;
use interchange::adt::AdtFields;
use sqlx::PgConnection;

use crate::identity::Live;
use crate::locations::Fact;
use crate::movements::{Cancellation, Kind, Movement, Place};
use crate::reject;
use crate::visits::{self, Found, Prefetched, Visit};
use crate::{Context, ProcessError, deletion, demographics, identity, locations, merges, pending};

/// What a message names to find its patient and visit ([`identity::patient_or_new`]).
pub(crate) struct Keys<'a> {
    /// Whether the message finds one patient that way (merges find two, their own way).
    pub one_patient: bool,
    pub mrn: Option<&'a str>,
    pub nhs_number: Option<&'a str>,
    /// The visit, read with the patient, except for messages that never touch one (C6).
    pub encounter: Option<&'a str>,
}

impl<'a> Keys<'a> {
    pub(crate) fn of(message: &Message, adt: &'a AdtFields) -> Keys<'a> {
        let one_patient = !matches!(
            message,
            Message::MergePatient(_)
                | Message::ChangePatientIdentifiers(_)
                | Message::MoveVisitInformation(_)
        );
        let encounter = match message {
            Message::UpdatePatientInfo(_) | Message::DeletePersonInformation(_) => None,
            _ => adt.visit_number.as_deref().filter(|v| !v.is_empty()),
        };
        Keys {
            one_patient,
            mrn: adt.mrn.as_deref().filter(|m| !m.is_empty()),
            nhs_number: adt.nhs_number.as_deref().filter(|n| !n.is_empty()),
            encounter,
        }
    }
}

/// Applies one ADT-family message; `read_ahead` is what [`identity::patient_or_new`] would read, if
/// it was read ahead.
pub(crate) async fn apply(
    conn: &mut PgConnection,
    message: &Message,
    adt: &AdtFields,
    keys: &Keys<'_>,
    read_ahead: Option<identity::FoundRow>,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    match message {
        Message::MergePatient(m) => return merges::merge(conn, m, context).await,
        Message::ChangePatientIdentifiers(m) => {
            return merges::change_identifiers(conn, m, context).await;
        }
        Message::MoveVisitInformation(m) => return merges::move_visit(conn, m, context).await,
        _ => {}
    }
    let encounter = keys.encounter;
    let deleting = matches!(message, Message::DeletePersonInformation(_));
    let identity::PatientOrNew {
        live,
        demographics,
        visit,
    } = identity::patient_or_new(
        conn,
        keys.mrn,
        keys.nhs_number,
        encounter,
        Some(adt).filter(|_| !deleting),
        read_ahead,
        context,
    )
    .await?;
    if deleting {
        let mrn_id = live.id(conn, context).await?;
        return deletion::delete_person(conn, mrn_id, context).await;
    }
    if let (identity::Read::Found(current), Live::Existing(mrn_id)) = (demographics, &live) {
        demographics::update_from(conn, *mrn_id, current.map(|c| *c), adt, context).await?;
    }
    // A movement writes a new patient with its first rows; any other message writes it now.
    let is_movement = matches!(
        message,
        Message::AdmitPatient(_)
            | Message::TransferPatient(_)
            | Message::RegisterPatient(_)
            | Message::DischargePatient(_)
    );
    let live = match live {
        Live::New(patient) if !is_movement => Live::Existing(patient.create(conn, context).await?),
        live => live,
    };
    match message {
        Message::UpdatePatientInfo(_) => Ok(()), // C6
        Message::ImpliedAdtMessage(_) => {
            // C2, C4: a minimal visit if one is named; C3, C5: nothing else.
            let mrn_id = live.id(conn, context).await?;
            if let Some(encounter) = encounter {
                visits::find_or_create(conn, encounter, visit, mrn_id, adt, context, false).await?;
            }
            Ok(())
        }
        Message::AdmitPatient(m) => {
            let movement = arrival(conn, Kind::Admit, adt, context).await?;
            let movement = movement.map(|mv| Movement {
                admission: m.admission_date_time.saved().copied(),
                ..mv
            });
            moved(conn, live, adt, visit, movement, context).await
        }
        Message::TransferPatient(m) => {
            let movement = arrival(conn, Kind::Transfer, adt, context).await?;
            let movement = movement.map(|mv| Movement {
                admission: m.admission_date_time.saved().copied(),
                ..mv
            });
            moved(conn, live, adt, visit, movement, context).await
        }
        Message::RegisterPatient(m) => {
            let movement = arrival(conn, Kind::Register, adt, context).await?;
            let movement = movement.map(|mv| Movement {
                presentation: m.presentation_date_time.saved().copied(),
                ..mv
            });
            moved(conn, live, adt, visit, movement, context).await
        }
        Message::DischargePatient(m) => {
            let discharged_at = m
                .discharge_date_time
                .ok_or_else(|| reject("L16", "a discharge without a discharge time (PV1-45)"))?;
            let mut movement = arrival(conn, Kind::Discharge, adt, context).await?;
            if let Some(mv) = movement.as_mut() {
                mv.at = discharged_at;
                mv.previous = None;
                mv.admission = m.admission_date_time.saved().copied();
                mv.disposition = m.discharge_disposition.clone();
                mv.destination = m.discharge_location.clone();
            }
            moved(conn, live, adt, visit, movement, context).await
        }
        Message::CancelAdmitPatient(m) => {
            let location = place_of(conn, adt.full_location_string.saved(), context).await?;
            let at = m.cancelled_date_time;
            let mrn_id = live.id(conn, context).await?;
            let visit = visit_for(conn, mrn_id, adt, visit, context).await?;
            cancelled(conn, visit, Kind::Admit, at, location, context).await
        }
        Message::CancelTransferPatient(m) => {
            // L26: the cancelled transfer went to the A12's PV1-6.
            let named = m
                .cancelled_location
                .as_ref()
                .or(adt.previous_location_string.saved());
            let location = place_of(conn, named, context).await?;
            let at = m.cancelled_date_time;
            let mrn_id = live.id(conn, context).await?;
            let visit = visit_for(conn, mrn_id, adt, visit, context).await?;
            cancelled(conn, visit, Kind::Transfer, at, location, context).await
        }
        Message::CancelDischargePatient(m) => {
            let location = place_of(conn, adt.full_location_string.saved(), context).await?;
            let at = m.cancelled_date_time;
            let mrn_id = live.id(conn, context).await?;
            let visit = visit_for(conn, mrn_id, adt, visit, context).await?;
            cancelled(conn, visit, Kind::Discharge, at, location, context).await
        }
        Message::PendingTransfer(m) => {
            let mrn_id = live.id(conn, context).await?;
            let mut visit = visit_for(conn, mrn_id, adt, visit, context).await?;
            pending::request(conn, &mut visit, m, context).await?;
            visits::save(conn, visit, context).await?;
            Ok(())
        }
        Message::CancelPendingTransfer(m) => {
            let mrn_id = live.id(conn, context).await?;
            let mut visit = visit_for(conn, mrn_id, adt, visit, context).await?;
            pending::cancel(conn, &mut visit, m, context).await?;
            visits::save(conn, visit, context).await?;
            Ok(())
        }
        Message::SwapLocations(m) => {
            let mrn_id = live.id(conn, context).await?;
            let first = visit_for(conn, mrn_id, adt, visit, context).await?;
            let other_mrn = identity::live_mrn(
                conn,
                m.other_mrn.as_deref(),
                m.other_nhs_number.as_deref(),
                context,
            )
            .await?;
            let other_encounter = m
                .other_visit_number
                .as_deref()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| reject("S1", "the swap names no visit for the other patient"))?;
            let other = visits::find_or_create(
                conn,
                other_encounter,
                Prefetched::NotRead,
                other_mrn,
                &AdtFields::default(),
                context,
                false,
            )
            .await?;
            let first = visits::save(conn, first, context).await?;
            if !context.trusted {
                return Ok(());
            }
            let first_place = place_of(conn, adt.full_location_string.saved(), context).await?;
            let other_place = place_of(conn, m.other_full_location_string.saved(), context).await?;
            let (Some(first_place), Some(other_place)) = (first_place, other_place) else {
                return Ok(()); // S2
            };
            swap(
                conn,
                first,
                first_place.clone(),
                other_place.clone(),
                context,
            )
            .await?;
            swap(conn, other, other_place, first_place, context).await
        }
        _ => Err(reject(
            "NOT-BUILT",
            format!("{} is not processed yet", message.class_name()),
        )),
    }
}

/// The location with this string, if the message names one.
async fn place_of(
    conn: &mut PgConnection,
    name: Option<&String>,
    context: &Context<'_>,
) -> Result<Option<Place>, ProcessError> {
    match name.filter(|n| !n.is_empty()) {
        Some(name) => Ok(Some(locations::place(conn, name, context).await?)),
        None => Ok(None),
    }
}

/// The movement a trusted message records (places resolved); `None` from an untrusted source.
async fn arrival(
    conn: &mut PgConnection,
    kind: Kind,
    adt: &AdtFields,
    context: &Context<'_>,
) -> Result<Option<Movement>, ProcessError> {
    if !context.trusted {
        return Ok(None);
    }
    Ok(Some(Movement {
        kind,
        at: context.valid_from,
        location: place_of(conn, adt.full_location_string.saved(), context).await?,
        previous: place_of(conn, adt.previous_location_string.saved(), context).await?,
        admission: None,
        presentation: None,
        disposition: None,
        destination: None,
    }))
}

/// The visit a message about a visit names, created if new, with its generic attributes
/// updated (V1, V2).
async fn visit_for(
    conn: &mut PgConnection,
    mrn_id: i64,
    adt: &AdtFields,
    prefetched: Prefetched,
    context: &Context<'_>,
) -> Result<Visit, ProcessError> {
    let encounter = visits::encounter(adt, "V1")?;
    Ok(visits::find_or_create(conn, encounter, prefetched, mrn_id, adt, context, true).await?)
}

/// A movement: the visit, then the fact (refused if already cancelled: L3, L17) with the
/// re-derived locations and times.
async fn moved(
    conn: &mut PgConnection,
    live: Live,
    adt: &AdtFields,
    prefetched: Prefetched,
    movement: Option<Movement>,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let encounter = visits::encounter(adt, "V1")?;
    let (live, movement) = match (live, &prefetched, movement) {
        // A new patient whose visit is new too (as read): all written in one statement.
        (Live::New(patient), Prefetched::Read(None), Some(movement)) => {
            let visit = visits::new_visit(encounter, 0, adt, context);
            locations::record_first(conn, Some(&patient), visit, movement, context).await?;
            return Ok(());
        }
        (live, _, movement) => (live, movement),
    };
    let mrn_id = live.id(conn, context).await?;
    let found =
        visits::find_or_new(conn, encounter, prefetched, mrn_id, adt, context, true).await?;
    let (mut visit, movement) = match (found, movement) {
        (Found::Existing(visit), Some(movement)) => (*visit, movement),
        (Found::Existing(_), None) => return Ok(()),
        // A new visit has no facts yet, so nothing cancelled this movement.
        (Found::New(new), Some(movement)) => {
            locations::record_first(conn, None, new, movement, context).await?;
            return Ok(());
        }
        (Found::New(new), None) => {
            new.insert(conn, context).await?;
            return Ok(());
        }
    };
    let facts = locations::facts(conn, &mut visit, context).await?;
    if facts.cancellations.iter().any(|c| c.cancels(&movement)) {
        let rule = if movement.kind == Kind::Discharge {
            "L17"
        } else {
            "L3"
        };
        return Err(reject(
            rule,
            "the movement was cancelled by an earlier message",
        ));
    }
    locations::record(conn, visit, Fact::Movement(movement), facts, context).await?;
    Ok(())
}

/// A cancellation of `kind` for the visit: the cancellation stored with the re-derived
/// locations and times. L20: an A11 without a time cancels the only stay at its location; any other
/// cancellation without a time cannot be applied (L29).
async fn cancelled(
    conn: &mut PgConnection,
    mut visit: Visit,
    kind: Kind,
    at: Option<DateTime<Utc>>,
    location: Option<Place>,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    if !context.trusted {
        visits::save(conn, visit, context).await?;
        return Ok(());
    }
    let facts = locations::facts(conn, &mut visit, context).await?;
    let at = match (at, &location) {
        (Some(at), _) => at,
        (None, Some(place)) if kind == Kind::Admit => {
            match facts.admissions_at(place.id).as_slice() {
                [only] => *only,
                _ => {
                    return Err(reject(
                        "L20",
                        "a cancelled admission without its time, and not exactly one stay at its location",
                    ));
                }
            }
        }
        _ => {
            return Err(reject(
                "L29",
                "a cancellation without the time of what it cancels",
            ));
        }
    };
    let cancellation = Fact::Cancellation(Cancellation { kind, at, location });
    if let Some(unsaved) = locations::record(conn, visit, cancellation, facts, context).await? {
        visits::save(conn, unsaved, context).await?;
    }
    Ok(())
}

/// S1: the visit's current stay is relabelled to `to` (it had been recorded at `recorded_at`).
async fn swap(
    conn: &mut PgConnection,
    mut visit: Visit,
    to: Place,
    recorded_at: Place,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let movement = Movement {
        kind: Kind::Swap,
        at: context.valid_from,
        location: Some(to),
        previous: Some(recorded_at),
        admission: None,
        presentation: None,
        disposition: None,
        destination: None,
    };
    let facts = locations::facts(conn, &mut visit, context).await?;
    locations::record(conn, visit, Fact::Movement(movement), facts, context).await?;
    Ok(())
}
