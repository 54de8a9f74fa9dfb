//! Writing what messages derive from movements, set-wise: a wave's worth in one statement.
//!
//! A movement or cancellation writes a handful of rows in several tables — the fact, the visit
//! (audited), the re-derived location visits (audited, updated, deleted, inserted), and for a
//! first movement the new visit and perhaps the new patient. Written message by message, each
//! statement costs PostgreSQL its parse-bind-execute start-up and end, and that, not the rows,
//! was most of the processor's work. So [`locations`](crate::locations) adds a message's rows to
//! a [`Writes`] and a lane writes each wave's at once ([`Writes::flush`]): one statement, each
//! table's rows in one `unnest`. That is safe because a wave holds each group of patients once
//! (`lanes::waves`): no message of a wave reads or writes what another's rows touch, so writing
//! them at the wave's end instead of one by one changes no row. Outside a lane (and in a lane
//! applied with a savepoint per message) a message's rows are flushed at once, through the same
//! statement, so there is one implementation of these writes.
//!
//! New visits and patients take their ids from their sequences inside the statement, so the
//! movements, stays and demographics written with them can name them.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;

use crate::Context;
use crate::demographics::{self, Demographics};
use crate::locations::STAY_COLUMNS;
use crate::movements::{Cancellation, Movement, Stay};
use crate::visits::VisitState;

/// Rows to write, each table's as columns. New patients and visits are named by their position
/// (from 1) in `patients` and `visits`.
#[derive(Debug, Default)]
pub(crate) struct Writes {
    patients: Patients,
    visits: NewVisits,
    movements: Movements,
    cancellations: Cancellations,
    visit_audits: Audits,
    visit_updates: VisitUpdates,
    stay_audits: Audits,
    stay_updates: StayUpdates,
    stay_deletes: Vec<i64>,
    stay_inserts: StayInserts,
}

/// A visit rows refer to: stored, or created by these writes (its position in `visits`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum VisitRef {
    Stored(i64),
    New(i64),
}

/// A patient a new visit belongs to: stored (its live MRN id), or created by these writes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PatientRef {
    Stored(i64),
    New(i64),
}

/// What every written row records of the message: valid-from, stored-from, source message.
#[derive(Debug, Default)]
struct Provenance {
    valid_from: Vec<DateTime<Utc>>,
    stored_from: Vec<DateTime<Utc>>,
    source_ids_id: Vec<Option<String>>,
}

impl Provenance {
    fn push(&mut self, valid_from: DateTime<Utc>, context: &Context<'_>) {
        self.valid_from.push(valid_from);
        self.stored_from.push(context.stored_from);
        self.source_ids_id
            .push(context.source_ids_id.map(str::to_owned));
    }

    fn bind<'q>(
        &'q self,
        query: Query<'q, Postgres, PgArguments>,
    ) -> Query<'q, Postgres, PgArguments> {
        query
            .bind(&self.valid_from)
            .bind(&self.stored_from)
            .bind(&self.source_ids_id)
    }
}

#[derive(Debug, Default)]
struct Patients {
    mrn: Vec<Option<String>>,
    nhs_number: Vec<Option<String>>,
    source_system: Vec<Option<String>>,
    has_demographics: Vec<bool>,
    demographics: demographics::Columns,
    provenance: Provenance,
}

#[derive(Debug, Default)]
struct VisitColumns {
    mrn_id: Vec<Option<i64>>,
    source_system: Vec<String>,
    presentation: Vec<Option<DateTime<Utc>>>,
    admission: Vec<Option<DateTime<Utc>>>,
    discharge: Vec<Option<DateTime<Utc>>>,
    patient_class: Vec<Option<String>>,
    arrival_method: Vec<Option<String>>,
    destination: Vec<Option<String>>,
    disposition: Vec<Option<String>>,
}

