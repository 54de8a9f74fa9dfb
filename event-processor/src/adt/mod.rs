//! The ADT family: which rules each message class runs, in what order.
//!
//! Every ADT message first resolves the patient (M1–M6, [`patient`]) and updates demographics
//! (D1–D5, [`demographics`]). Then: A08/A28/A31 stop there (C6); implied ADT from lab and other
//! messages creates a minimal visit if it names one (C2, C4) and touches no locations (C5);
//! movements (A01–A07) and cancellations (A11–A13) update the visit ([`visits`]), store their
//! fact and re-derive the visit's locations and times ([`locations`], [`movements`]: V1–V8,
//! L1–L29); pending transfers (A15/A26) go to `planned_movement` ([`pending`]: P1–P3); A17
//! swaps two patients' places (S1–S2); A29 is in [`deletion`] (X1–X5), A40, A45 and A47 in
//! [`merges`] (I1–I10). Only trusted sources record movements. [`tables`] describes the ADT
//! tables for the engine's set-wise writer.

mod deletion;
mod demographics;
mod facts;
mod locations;
mod merges;
mod movements;
mod patient;
mod pending;
mod tables;
mod visits;

use std::any::Any;

use chrono::DateTime;
use chrono::Utc;
use futures::FutureExt;
use futures::future::BoxFuture;
use interchange::Message;
use interchange::adt::AdtFields;
use sqlx::PgConnection;

use self::locations::Fact;
use self::movements::{Cancellation, Kind, Movement};
use self::patient::{FoundRow, Live};
use self::visits::{Found, Prefetched, Visit};
use crate::engine::identity::{self, Keys};
use crate::engine::places::{self, Place};
use crate::engine::read_ahead::Prefetched as ReadAhead;
use crate::engine::{Context, Family, ProcessError, reject};

/// The ADT family.
pub(crate) struct Adt;

impl Family for Adt {
    fn applies_to(&self, message: &Message) -> bool {
        message.adt().is_some()
    }

    fn keys<'m>(&self, message: &'m Message) -> Keys<'m> {
        let Some(adt) = message.adt() else {
            return Keys::default();
        };
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

    fn also_named(&self, message: &Message) -> Vec<String> {
        also_named(message)
    }

    fn read_ahead<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        keys: &'a [Keys<'a>],
    ) -> BoxFuture<'a, Result<Vec<Box<dyn ReadAhead>>, sqlx::Error>> {
        async move {
            let mrns: Vec<Option<&str>> = keys.iter().map(|k| k.mrn).collect();
            let nhs: Vec<Option<&str>> = keys.iter().map(|k| k.nhs_number).collect();
            let encounters: Vec<Option<&str>> = keys.iter().map(|k| k.encounter).collect();
            let found = patient::find_many(conn, &mrns, &nhs, &encounters).await?;
            Ok(found
                .into_iter()
                .map(|row| Box::new(row) as Box<dyn ReadAhead>)
                .collect())
        }
        .boxed()
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        message: &'a Message,
        keys: &'a Keys<'a>,
        found: Option<Box<dyn ReadAhead>>,
        context: &'a Context<'a>,
    ) -> BoxFuture<'a, Result<(), ProcessError>> {
        async move {
            let Some(adt) = message.adt() else {
                return Err(reject("NOT-BUILT", "not an ADT message"));
            };
            let found = found.and_then(|row| {
                let row: Box<dyn Any + Send> = row.into_any();
                row.downcast::<FoundRow>().ok().map(|row| *row)
            });
            apply(conn, message, adt, keys, found, context).await
        }
        .boxed()
    }
}

