//! An ADT message's first read: its patient (identity, M1–M6, from the engine), that patient's
//! demographics and the visit it names with the visit's facts, in one statement — for one
//! message, or for a wave's at once (the read-ahead). A new patient is left unwritten
//! ([`Live::New`]) so that it is written with the message's first other rows (D1, M3).

use std::any::Any;

use interchange::adt::AdtFields;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres, Row};

use super::demographics::{self, Demographics};
use super::{facts, tables, visits};
use crate::engine::identity::{self, MaybeMrn};
use crate::engine::read_ahead::Prefetched;
use crate::engine::writes::{RowRef, Wave};
use crate::engine::{Context, ProcessError, Touched};

/// The patient a message names: its live MRN id and that MRN's demographics, and the visit with
/// `encounter` with its facts, all read (and locked) in one round trip — or none, when
/// `read_ahead` holds it (the engine's read-ahead): most messages need nothing else read. A new
/// patient (with the demographics `adt` gives, if given: D1) is left unwritten ([`Live::New`]),
/// so that it can be written with the message's first other rows.
pub(crate) async fn patient_or_new(
    conn: &mut PgConnection,
    mrn: Option<&str>,
    nhs_number: Option<&str>,
    encounter: Option<&str>,
    adt: Option<&AdtFields>,
    read_ahead: Option<FoundRow>,
    context: &Context<'_>,
) -> Result<PatientOrNew, ProcessError> {
    let (mrn, nhs_number) = identity::named(mrn, nhs_number)?;
    let found = match read_ahead {
        Some(found) => found,
        None => find(conn, mrn, nhs_number, encounter).await?,
    };
    if let Some(id) = found.visit.id() {
        context.touched(Touched::Visit(id));
    }
    let visit = match encounter {
        Some(_) => visits::Prefetched::Read(found.visit.visit().map(Box::new)),
        None => visits::Prefetched::NotRead,
    };
    match found.mrn.row() {
        Some(row) => {
            let live = identity::found(conn, &row, mrn, nhs_number, context).await?;
            Ok(PatientOrNew {
                live: Live::Existing(live),
                demographics: Read::Found(found.demographics.current().map(Box::new)),
                visit,
            })
        }
        // A new MRN lives on as itself (M3).
        None => {
            let first = adt.map(Demographics::first);
            Ok(PatientOrNew {
                demographics: match first {
                    Some(_) => Read::Created,
                    None => Read::Found(None),
                },
                live: Live::New(Box::new(NewPatient {
                    mrn: mrn.map(str::to_owned),
                    nhs_number: nhs_number.map(str::to_owned),
                    demographics: first,
                })),
                visit,
            })
        }
    }
}

/// A patient as found for one message.
pub(crate) struct PatientOrNew {
    /// The live MRN.
    pub live: Live,
    /// The live MRN's demographics.
    pub demographics: Read,
    /// The visit the message names, if it was asked for.
    pub visit: visits::Prefetched,
}

/// The live MRN: found, or a new patient still to write.
pub(crate) enum Live {
    Existing(i64),
    New(Box<NewPatient>),
}

impl Live {
    /// The live MRN id, writing a new patient first.
    pub(crate) async fn id(
        self,
        conn: &mut PgConnection,
        context: &Context<'_>,
    ) -> Result<i64, sqlx::Error> {
        match self {
            Live::Existing(id) => Ok(id),
            Live::New(patient) => patient.create(conn, context).await,
        }
    }
}

/// A patient this message creates: its MRN (living on as itself) and first demographics.
pub(crate) struct NewPatient {
    mrn: Option<String>,
    nhs_number: Option<String>,
    demographics: Option<Demographics>,
}

impl NewPatient {
    /// Writes the patient alone; returns its MRN id.
    pub(crate) async fn create(
        self,
        conn: &mut PgConnection,
        context: &Context<'_>,
    ) -> Result<i64, sqlx::Error> {
        let sql = format!("WITH {} SELECT mrn_id FROM created", create_sql());
        let query = sqlx::query(sqlx::AssertSqlSafe(sql));
        self.bind(query, context)
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)
    }

    /// Adds the patient to `wave` (written with the message's first other rows).
    pub(crate) fn add_to(&self, wave: &mut Wave, context: &Context<'_>) -> RowRef {
        tables::new_patient(
            wave,
            self.mrn.as_deref(),
            self.nhs_number.as_deref(),
            self.demographics.as_ref(),
            context,
        )
    }

    /// Binds the 18 parameters of [`create_sql`], in order.
    fn bind<'q>(
        &'q self,
        query: Query<'q, Postgres, PgArguments>,
        context: &Context<'q>,
    ) -> Query<'q, Postgres, PgArguments> {
        let query = query
            .bind(self.mrn.as_deref())
            .bind(self.nhs_number.as_deref())
            .bind(context.source_system)
            .bind(context.stored_from)
            .bind(context.source_ids_id)
            .bind(context.valid_from)
            .bind(self.demographics.is_some());
        demographics::bind_values(
            query,
            self.demographics.as_ref().unwrap_or(&NO_DEMOGRAPHICS),
        )
    }
}