impl VisitColumns {
    fn push(&mut self, mrn_id: Option<i64>, state: &VisitState) {
        self.mrn_id.push(mrn_id);
        self.source_system.push(state.source_system.clone());
        self.presentation.push(state.presentation_datetime);
        self.admission.push(state.admission_datetime);
        self.discharge.push(state.discharge_datetime);
        self.patient_class.push(state.patient_class.clone());
        self.arrival_method.push(state.arrival_method.clone());
        self.destination.push(state.discharge_destination.clone());
        self.disposition.push(state.discharge_disposition.clone());
    }

    fn bind<'q>(
        &'q self,
        query: Query<'q, Postgres, PgArguments>,
    ) -> Query<'q, Postgres, PgArguments> {
        query
            .bind(&self.mrn_id)
            .bind(&self.source_system)
            .bind(&self.presentation)
            .bind(&self.admission)
            .bind(&self.discharge)
            .bind(&self.patient_class)
            .bind(&self.arrival_method)
            .bind(&self.destination)
            .bind(&self.disposition)
    }
}

#[derive(Debug, Default)]
struct NewVisits {
    encounter: Vec<String>,
    /// The new patient's position when the patient is new too.
    patient: Vec<Option<i64>>,
    state: VisitColumns,
    provenance: Provenance,
}

/// Columns naming a visit, stored or new.
#[derive(Debug, Default)]
struct VisitRefs {
    stored: Vec<Option<i64>>,
    new: Vec<Option<i64>>,
}

impl VisitRefs {
    fn push(&mut self, visit: VisitRef) {
        let (stored, new) = match visit {
            VisitRef::Stored(id) => (Some(id), None),
            VisitRef::New(n) => (None, Some(n)),
        };
        self.stored.push(stored);
        self.new.push(new);
    }
}

#[derive(Debug, Default)]
struct Movements {
    visit: VisitRefs,
    kind: Vec<&'static str>,
    at: Vec<DateTime<Utc>>,
    location: Vec<Option<i64>>,
    previous: Vec<Option<i64>>,
    admission: Vec<Option<DateTime<Utc>>>,
    presentation: Vec<Option<DateTime<Utc>>>,
    disposition: Vec<Option<String>>,
    destination: Vec<Option<String>>,
    provenance: Provenance,
}

#[derive(Debug, Default)]
struct Cancellations {
    visit: Vec<i64>,
    kind: Vec<&'static str>,
    at: Vec<DateTime<Utc>>,
    location: Vec<Option<i64>>,
    provenance: Provenance,
}

/// Rows whose current state goes to the audit table, by id, with the time their state ended.
#[derive(Debug, Default)]
struct Audits {
    id: Vec<i64>,
    valid_until: Vec<DateTime<Utc>>,
    stored_until: Vec<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct VisitUpdates {
    id: Vec<i64>,
    state: VisitColumns,
    provenance: Provenance,
}

#[derive(Debug, Default)]
struct StayValues {
    admission: Vec<Option<DateTime<Utc>>>,
    discharge: Vec<Option<DateTime<Utc>>>,
    inferred_admission: Vec<bool>,
    inferred_discharge: Vec<bool>,
}

impl StayValues {
    fn push(&mut self, stay: &Stay) {
        self.admission.push(Some(stay.admission));
        self.discharge.push(stay.discharge);
        self.inferred_admission.push(stay.inferred_admission);
        self.inferred_discharge.push(stay.inferred_discharge);
    }

    fn bind<'q>(
        &'q self,
        query: Query<'q, Postgres, PgArguments>,
    ) -> Query<'q, Postgres, PgArguments> {
        query
            .bind(&self.admission)
            .bind(&self.discharge)
            .bind(&self.inferred_admission)
            .bind(&self.inferred_discharge)
    }
}

#[derive(Debug, Default)]
struct StayUpdates {
    id: Vec<i64>,
    values: StayValues,
    provenance: Provenance,
}

#[derive(Debug, Default)]
struct StayInserts {
    visit: VisitRefs,
    location: Vec<i64>,
    values: StayValues,
    provenance: Provenance,
}