/// Applies one ADT-family message; `read_ahead` is what [`patient::patient_or_new`] would read,
/// if it was read ahead.
async fn apply(
    conn: &mut PgConnection,
    message: &Message,
    adt: &AdtFields,
    keys: &Keys<'_>,
    read_ahead: Option<FoundRow>,
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
    let deleting = matches!(message, Message::DeletePersonInformation(_));
    let patient::PatientOrNew {
        live,
        demographics,
        visit,
    } = patient::patient_or_new(
        conn,
        keys.mrn,
        keys.nhs_number,
        keys.encounter,
        Some(adt).filter(|_| !deleting),
        read_ahead,
        context,
    )
    .await?;
    if deleting {
        let mrn_id = live.id(conn, context).await?;
        return deletion::delete_person(conn, mrn_id, context).await;
    }
    if let (patient::Read::Found(current), Live::Existing(mrn_id)) = (demographics, &live) {
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
    let found = Patient { live, visit };
    match message {
        Message::UpdatePatientInfo(_) => Ok(()), // C6
        Message::ImpliedAdtMessage(_) => {
            // C2, C4: a minimal visit if one is named; C3, C5: nothing else.
            let mrn_id = found.live.id(conn, context).await?;
            if let Some(encounter) = keys.encounter {
                let visit = found.visit;
                visits::find_or_create(conn, encounter, visit, mrn_id, adt, context, false).await?;
            }
            Ok(())
        }
        Message::CancelAdmitPatient(_)
        | Message::CancelTransferPatient(_)
        | Message::CancelDischargePatient(_) => {
            cancellation(conn, message, adt, found, context).await
        }
        Message::PendingTransfer(_) | Message::CancelPendingTransfer(_) => {
            planned(conn, message, adt, found, context).await
        }
        Message::SwapLocations(m) => swap_locations(conn, m, adt, found, context).await,
        _ if is_movement => movement(conn, message, adt, found, context).await,
        _ => Err(reject(
            "NOT-BUILT",
            format!("{} is not processed yet", message.class_name()),
        )),
    }
}

/// The patient and visit an ADT message found by its first read.
struct Patient {
    live: Live,
    visit: Prefetched,
}

/// A movement (A01–A04, A03): the movement a trusted source records, with the times its class
/// adds (V3–V6, L16), then the visit and its re-derived locations ([`moved`]).
async fn movement(
    conn: &mut PgConnection,
    message: &Message,
    adt: &AdtFields,
    found: Patient,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let kind = match message {
        Message::AdmitPatient(_) => Kind::Admit,
        Message::TransferPatient(_) => Kind::Transfer,
        Message::RegisterPatient(_) => Kind::Register,
        _ => Kind::Discharge,
    };
    let discharged_at = match message {
        Message::DischargePatient(m) => Some(
            m.discharge_date_time
                .ok_or_else(|| reject("L16", "a discharge without a discharge time (PV1-45)"))?,
        ),
        _ => None,
    };
    let mut movement = arrival(conn, kind, adt, context).await?;
    if let Some(mv) = movement.as_mut() {
        match message {
            Message::AdmitPatient(m) => mv.admission = m.admission_date_time.saved().copied(),
            Message::TransferPatient(m) => mv.admission = m.admission_date_time.saved().copied(),
            Message::RegisterPatient(m) => {
                mv.presentation = m.presentation_date_time.saved().copied();
            }
            Message::DischargePatient(m) => {
                mv.at = discharged_at.unwrap_or(mv.at);
                mv.previous = None;
                mv.admission = m.admission_date_time.saved().copied();
                mv.disposition = m.discharge_disposition.clone();
                mv.destination = m.discharge_location.clone();
            }
            _ => {}
        }
    }
    moved(conn, found.live, adt, found.visit, movement, context).await
}

/// A cancellation (A11–A13) of the movement it names: the place (L26: a cancelled transfer went
/// to the A12's PV1-6) and time, stored with the re-derived locations ([`cancelled`]).
async fn cancellation(
    conn: &mut PgConnection,
    message: &Message,
    adt: &AdtFields,
    found: Patient,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let current = adt.full_location_string.saved();
    let (kind, named, at) = match message {
        Message::CancelAdmitPatient(m) => (Kind::Admit, current, m.cancelled_date_time),
        Message::CancelTransferPatient(m) => {
            let named = m
                .cancelled_location
                .as_ref()
                .or(adt.previous_location_string.saved());
            (Kind::Transfer, named, m.cancelled_date_time)
        }
        Message::CancelDischargePatient(m) => (Kind::Discharge, current, m.cancelled_date_time),
        _ => return Ok(()),
    };
    let location = place_of(conn, named, context).await?;
    let mrn_id = found.live.id(conn, context).await?;
    let visit = visit_for(conn, mrn_id, adt, found.visit, context).await?;
    cancelled(conn, visit, kind, at, location, context).await
}

/// A15/A26 (P1–P3): the visit, its planned movements re-paired, the visit saved.
async fn planned(
    conn: &mut PgConnection,
    message: &Message,
    adt: &AdtFields,
    found: Patient,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let mrn_id = found.live.id(conn, context).await?;
    let mut visit = visit_for(conn, mrn_id, adt, found.visit, context).await?;
    match message {
        Message::PendingTransfer(m) => pending::request(conn, &mut visit, m, context).await?,
        Message::CancelPendingTransfer(m) => pending::cancel(conn, &mut visit, m, context).await?,
        _ => {}
    }
    visits::save(conn, visit, context).await?;
    Ok(())
}

/// A17 (S1, S2): both patients' visits found or created; a trusted source then swaps their
/// current places, unless either place is unknown.
async fn swap_locations(
    conn: &mut PgConnection,
    m: &interchange::adt::SwapLocations,
    adt: &AdtFields,
    found: Patient,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let mrn_id = found.live.id(conn, context).await?;
    let first = visit_for(conn, mrn_id, adt, found.visit, context).await?;
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

/// The location with this string, if the message names one.
async fn place_of(
    conn: &mut PgConnection,
    name: Option<&String>,
    context: &Context<'_>,
) -> Result<Option<Place>, ProcessError> {
    match name.filter(|n| !n.is_empty()) {
        Some(name) => Ok(Some(places::place(conn, name, context).await?)),
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

/// The visits and NHS numbers a message names besides its partition key, as keys of their own
/// (`visit:…`, `nhs:…`): a visit or NHS number named under two MRNs (a visit admitted under a
/// duplicate record before the merge arrives, a message without an MRN) joins them.
fn also_named(message: &Message) -> Vec<String> {
    use interchange::Message as M;
    let visit = |v: &Option<String>| {
        v.as_ref()
            .filter(|v| !v.is_empty())
            .map(|v| format!("visit:{v}"))
    };
    let nhs = |n: &Option<String>| {
        n.as_ref()
            .filter(|n| !n.is_empty())
            .map(|n| format!("nhs:{n}"))
    };
    let Some(adt) = message.adt() else {
        return Vec::new();
    };
    let mut named = vec![visit(&adt.visit_number), nhs(&adt.nhs_number)];
    match message {
        M::MergePatient(m) => named.push(nhs(&m.previous_nhs_number)),
        M::ChangePatientIdentifiers(m) => named.push(nhs(&m.previous_nhs_number)),
        M::MoveVisitInformation(m) => {
            named.push(nhs(&m.previous_nhs_number));
            named.push(visit(&m.previous_visit_number));
        }
        M::SwapLocations(m) => {
            named.push(nhs(&m.other_nhs_number));
            named.push(visit(&m.other_visit_number));
        }
        _ => {}
    }
    named.into_iter().flatten().collect()
}