/// Bound when a new patient has no demographics (the row is not written then).
static NO_DEMOGRAPHICS: std::sync::LazyLock<Demographics> =
    std::sync::LazyLock::new(Demographics::default);

/// The engine's CTEs writing a new patient ([`identity::CREATE_SQL`], `$1`–`$6`) and its first
/// demographics if `$7`, from `$8`–`$18` as [`demographics::bind_values`] binds them.
fn create_sql() -> String {
    let values: Vec<String> = (8..=18).map(|n| format!("${n}")).collect();
    format!(
        "{create},
         demographics_created AS (
             INSERT INTO core_demographic
                 (mrn_id, {columns}, valid_from, stored_from, source_ids_id)
             SELECT mrn_id, {values}, $6, $4, $5
             FROM created WHERE $7)",
        create = identity::CREATE_SQL,
        columns = demographics::COLUMNS,
        values = values.join(", "),
    )
}

/// A patient's demographics as [`patient_or_new`] left them.
pub(crate) enum Read {
    /// The live row, if there is one.
    Found(Option<Box<demographics::Current>>),
    /// Created with the new patient.
    Created,
}

/// What [`patient_or_new`] reads: the MRN row, its live MRN's demographics and the visit with its
/// facts, each all null when absent.
#[derive(sqlx::FromRow)]
pub(crate) struct FoundRow {
    #[sqlx(flatten)]
    mrn: MaybeMrn,
    #[sqlx(flatten)]
    demographics: demographics::MaybeCurrent,
    #[sqlx(flatten)]
    visit: visits::MaybeRow,
    /// Which star schema the statement ran in ([`crate::engine::Processor::note_schema`]).
    schema_oid: i64,
}

impl Prefetched for FoundRow {
    fn schema_oid(&self) -> i64 {
        self.schema_oid
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }

    /// The rows it holds: its MRN, the live MRN (whose demographics it holds) and the visit.
    fn touches(&self) -> Vec<Touched> {
        let mut rows = Vec::new();
        if let Some(row) = self.mrn.ids() {
            rows.extend([Touched::Mrn(row.0), Touched::Mrn(row.1)]);
        }
        if let Some(id) = self.visit.id() {
            rows.push(Touched::Visit(id));
        }
        rows
    }
}

/// M1 in one statement: by MRN; else by NHS number among rows with no MRN (any row when the
/// message names no MRN). The live MRN's demographics come along, and the visit with
/// `encounter` and its facts; all locked. The same statement as [`find_many`], for one key.
async fn find(
    conn: &mut PgConnection,
    mrn: Option<&str>,
    nhs_number: Option<&str>,
    encounter: Option<&str>,
) -> Result<FoundRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(find_many_sql()))
        .bind([mrn])
        .bind([nhs_number])
        .bind([encounter])
        .fetch_one(&mut *conn)
        .await
}

/// The statement of [`find_many`].
fn find_many_sql() -> String {
    format!(
        "SELECT found.*, demographics.*, {visit},
                (SELECT coalesce(to_regclass('location')::oid, 0)::int8) AS schema_oid
         FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY
              AS k (mrn, nhs_number, encounter, n)
         LEFT JOIN LATERAL ({find}) found ON true
         LEFT JOIN LATERAL (
             SELECT core_demographic_id, valid_from, {demographics} FROM core_demographic d
             WHERE d.mrn_id = found.live_mrn_id
             FOR UPDATE) demographics ON true
         LEFT JOIN LATERAL (
             SELECT * FROM hospital_visit v WHERE v.encounter = k.encounter
             FOR UPDATE) visit ON true
         ORDER BY k.n",
        find = identity::FIND_SQL,
        demographics = demographics::COLUMNS,
        visit = visits::maybe_row_sql(&format!("({})", facts::live_sql("visit.hospital_visit_id"))),
    )
}

/// [`find`] for many messages at once (the engine's read-ahead): one row per key, in order.
pub(crate) async fn find_many(
    conn: &mut PgConnection,
    mrns: &[Option<&str>],
    nhs_numbers: &[Option<&str>],
    encounters: &[Option<&str>],
) -> Result<Vec<FoundRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(find_many_sql()))
        .bind(mrns)
        .bind(nhs_numbers)
        .bind(encounters)
        .fetch_all(&mut *conn)
        .await
}
