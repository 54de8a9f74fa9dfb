//! The ADT tables as the engine's set-wise writer sees them ([`crate::engine::writes`]), and the
//! rows a message adds to its wave: a new patient with its first demographics (M3, D1), a new
//! visit, movement facts and cancellations, a visit's new state (audited, G3) and location
//! visits inserted, changed or removed (audited, G3), planned movements (P1–P3, audited).

use chrono::{DateTime, Utc};

use super::demographics::Demographics;
use super::movements::{Cancellation, Movement, Stay};
use super::visits::VisitState;
use crate::engine::Context;
use crate::engine::writes::{Audit, Column, Kind, OnUpdate, RowRef, Table, Value, Wave};

/// The provenance every star row ends with: valid-from, stored-from, source message.
const PROVENANCE: [Column; 3] = [
    Column::set("valid_from", Kind::Timestamptz),
    Column::set("stored_from", Kind::Timestamptz),
    Column::set("source_ids_id", Kind::Int8),
];

fn provenance(valid_from: DateTime<Utc>, context: &Context<'_>) -> [Value; 3] {
    [
        valid_from.into(),
        context.stored_from.into(),
        context.source_ids_id.into(),
    ]
}

pub(crate) static MRN: Table = Table {
    name: "mrn",
    key: "mrn_id",
    columns: &[
        Column::set("mrn", Kind::Text),
        Column::set("nhs_number", Kind::Text),
        Column::set("source_system", Kind::Text),
        Column::set("stored_from", Kind::Timestamptz),
        Column::set("source_ids_id", Kind::Int8),
    ],
    insert_or_nothing: false,
    audit: None,
};

static MRN_TO_LIVE: Table = Table {
    name: "mrn_to_live",
    key: "mrn_to_live_id",
    columns: &[
        Column::set("mrn_id", Kind::Ref(&MRN)),
        Column::set("live_mrn_id", Kind::Ref(&MRN)),
        PROVENANCE[0],
        PROVENANCE[1],
        PROVENANCE[2],
    ],
    insert_or_nothing: false,
    audit: None,
};

static CORE_DEMOGRAPHIC: Table = Table {
    name: "core_demographic",
    key: "core_demographic_id",
    columns: &[
        Column::set("mrn_id", Kind::Ref(&MRN)),
        Column::set("firstname", Kind::Text),
        Column::set("middlename", Kind::Text),
        Column::set("lastname", Kind::Text),
        Column::set("date_of_birth", Kind::Date),
        Column::set("date_of_death", Kind::Date),
        Column::set("datetime_of_birth", Kind::Timestamptz),
        Column::set("datetime_of_death", Kind::Timestamptz),
        Column::set("alive", Kind::Bool),
        Column::set("home_postcode", Kind::Text),
        Column::set("sex", Kind::Text),
        Column::set("ethnicity", Kind::Text),
        PROVENANCE[0],
        PROVENANCE[1],
        PROVENANCE[2],
    ],
    insert_or_nothing: false,
    audit: None,
};

pub(crate) static HOSPITAL_VISIT: Table = Table {
    name: "hospital_visit",
    key: "hospital_visit_id",
    columns: &[
        Column::keep("encounter", Kind::Text),
        Column::set("mrn_id", Kind::Ref(&MRN)),
        Column::set("source_system", Kind::Text),
        Column::set("presentation_datetime", Kind::Timestamptz),
        Column::set("admission_datetime", Kind::Timestamptz),
        Column::set("discharge_datetime", Kind::Timestamptz),
        Column::set("patient_class", Kind::Text),
        Column::set("arrival_method", Kind::Text),
        Column::set("discharge_destination", Kind::Text),
        Column::set("discharge_disposition", Kind::Text),
        PROVENANCE[0],
        PROVENANCE[1],
        PROVENANCE[2],
    ],
    insert_or_nothing: false,
    audit: Some(Audit {
        table: "hospital_visit_audit",
        extra: &[],
        valid_until: "{until}",
    }),
};

static VISIT_MOVEMENT: Table = Table {
    name: "visit_movement",
    key: "visit_movement_id",
    columns: &[
        Column::keep("hospital_visit_id", Kind::Ref(&HOSPITAL_VISIT)),
        Column::keep("event_type", Kind::Text),
        Column::keep("event_datetime", Kind::Timestamptz),
        Column::keep("location_id", Kind::Int8),
        Column::keep("previous_location_id", Kind::Int8),
        Column::keep("admission_datetime", Kind::Timestamptz),
        Column::keep("presentation_datetime", Kind::Timestamptz),
        Column::keep("discharge_disposition", Kind::Text),
        Column::keep("discharge_destination", Kind::Text),
        PROVENANCE[0],
        PROVENANCE[1],
        PROVENANCE[2],
    ],
    // A resent movement is stored once (its unique key).
    insert_or_nothing: true,
    audit: None,
};