impl Writes {
    /// A new patient (living on as itself, M3), with its first demographics if any; returns
    /// its position.
    pub(crate) fn new_patient(
        &mut self,
        mrn: Option<&str>,
        nhs_number: Option<&str>,
        demographics: Option<&Demographics>,
        context: &Context<'_>,
    ) -> PatientRef {
        let p = &mut self.patients;
        p.mrn.push(mrn.map(str::to_owned));
        p.nhs_number.push(nhs_number.map(str::to_owned));
        p.source_system
            .push(context.source_system.map(str::to_owned));
        p.has_demographics.push(demographics.is_some());
        p.demographics
            .push(demographics.unwrap_or(&Demographics::default()));
        p.provenance.push(context.valid_from, context);
        PatientRef::New(p.mrn.len() as i64)
    }

    /// A new visit of `patient`; returns its position.
    pub(crate) fn new_visit(
        &mut self,
        patient: PatientRef,
        encounter: &str,
        state: &VisitState,
        context: &Context<'_>,
    ) -> VisitRef {
        let v = &mut self.visits;
        let (stored, new) = match patient {
            PatientRef::Stored(id) => (Some(id), None),
            PatientRef::New(n) => (None, Some(n)),
        };
        v.encounter.push(encounter.to_owned());
        v.patient.push(new);
        v.state.push(stored, state);
        v.provenance.push(context.valid_from, context);
        VisitRef::New(v.encounter.len() as i64)
    }

    /// A movement received for `visit`.
    pub(crate) fn movement(&mut self, visit: VisitRef, m: &Movement, context: &Context<'_>) {
        let w = &mut self.movements;
        w.visit.push(visit);
        w.kind.push(m.kind.as_str());
        w.at.push(m.at);
        w.location.push(m.location.as_ref().map(|p| p.id));
        w.previous.push(m.previous.as_ref().map(|p| p.id));
        w.admission.push(m.admission);
        w.presentation.push(m.presentation);
        w.disposition.push(m.disposition.clone());
        w.destination.push(m.destination.clone());
        w.provenance.push(context.valid_from, context);
    }

    /// A cancellation received for the stored visit `visit`.
    pub(crate) fn cancellation(&mut self, visit: i64, c: &Cancellation, context: &Context<'_>) {
        let w = &mut self.cancellations;
        w.visit.push(visit);
        w.kind.push(c.kind.as_str());
        w.at.push(c.at);
        w.location.push(c.location.as_ref().map(|p| p.id));
        w.provenance.push(context.valid_from, context);
    }

    /// The stored visit `id` takes `state`, valid from `valid_from`; its previous state is
    /// audited first if `audit` (G3).
    pub(crate) fn visit_change(
        &mut self,
        id: i64,
        state: &VisitState,
        valid_from: DateTime<Utc>,
        audit: bool,
        context: &Context<'_>,
    ) {
        if audit {
            self.visit_audits.id.push(id);
            self.visit_audits.valid_until.push(valid_from);
            self.visit_audits.stored_until.push(context.stored_from);
        }
        let u = &mut self.visit_updates;
        u.id.push(id);
        u.state.push(Some(state.mrn_id), state);
        u.provenance.push(valid_from, context);
    }

    /// A stored location visit changed to `stay`, its previous state audited.
    pub(crate) fn stay_change(&mut self, id: i64, stay: &Stay, context: &Context<'_>) {
        self.stay_audit(id, context);
        let u = &mut self.stay_updates;
        u.id.push(id);
        u.values.push(stay);
        u.provenance.push(context.valid_from, context);
    }

    /// A stored location visit removed, its last state audited.
    pub(crate) fn stay_delete(&mut self, id: i64, context: &Context<'_>) {
        self.stay_audit(id, context);
        self.stay_deletes.push(id);
    }

    fn stay_audit(&mut self, id: i64, context: &Context<'_>) {
        self.stay_audits.id.push(id);
        self.stay_audits.valid_until.push(context.valid_from);
        self.stay_audits.stored_until.push(context.stored_from);
    }

