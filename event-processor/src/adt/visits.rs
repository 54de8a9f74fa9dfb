//! Hospital visits (rules V1–V9, C2–C4, C6, C10).
//!
//! A visit is found by its encounter (V1) and created on first sight with what the message says,
//! attached to the patient's live MRN. Its generic attributes (patient class, arrival method,
//! source system) change only for a trusted message that is not older than the row, or when the
//! row came from an untrusted source (V2, V9, C3, C10). Its presentation, admission and discharge
//! come from the movement facts ([`super::movements::visit_times`], V3–V8), so they do not depend
//! on arrival order. A change first copies the previous state to `hospital_visit_audit` (G3).

use chrono::{DateTime, Utc};
use interchange::adt::AdtFields;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres, Row as _};

use super::facts::{self, StoredFacts};
use super::movements::VisitTimes;
use crate::engine::{Context, ProcessError, reject};

/// What a hospital visit row holds, bar its keys and provenance.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub(crate) struct VisitState {
    pub mrn_id: i64,
    pub source_system: String,
    pub presentation_datetime: Option<DateTime<Utc>>,
    pub admission_datetime: Option<DateTime<Utc>>,
    pub discharge_datetime: Option<DateTime<Utc>>,
    pub patient_class: Option<String>,
    pub arrival_method: Option<String>,
    pub discharge_destination: Option<String>,
    pub discharge_disposition: Option<String>,
}

impl VisitState {
    /// The generic attributes the message gives, applied (G1).
    fn with_attributes_of(&self, adt: &AdtFields, source_system: &str) -> VisitState {
        VisitState {
            source_system: source_system.to_owned(),
            patient_class: adt
                .patient_class
                .clone()
                .map(|c| c.as_str().to_owned())
                .apply_to(self.patient_class.clone()),
            arrival_method: adt
                .mode_of_arrival
                .clone()
                .apply_to(self.arrival_method.clone()),
            ..self.clone()
        }
    }

    /// The times the movement facts give.
    pub(crate) fn with_times(&self, times: VisitTimes) -> VisitState {
        VisitState {
            presentation_datetime: times.presentation,
            admission_datetime: times.admission,
            discharge_datetime: times.discharge,
            discharge_disposition: times.disposition,
            discharge_destination: times.destination,
            ..self.clone()
        }
    }
}

/// A visit as read for this message: what is stored, and what this message wants stored
/// ([`save`] writes the difference once, however many rules changed it).
pub(crate) struct Visit {
    pub id: i64,
    pub valid_from: DateTime<Utc>,
    stored: VisitState,
    pub state: VisitState,
    /// Created by this message: its first state is not a previous state worth auditing.
    created: bool,
    /// Its facts, when read together with it ([`super::patient::patient_or_new`]).
    facts: Option<StoredFacts>,
}

impl Visit {
    /// Whether this message created the visit (so nothing else refers to it yet).
    pub(crate) fn is_new(&self) -> bool {
        self.created
    }

    /// The visit's facts if they were read with it (taken: they go stale once written).
    pub(crate) fn take_facts(&mut self) -> Option<StoredFacts> {
        self.facts.take()
    }

    fn stored(
        id: i64,
        valid_from: DateTime<Utc>,
        state: VisitState,
        facts: Option<StoredFacts>,
    ) -> Visit {
        Visit {
            id,
            valid_from,
            stored: state.clone(),
            state,
            created: false,
            facts,
        }
    }
}

/// The message's visit as its first read found it, or not read yet.
pub(crate) enum Prefetched {
    NotRead,
    Read(Option<Box<Visit>>),
}

/// A `hospital_visit` row read through an outer join with its facts ([`super::patient`]):
/// columns prefixed `visit_` where they would clash, all null when there is no visit.
#[derive(sqlx::FromRow)]
pub(crate) struct MaybeRow {
    hospital_visit_id: Option<i64>,
    visit_valid_from: Option<DateTime<Utc>>,
    visit_mrn_id: Option<i64>,
    visit_source_system: Option<String>,
    presentation_datetime: Option<DateTime<Utc>>,
    admission_datetime: Option<DateTime<Utc>>,
    discharge_datetime: Option<DateTime<Utc>>,
    patient_class: Option<String>,
    arrival_method: Option<String>,
    discharge_destination: Option<String>,
    discharge_disposition: Option<String>,
    #[sqlx(flatten)]
    facts: facts::FactColumns,
}