static MOVEMENT_CANCELLATION: Table = Table {
    name: "movement_cancellation",
    key: "movement_cancellation_id",
    columns: &[
        Column::keep("hospital_visit_id", Kind::Ref(&HOSPITAL_VISIT)),
        Column::keep("event_type", Kind::Text),
        Column::keep("cancelled_datetime", Kind::Timestamptz),
        Column::keep("location_id", Kind::Int8),
        PROVENANCE[0],
        PROVENANCE[1],
        PROVENANCE[2],
    ],
    insert_or_nothing: true,
    audit: None,
};

pub(crate) static LOCATION_VISIT: Table = Table {
    name: "location_visit",
    key: "location_visit_id",
    columns: &[
        Column::keep("hospital_visit_id", Kind::Ref(&HOSPITAL_VISIT)),
        Column::keep("location_id", Kind::Int8),
        Column::set("admission_datetime", Kind::Timestamptz),
        Column::set("discharge_datetime", Kind::Timestamptz),
        Column::set("inferred_admission", Kind::Bool),
        Column::set("inferred_discharge", Kind::Bool),
        // A stay's validity never moves back.
        Column {
            name: "valid_from",
            kind: Kind::Timestamptz,
            on_update: OnUpdate::Expr("greatest(t.valid_from, {new})"),
        },
        PROVENANCE[1],
        PROVENANCE[2],
    ],
    insert_or_nothing: false,
    audit: Some(Audit {
        table: "location_visit_audit",
        extra: &["parent_location_visit_id"],
        valid_until: "greatest(t.valid_from, {until})",
    }),
};

static PLANNED_MOVEMENT: Table = Table {
    name: "planned_movement",
    key: "planned_movement_id",
    columns: &[
        Column::keep("hospital_visit_id", Kind::Ref(&HOSPITAL_VISIT)),
        Column::keep("location_id", Kind::Int8),
        Column::keep("event_type", Kind::Text),
        Column::set("event_datetime", Kind::Timestamptz),
        Column::set("cancelled_datetime", Kind::Timestamptz),
        Column::set("cancelled", Kind::Bool),
        Column {
            name: "valid_from",
            kind: Kind::Timestamptz,
            on_update: OnUpdate::Expr("greatest(t.valid_from, {new})"),
        },
        PROVENANCE[1],
        PROVENANCE[2],
    ],
    insert_or_nothing: false,
    audit: Some(Audit {
        table: "planned_movement_audit",
        extra: &[],
        valid_until: "greatest(t.valid_from, {until})",
    }),
};

/// A new patient living on as itself (M3), with its first demographics if any (D1).
pub(crate) fn new_patient(
    wave: &mut Wave,
    mrn: Option<&str>,
    nhs_number: Option<&str>,
    demographics: Option<&Demographics>,
    context: &Context<'_>,
) -> RowRef {
    let patient = wave.insert(
        &MRN,
        [
            mrn.into(),
            nhs_number.into(),
            context.source_system.into(),
            context.stored_from.into(),
            context.source_ids_id.into(),
        ],
    );
    let valid = provenance(context.valid_from, context);
    if let Some(d) = demographics {
        let values = std::iter::once(patient.into()).chain(d.values());
        wave.insert(&CORE_DEMOGRAPHIC, values.chain(valid.clone()));
    }
    let live = [patient.into(), patient.into()];
    wave.insert(&MRN_TO_LIVE, live.into_iter().chain(valid));
    patient
}

/// A visit's state as `hospital_visit` columns after the encounter, then provenance.
fn visit_values(
    patient: RowRef,
    state: &VisitState,
    valid_from: DateTime<Utc>,
    context: &Context<'_>,
) -> impl Iterator<Item = Value> {
    let values: [Value; 9] = [
        patient.into(),
        state.source_system.clone().into(),
        state.presentation_datetime.into(),
        state.admission_datetime.into(),
        state.discharge_datetime.into(),
        state.patient_class.clone().into(),
        state.arrival_method.clone().into(),
        state.discharge_destination.clone().into(),
        state.discharge_disposition.clone().into(),
    ];
    values.into_iter().chain(provenance(valid_from, context))
}

/// A new visit of `patient`.
pub(crate) fn new_visit(
    wave: &mut Wave,
    patient: RowRef,
    encounter: &str,
    state: &VisitState,
    context: &Context<'_>,
) -> RowRef {
    let values = std::iter::once(encounter.into()).chain(visit_values(
        patient,
        state,
        context.valid_from,
        context,
    ));
    wave.insert(&HOSPITAL_VISIT, values)
}