    /// A new location visit of `visit`.
    pub(crate) fn stay_insert(&mut self, visit: VisitRef, stay: &Stay, context: &Context<'_>) {
        let i = &mut self.stay_inserts;
        i.visit.push(visit);
        i.location.push(stay.location.id);
        i.values.push(stay);
        i.provenance.push(context.valid_from, context);
    }

    fn is_empty(&self) -> bool {
        self.patients.mrn.is_empty()
            && self.visits.encounter.is_empty()
            && self.movements.kind.is_empty()
            && self.cancellations.kind.is_empty()
            && self.visit_updates.id.is_empty()
            && self.stay_audits.id.is_empty()
            && self.stay_inserts.location.is_empty()
    }

    /// Writes every row in one statement (only the parts with rows: each part costs its
    /// start-up and end even when empty), and empties `self`.
    ///
    /// The statement is planned afresh for each call, with its arrays, not prepared once: a
    /// generic plan cached while the tables were small (a new schema, a replay) joins them by
    /// scanning them whole once they are not — a wave of a new `star` took 20 ms instead of
    /// 2 — and a plan costs a small share of a wave's rows.
    pub(crate) async fn flush(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.is_empty() {
            return Ok(());
        }
        let writes = self;
        let mut parts: Vec<String> = Vec::new();
        let mut n = 0;
        // The next placeholders, one per type, as `$n::type, …`.
        let mut params = |types: &[&str]| -> String {
            let out: Vec<String> = types
                .iter()
                .map(|t| {
                    n += 1;
                    format!("${n}::{t}")
                })
                .collect();
            out.join(", ")
        };
        const PROVENANCE: [&str; 3] = ["timestamptz[]", "timestamptz[]", "text[]"];
        const VISIT: [&str; 9] = [
            "int8[]",
            "text[]",
            "timestamptz[]",
            "timestamptz[]",
            "timestamptz[]",
            "text[]",
            "text[]",
            "text[]",
            "text[]",
        ];
        const STAY: [&str; 4] = ["timestamptz[]", "timestamptz[]", "bool[]", "bool[]"];
        const AUDIT: [&str; 3] = ["int8[]", "timestamptz[]", "timestamptz[]"];
        let has_patients = !writes.patients.mrn.is_empty();
        let has_visits = !writes.visits.encounter.is_empty();
        if has_patients {
            let mut types = vec!["text[]", "text[]", "text[]", "bool[]"];
            types.extend(demographics::Columns::TYPES);
            types.extend(PROVENANCE);
            parts.push(format!(
                "np AS (
                     SELECT p.*, nextval((SELECT pg_get_serial_sequence('mrn', 'mrn_id'))::regclass) AS mrn_id
                     FROM unnest({}) WITH ORDINALITY
                          AS p (mrn, nhs_number, source_system, has_demographics, {demographics},
                                valid_from, stored_from, source_ids_id, n)),
                 np_mrn AS (
                     INSERT INTO mrn (mrn_id, mrn, nhs_number, source_system, stored_from,
                                      source_ids_id)
                     OVERRIDING SYSTEM VALUE
                     SELECT mrn_id, mrn, nhs_number, source_system, stored_from, source_ids_id
                     FROM np),
                 np_demographics AS (
                     INSERT INTO core_demographic
                         (mrn_id, {demographics}, valid_from, stored_from, source_ids_id)
                     SELECT mrn_id, {demographics}, valid_from, stored_from, source_ids_id
                     FROM np WHERE has_demographics),
                 np_live AS (
                     INSERT INTO mrn_to_live
                         (mrn_id, live_mrn_id, valid_from, stored_from, source_ids_id)
                     SELECT mrn_id, mrn_id, valid_from, stored_from, source_ids_id FROM np)",
                params(&types),
                demographics = demographics::COLUMNS,
            ));
        }
        if has_visits {
            let mut types = vec!["text[]", "int8[]"];
            types.extend(VISIT);
            types.extend(PROVENANCE);
            let (mrn_id, patient_join) = if has_patients {
                (
                    "coalesce(v.mrn_id, np.mrn_id)",
                    "LEFT JOIN np ON np.n = v.patient",
                )
            } else {
                ("v.mrn_id", "")
            };
            parts.push(format!(
                "nv AS (
                     SELECT v.*, {mrn_id} AS live_mrn_id,
                            nextval((SELECT pg_get_serial_sequence('hospital_visit', 'hospital_visit_id'))::regclass)
                                AS hospital_visit_id
                     FROM unnest({}) WITH ORDINALITY
                          AS v (encounter, patient, mrn_id, source_system, presentation_datetime,
                                admission_datetime, discharge_datetime, patient_class,
                                arrival_method, discharge_destination, discharge_disposition,
                                valid_from, stored_from, source_ids_id, n)
                     {patient_join}),
                 nv_visit AS (
                     INSERT INTO hospital_visit
                         (hospital_visit_id, encounter, mrn_id, source_system,
                          presentation_datetime, admission_datetime, discharge_datetime,
                          patient_class, arrival_method, discharge_destination,
                          discharge_disposition, valid_from, stored_from, source_ids_id)
                     OVERRIDING SYSTEM VALUE
                     SELECT hospital_visit_id, encounter, live_mrn_id, source_system,
                            presentation_datetime, admission_datetime, discharge_datetime,
                            patient_class, arrival_method, discharge_destination,
                            discharge_disposition, valid_from, stored_from, source_ids_id
                     FROM nv)",
                params(&types)
            ));
        }
        // A row's visit: stored, or new (by position).
        let (visit_join, visit_id) = if has_visits {
            (
                "LEFT JOIN nv ON nv.n = r.new_visit",
                "coalesce(r.visit_id, nv.hospital_visit_id)",
            )
        } else {
            ("", "r.visit_id")
        };
        if !writes.movements.kind.is_empty() {
            let mut types = vec![
                "int8[]",
                "int8[]",
                "text[]",
                "timestamptz[]",
                "int8[]",
                "int8[]",
                "timestamptz[]",
                "timestamptz[]",
                "text[]",
                "text[]",
            ];
            types.extend(PROVENANCE);
            parts.push(format!(
                "movements AS (
                     INSERT INTO visit_movement
                         (hospital_visit_id, event_type, event_datetime, location_id,
                          previous_location_id, admission_datetime, presentation_datetime,
                          discharge_disposition, discharge_destination, valid_from, stored_from,
                          source_ids_id)
                     SELECT {visit_id}, r.event_type, r.event_datetime, r.location_id,
                            r.previous_location_id, r.admission_datetime,
                            r.presentation_datetime, r.discharge_disposition,
                            r.discharge_destination, r.valid_from, r.stored_from, r.source_ids_id
                     FROM unnest({}) AS r (visit_id, new_visit, event_type, event_datetime,
                                           location_id, previous_location_id,
                                           admission_datetime, presentation_datetime,
                                           discharge_disposition, discharge_destination,
                                           valid_from, stored_from, source_ids_id)
                     {visit_join}
                     ON CONFLICT DO NOTHING)",
                params(&types)
            ));
        }
        if !writes.cancellations.kind.is_empty() {
            let mut types = vec!["int8[]", "text[]", "timestamptz[]", "int8[]"];
            types.extend(PROVENANCE);
            parts.push(format!(
                "cancellations AS (
                     INSERT INTO movement_cancellation
                         (hospital_visit_id, event_type, cancelled_datetime, location_id,
                          valid_from, stored_from, source_ids_id)
                     SELECT * FROM unnest({})
                     ON CONFLICT DO NOTHING)",
                params(&types)
            ));
        }
        if !writes.visit_audits.id.is_empty() {
            parts.push(format!(
                "visits_audited AS (
                     INSERT INTO hospital_visit_audit
                         (hospital_visit_id, encounter, mrn_id, source_system,
                          presentation_datetime, admission_datetime, discharge_datetime,
                          patient_class, arrival_method, discharge_destination,
                          discharge_disposition, valid_from, valid_until, stored_from,
                          stored_until, source_ids_id)
                     SELECT h.hospital_visit_id, h.encounter, h.mrn_id, h.source_system,
                            h.presentation_datetime, h.admission_datetime, h.discharge_datetime,
                            h.patient_class, h.arrival_method, h.discharge_destination,
                            h.discharge_disposition, h.valid_from, a.valid_until, h.stored_from,
                            a.stored_until, h.source_ids_id
                     FROM unnest({}) AS a (id, valid_until, stored_until)
                     JOIN hospital_visit h ON h.hospital_visit_id = a.id)",
                params(&AUDIT)
            ));
        }
        if !writes.visit_updates.id.is_empty() {
            let mut types = vec!["int8[]"];
            types.extend(VISIT);
            types.extend(PROVENANCE);
            parts.push(format!(
                "visits_updated AS (
                     UPDATE hospital_visit h SET mrn_id = u.mrn_id,
                         source_system = u.source_system,
                         presentation_datetime = u.presentation_datetime,
                         admission_datetime = u.admission_datetime,
                         discharge_datetime = u.discharge_datetime,
                         patient_class = u.patient_class, arrival_method = u.arrival_method,
                         discharge_destination = u.discharge_destination,
                         discharge_disposition = u.discharge_disposition,
                         valid_from = u.valid_from, stored_from = u.stored_from,
                         source_ids_id = u.source_ids_id
                     FROM unnest({}) AS u (id, mrn_id, source_system, presentation_datetime,
                                           admission_datetime, discharge_datetime,
                                           patient_class, arrival_method,
                                           discharge_destination, discharge_disposition,
                                           valid_from, stored_from, source_ids_id)
                     WHERE h.hospital_visit_id = u.id)",
                params(&types)
            ));
        }
        if !writes.stay_audits.id.is_empty() {
            let columns: Vec<String> = STAY_COLUMNS
                .split(", ")
                .map(|c| format!("lv.{c}"))
                .collect();
            parts.push(format!(
                "stays_audited AS (
                     INSERT INTO location_visit_audit
                         ({STAY_COLUMNS}, valid_from, valid_until, stored_from, stored_until,
                          source_ids_id)
                     SELECT {}, lv.valid_from, greatest(lv.valid_from, a.valid_until),
                            lv.stored_from, a.stored_until, lv.source_ids_id
                     FROM unnest({}) AS a (id, valid_until, stored_until)
                     JOIN location_visit lv ON lv.location_visit_id = a.id)",
                columns.join(", "),
                params(&AUDIT)
            ));
        }
        if !writes.stay_updates.id.is_empty() {
            let mut types = vec!["int8[]"];
            types.extend(STAY);
            types.extend(PROVENANCE);
            parts.push(format!(
                "stays_updated AS (
                     UPDATE location_visit lv SET admission_datetime = c.admission,
                         discharge_datetime = c.discharge,
                         inferred_admission = c.inferred_admission,
                         inferred_discharge = c.inferred_discharge,
                         valid_from = greatest(lv.valid_from, c.valid_from),
                         stored_from = c.stored_from, source_ids_id = c.source_ids_id
                     FROM unnest({}) AS c (id, admission, discharge, inferred_admission,
                                           inferred_discharge, valid_from, stored_from,
                                           source_ids_id)
                     WHERE lv.location_visit_id = c.id)",
                params(&types)
            ));
        }
        if !writes.stay_deletes.is_empty() {
            parts.push(format!(
                "stays_deleted AS (
                     DELETE FROM location_visit WHERE location_visit_id = ANY({}))",
                params(&["int8[]"])
            ));
        }
        if !writes.stay_inserts.location.is_empty() {
            let mut types = vec!["int8[]", "int8[]", "int8[]"];
            types.extend(STAY);
            types.extend(PROVENANCE);
            // In the order given, so a visit's new stays take ids in the order derived (ties
            // between stays are broken by id when pairing them later).
            parts.push(format!(
                "stays_inserted AS (
                     INSERT INTO location_visit
                         (hospital_visit_id, location_id, admission_datetime, discharge_datetime,
                          inferred_admission, inferred_discharge, valid_from, stored_from,
                          source_ids_id)
                     SELECT {visit_id}, r.location_id, r.admission, r.discharge,
                            r.inferred_admission, r.inferred_discharge, r.valid_from,
                            r.stored_from, r.source_ids_id
                     FROM unnest({}) WITH ORDINALITY
                          AS r (visit_id, new_visit, location_id, admission, discharge,
                                inferred_admission, inferred_discharge, valid_from, stored_from,
                                source_ids_id, ord)
                     {visit_join}
                     ORDER BY r.ord)",
                params(&types)
            ));
        }
        let sql = format!("WITH {} SELECT 1", parts.join(",\n"));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
        if has_patients {
            let p = &writes.patients;
            query = query
                .bind(&p.mrn)
                .bind(&p.nhs_number)
                .bind(&p.source_system)
                .bind(&p.has_demographics);
            query = p.demographics.bind(query);
            query = p.provenance.bind(query);
        }
        if has_visits {
            let v = &writes.visits;
            query = query.bind(&v.encounter).bind(&v.patient);
            query = v.state.bind(query);
            query = v.provenance.bind(query);
        }
        let m = &writes.movements;
        if !m.kind.is_empty() {
            query = query
                .bind(&m.visit.stored)
                .bind(&m.visit.new)
                .bind(&m.kind)
                .bind(&m.at)
                .bind(&m.location)
                .bind(&m.previous)
                .bind(&m.admission)
                .bind(&m.presentation)
                .bind(&m.disposition)
                .bind(&m.destination);
            query = m.provenance.bind(query);
        }
        let c = &writes.cancellations;
        if !c.kind.is_empty() {
            query = query
                .bind(&c.visit)
                .bind(&c.kind)
                .bind(&c.at)
                .bind(&c.location);
            query = c.provenance.bind(query);
        }
        let a = &writes.visit_audits;
        if !a.id.is_empty() {
            query = query.bind(&a.id).bind(&a.valid_until).bind(&a.stored_until);
        }
        let u = &writes.visit_updates;
        if !u.id.is_empty() {
            query = query.bind(&u.id);
            query = u.state.bind(query);
            query = u.provenance.bind(query);
        }
        let a = &writes.stay_audits;
        if !a.id.is_empty() {
            query = query.bind(&a.id).bind(&a.valid_until).bind(&a.stored_until);
        }
        let u = &writes.stay_updates;
        if !u.id.is_empty() {
            query = query.bind(&u.id);
            query = u.values.bind(query);
            query = u.provenance.bind(query);
        }
        if !writes.stay_deletes.is_empty() {
            query = query.bind(&writes.stay_deletes);
        }
        let i = &writes.stay_inserts;
        if !i.location.is_empty() {
            query = query
                .bind(&i.visit.stored)
                .bind(&i.visit.new)
                .bind(&i.location);
            query = i.values.bind(query);
            query = i.provenance.bind(query);
        }
        query.execute(&mut *conn).await?;
        Ok(())
    }
}

/// The rows a wave has gathered so far, taken out (the wave starts again empty).
pub(crate) fn take(wave: &Mutex<Writes>) -> Result<Writes, sqlx::Error> {
    Ok(std::mem::take(&mut *wave.lock().map_err(poisoned)?))
}

/// A wave's lock poisoned by a panic. Nothing panics while holding it; were it poisoned, its
/// rows must not be lost silently: the lane fails (and is applied again).
pub(crate) fn poisoned<T>(_: std::sync::PoisonError<T>) -> sqlx::Error {
    sqlx::Error::Protocol("a lane's wave writes were poisoned".to_owned())
}