/// The columns of [`MaybeRow`] from a `hospital_visit` aliased `visit`, its live location
/// visits (locked) read from `live`, a table expression (see [`facts::live_sql`]).
pub(crate) fn maybe_row_sql(live: &str) -> String {
    format!(
        "visit.hospital_visit_id, visit.valid_from AS visit_valid_from, \
         visit.mrn_id AS visit_mrn_id, visit.source_system AS visit_source_system, \
         visit.presentation_datetime, visit.admission_datetime, visit.discharge_datetime, \
         visit.patient_class, visit.arrival_method, visit.discharge_destination, \
         visit.discharge_disposition, {facts}",
        facts = facts::fact_columns_sql("visit.hospital_visit_id", live)
    )
}

impl MaybeRow {
    /// The visit's id, if there is one.
    pub(crate) fn id(&self) -> Option<i64> {
        self.hospital_visit_id
    }

    pub(crate) fn visit(self) -> Option<Visit> {
        let state = VisitState {
            mrn_id: self.visit_mrn_id?,
            source_system: self.visit_source_system?,
            presentation_datetime: self.presentation_datetime,
            admission_datetime: self.admission_datetime,
            discharge_datetime: self.discharge_datetime,
            patient_class: self.patient_class,
            arrival_method: self.arrival_method,
            discharge_destination: self.discharge_destination,
            discharge_disposition: self.discharge_disposition,
        };
        Some(Visit::stored(
            self.hospital_visit_id?,
            self.visit_valid_from?,
            state,
            Some(self.facts.stored()),
        ))
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    hospital_visit_id: i64,
    valid_from: DateTime<Utc>,
    #[sqlx(flatten)]
    state: VisitState,
}

const COLUMNS: &str = "mrn_id, source_system, presentation_datetime, admission_datetime, \
    discharge_datetime, patient_class, arrival_method, discharge_destination, discharge_disposition";

/// The source system to record for a message that names none.
const UNKNOWN_SOURCE: &str = "UNKNOWN";

/// The message's visit number, required for messages about a visit (V1).
pub(crate) fn encounter<'a>(
    adt: &'a AdtFields,
    rule: &'static str,
) -> Result<&'a str, ProcessError> {
    adt.visit_number
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| reject(rule, "the message names no visit number"))
}

/// The visit with this encounter, locked for this transaction.
pub(crate) async fn find(
    conn: &mut PgConnection,
    encounter: &str,
) -> Result<Option<Visit>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT hospital_visit_id, valid_from, {COLUMNS} FROM hospital_visit
         WHERE encounter = $1 FOR UPDATE"
    )))
    .bind(encounter)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|row| Visit::stored(row.hospital_visit_id, row.valid_from, row.state, None)))
}

/// Finds the visit, or creates it for `mrn_id` with the message's attributes (V1, C2, C7).
/// `update` says whether the message may change an existing visit's attributes at all (C6: an
/// A08 never does).
pub(crate) async fn find_or_create(
    conn: &mut PgConnection,
    encounter: &str,
    prefetched: Prefetched,
    mrn_id: i64,
    adt: &AdtFields,
    context: &Context<'_>,
    update: bool,
) -> Result<Visit, sqlx::Error> {
    match find_or_new(conn, encounter, prefetched, mrn_id, adt, context, update).await? {
        Found::Existing(visit) => Ok(*visit),
        Found::New(new) => new.insert(conn, context).await,
    }
}

/// A visit found, or one to create.
pub(crate) enum Found {
    Existing(Box<Visit>),
    New(NewVisit),
}

/// A visit this message creates, not written yet: so that its first fact can be stored with it
/// in one statement (`locations::record_first`).
pub(crate) struct NewVisit {
    pub encounter: String,
    pub state: VisitState,
}