/// The stored visit `id` takes `state`, valid from `valid_from`; its previous state is audited
/// first if `audit` (G3).
pub(crate) fn visit_change(
    wave: &mut Wave,
    id: i64,
    state: &VisitState,
    valid_from: DateTime<Utc>,
    audit: bool,
    context: &Context<'_>,
) {
    if audit {
        wave.audit(&HOSPITAL_VISIT, id, valid_from, context.stored_from);
    }
    let owner = RowRef::Stored(state.mrn_id);
    wave.update(
        &HOSPITAL_VISIT,
        id,
        visit_values(owner, state, valid_from, context),
    );
}

/// A movement received for `visit`.
pub(crate) fn movement(wave: &mut Wave, visit: RowRef, m: &Movement, context: &Context<'_>) {
    let values: [Value; 9] = [
        visit.into(),
        m.kind.as_str().into(),
        m.at.into(),
        m.location.as_ref().map(|p| p.id).into(),
        m.previous.as_ref().map(|p| p.id).into(),
        m.admission.into(),
        m.presentation.into(),
        m.disposition.clone().into(),
        m.destination.clone().into(),
    ];
    let valid = provenance(context.valid_from, context);
    wave.insert(&VISIT_MOVEMENT, values.into_iter().chain(valid));
}

/// A cancellation received for the stored visit `visit`.
pub(crate) fn cancellation(wave: &mut Wave, visit: i64, c: &Cancellation, context: &Context<'_>) {
    let values: [Value; 4] = [
        RowRef::Stored(visit).into(),
        c.kind.as_str().into(),
        c.at.into(),
        c.location.as_ref().map(|p| p.id).into(),
    ];
    let valid = provenance(context.valid_from, context);
    wave.insert(&MOVEMENT_CANCELLATION, values.into_iter().chain(valid));
}

/// A stay's times and whether they are inferred, as `location_visit` columns.
fn stay_values(stay: &Stay) -> [Value; 4] {
    [
        stay.admission.into(),
        stay.discharge.into(),
        stay.inferred_admission.into(),
        stay.inferred_discharge.into(),
    ]
}

/// A stored location visit changed to `stay`, its previous state audited.
pub(crate) fn stay_change(wave: &mut Wave, id: i64, stay: &Stay, context: &Context<'_>) {
    wave.audit(&LOCATION_VISIT, id, context.valid_from, context.stored_from);
    let valid = provenance(context.valid_from, context);
    wave.update(
        &LOCATION_VISIT,
        id,
        stay_values(stay).into_iter().chain(valid),
    );
}

/// A stored location visit removed, its last state audited.
pub(crate) fn stay_delete(wave: &mut Wave, id: i64, context: &Context<'_>) {
    wave.audit(&LOCATION_VISIT, id, context.valid_from, context.stored_from);
    wave.delete(&LOCATION_VISIT, id);
}

/// A new location visit of `visit`.
pub(crate) fn stay_insert(wave: &mut Wave, visit: RowRef, stay: &Stay, context: &Context<'_>) {
    let place = [visit.into(), stay.location.id.into()];
    let valid = provenance(context.valid_from, context);
    let values = place.into_iter().chain(stay_values(stay)).chain(valid);
    wave.insert(&LOCATION_VISIT, values);
}

/// A plan's request and cancellation times as `planned_movement` columns.
fn plan_values(requested: Option<DateTime<Utc>>, cancelled: Option<DateTime<Utc>>) -> [Value; 3] {
    [
        requested.into(),
        cancelled.into(),
        cancelled.is_some().into(),
    ]
}

/// A stored planned movement re-paired (P2), its previous state audited.
pub(crate) fn plan_change(
    wave: &mut Wave,
    id: i64,
    requested: Option<DateTime<Utc>>,
    cancelled: Option<DateTime<Utc>>,
    context: &Context<'_>,
) {
    wave.audit(
        &PLANNED_MOVEMENT,
        id,
        context.valid_from,
        context.stored_from,
    );
    let values = plan_values(requested, cancelled);
    let valid = provenance(context.valid_from, context);
    wave.update(&PLANNED_MOVEMENT, id, values.into_iter().chain(valid));
}

/// A stored planned movement removed, its last state audited.
pub(crate) fn plan_delete(wave: &mut Wave, id: i64, context: &Context<'_>) {
    wave.audit(
        &PLANNED_MOVEMENT,
        id,
        context.valid_from,
        context.stored_from,
    );
    wave.delete(&PLANNED_MOVEMENT, id);
}

/// A new planned movement of `kind` to `location` for the stored visit `visit` (P1), with its
/// request and cancellation times.
pub(crate) fn plan_insert(
    wave: &mut Wave,
    visit: i64,
    location: Option<i64>,
    kind: &str,
    (requested, cancelled): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    context: &Context<'_>,
) {
    let place = [RowRef::Stored(visit).into(), location.into(), kind.into()];
    let values = plan_values(requested, cancelled);
    let valid = provenance(context.valid_from, context);
    let row = place.into_iter().chain(values).chain(valid);
    wave.insert(&PLANNED_MOVEMENT, row);
}