/// [`find_or_create`], leaving a new visit unwritten.
pub(crate) async fn find_or_new(
    conn: &mut PgConnection,
    encounter: &str,
    prefetched: Prefetched,
    mrn_id: i64,
    adt: &AdtFields,
    context: &Context<'_>,
    update: bool,
) -> Result<Found, sqlx::Error> {
    let source = context.source_system.unwrap_or(UNKNOWN_SOURCE);
    let found = match prefetched {
        Prefetched::Read(found) => found.map(|visit| *visit),
        Prefetched::NotRead => find(conn, encounter).await?,
    };
    if let Some(mut visit) = found {
        if update {
            let row_trusted = context.is_trusted(&visit.stored.source_system);
            let newer = context.valid_from >= visit.valid_from;
            if context.trusted && (!row_trusted || newer) {
                visit.state = visit.stored.with_attributes_of(adt, source);
            }
        }
        return Ok(Found::Existing(Box::new(visit)));
    }
    Ok(Found::New(new_visit(encounter, mrn_id, adt, context)))
}

/// A visit to create for `mrn_id` with the message's attributes (V1, C2, C7).
pub(crate) fn new_visit(
    encounter: &str,
    mrn_id: i64,
    adt: &AdtFields,
    context: &Context<'_>,
) -> NewVisit {
    let source = context.source_system.unwrap_or(UNKNOWN_SOURCE);
    let empty = VisitState {
        mrn_id,
        source_system: source.to_owned(),
        presentation_datetime: None,
        admission_datetime: None,
        discharge_datetime: None,
        patient_class: None,
        arrival_method: None,
        discharge_destination: None,
        discharge_disposition: None,
    };
    NewVisit {
        encounter: encounter.to_owned(),
        state: empty.with_attributes_of(adt, source),
    }
}

/// The insert of a new `hospital_visit` row: `$2`–`$10` its state (as [`bind_state`] binds
/// it) but with `mrn_id` the SQL expression given (`$2` but for a patient created in the same
/// statement), `$11` valid-from, `$12` stored-from, `$13` the source message, `$14` the
/// encounter.
pub(crate) fn insert_sql(mrn_id: &str) -> String {
    format!(
        "INSERT INTO hospital_visit
             (encounter, mrn_id, source_system, presentation_datetime, admission_datetime,
              discharge_datetime, patient_class, arrival_method, discharge_destination,
              discharge_disposition, valid_from, stored_from, source_ids_id)
         VALUES ($14, {mrn_id}, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         RETURNING hospital_visit_id"
    )
}

impl NewVisit {
    /// Writes the visit as it is.
    pub(crate) async fn insert(
        self,
        conn: &mut PgConnection,
        context: &Context<'_>,
    ) -> Result<Visit, sqlx::Error> {
        // `$1` (a visit id in the other statements) is not used.
        let sql = insert_sql("$2");
        let id: i64 = bind_state(
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(0_i64),
            &self.state,
        )
        .bind(context.valid_from)
        .bind(context.stored_from)
        .bind(context.source_ids_id)
        .bind(&self.encounter)
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
        Ok(Visit {
            id,
            valid_from: context.valid_from,
            stored: self.state.clone(),
            state: self.state,
            created: true,
            facts: None,
        })
    }
}

/// What [`save`] writes, worked out without writing it.
pub(crate) struct Change<'a> {
    pub state: &'a VisitState,
    /// The row's new valid-from: never backwards, so a late message that changes a time leaves
    /// the row valid from the latest message that changed it.
    pub valid_from: DateTime<Utc>,
    /// Whether the previous state goes to the audit table: not when this message created the
    /// row (its first state is not a previous state worth auditing).
    pub audit: bool,
}

impl Visit {
    /// The change this message makes to the stored row; `None` when nothing differs (G2).
    pub(crate) fn change(&self, context: &Context<'_>) -> Option<Change<'_>> {
        (self.state != self.stored).then(|| Change {
            state: &self.state,
            valid_from: self.valid_from.max(context.valid_from),
            audit: !self.created,
        })
    }
}

/// The state of `hospital_visit` copied to its audit table, `$1` being the visit id, `$11` the
/// valid-until and `$12` the stored-until ([`super::locations::record`] uses it too).
pub(crate) const AUDIT_SQL: &str = "INSERT INTO hospital_visit_audit
     (hospital_visit_id, encounter, mrn_id, source_system, presentation_datetime,
      admission_datetime, discharge_datetime, patient_class, arrival_method,
      discharge_destination, discharge_disposition, valid_from, valid_until, stored_from,
      stored_until, source_ids_id)
 SELECT hospital_visit_id, encounter, mrn_id, source_system, presentation_datetime,
        admission_datetime, discharge_datetime, patient_class, arrival_method,
        discharge_destination, discharge_disposition, valid_from, $11, stored_from, $12,
        source_ids_id
 FROM hospital_visit WHERE hospital_visit_id = $1";

/// The update of a `hospital_visit` row: `$1` the visit id, `$2`–`$10` its state, `$11` its
/// valid-from, `$12` stored-from, `$13` the source message.
pub(crate) const UPDATE_SQL: &str = "UPDATE hospital_visit SET mrn_id = $2, source_system = $3,
     presentation_datetime = $4, admission_datetime = $5, discharge_datetime = $6,
     patient_class = $7, arrival_method = $8, discharge_destination = $9,
     discharge_disposition = $10, valid_from = $11, stored_from = $12, source_ids_id = $13
 WHERE hospital_visit_id = $1";

/// Writes the state this message wants if it differs from the stored one, auditing the
/// previous state unless this message created the row (G2, G3).
pub(crate) async fn save(
    conn: &mut PgConnection,
    visit: Visit,
    context: &Context<'_>,
) -> Result<Visit, sqlx::Error> {
    let Some(change) = visit.change(context) else {
        return Ok(visit);
    };
    let valid_from = change.valid_from;
    let sql = if change.audit {
        format!("WITH audited AS ({AUDIT_SQL}) {UPDATE_SQL}")
    } else {
        UPDATE_SQL.to_owned()
    };
    let state = change.state;
    bind_state(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(visit.id), state)
        .bind(valid_from)
        .bind(context.stored_from)
        .bind(context.source_ids_id)
        .execute(&mut *conn)
        .await?;
    Ok(Visit {
        id: visit.id,
        valid_from,
        stored: visit.state.clone(),
        state: visit.state,
        created: visit.created,
        facts: visit.facts,
    })
}

/// Binds a visit's state in [`COLUMNS`] order (`$2`–`$10` of [`UPDATE_SQL`]).
pub(crate) fn bind_state<'q>(
    query: Query<'q, Postgres, PgArguments>,
    state: &'q VisitState,
) -> Query<'q, Postgres, PgArguments> {
    query
        .bind(state.mrn_id)
        .bind(&state.source_system)
        .bind(state.presentation_datetime)
        .bind(state.admission_datetime)
        .bind(state.discharge_datetime)
        .bind(&state.patient_class)
        .bind(&state.arrival_method)
        .bind(&state.discharge_destination)
        .bind(&state.discharge_disposition)
}

/// I9: the visit takes a new number (an A45 that renumbers it), the old state audited.
pub(crate) async fn renumber(
    conn: &mut PgConnection,
    visit_id: i64,
    encounter: &str,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO hospital_visit_audit
             (hospital_visit_id, encounter, {COLUMNS}, valid_from, valid_until, stored_from,
              stored_until, source_ids_id)
         SELECT hospital_visit_id, encounter, {COLUMNS}, valid_from, greatest(valid_from, $2),
                stored_from, $3, source_ids_id
         FROM hospital_visit WHERE hospital_visit_id = $1"
    )))
    .bind(visit_id)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE hospital_visit SET encounter = $2, valid_from = greatest(valid_from, $3),
             stored_from = $4, source_ids_id = $5
         WHERE hospital_visit_id = $1",
    )
    .bind(visit_id)
    .bind(encounter)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
