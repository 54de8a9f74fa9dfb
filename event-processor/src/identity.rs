//! Patient identity: finding or creating the MRN a message names, and the live MRN its data
//! belongs to (rules M1–M6).
//!
//! M1 looks up by MRN; if not found and an NHS number is given, by NHS number among rows with no
//! MRN; with no MRN at all, by NHS number. M2 refuses a message with neither. M3 creates a new
//! MRN with an `mrn_to_live` row pointing to itself. M4 returns the live MRN. M5 lets a trusted
//! source correct the NHS number or fill in the MRN of an NHS-number-only row; unlike EMAP (M6)
//! such identifier changes are kept in `mrn_audit`.

use interchange::adt::AdtFields;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres, Row};

use crate::demographics::{self, Demographics};
use crate::{Context, ProcessError, Touched, locations, reject, visits};

#[derive(sqlx::FromRow)]
struct MrnRow {
    mrn_id: i64,
    mrn: Option<String>,
    nhs_number: Option<String>,
    live_mrn_id: i64,
}

/// The live MRN id for the patient a message names, creating the MRN if it is new.
pub(crate) async fn live_mrn(
    conn: &mut PgConnection,
    mrn: Option<&str>,
    nhs_number: Option<&str>,
    context: &Context<'_>,
) -> Result<i64, ProcessError> {
    let found = patient_or_new(conn, mrn, nhs_number, None, None, None, context).await?;
    Ok(found.live.id(conn, context).await?)
}

/// The patient a message names: its live MRN id and that MRN's demographics, and the visit with
/// `encounter` with its facts, all read (and locked) in one round trip — or none, when
/// `read_ahead` holds it ([`crate::read_ahead`]): most messages need nothing else read. A new
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
    let mrn = mrn.filter(|m| !m.is_empty());
    let nhs_number = nhs_number.filter(|n| !n.is_empty());
    if mrn.is_none() && nhs_number.is_none() {
        return Err(reject("M2", "the message names no MRN and no NHS number"));
    }
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
            context.touched(Touched::Mrn(row.mrn_id));
            context.touched(Touched::Mrn(row.live_mrn_id));
            if context.trusted {
                correct_identifiers(conn, &row, mrn, nhs_number, context).await?;
            }
            Ok(PatientOrNew {
                live: Live::Existing(row.live_mrn_id),
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

    /// Adds the patient to `writes` (written with the message's first other rows).
    pub(crate) fn add_to(
        &self,
        writes: &mut crate::writes::Writes,
        context: &Context<'_>,
    ) -> crate::writes::PatientRef {
        writes.new_patient(
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

/// The CTEs writing a new patient — `created` (the `mrn` row, returning `mrn_id`), its first
/// demographics if any, and its `mrn_to_live` row — with parameters `$1` MRN, `$2` NHS number,
/// `$3` source system, `$4` stored-from, `$5` source message, `$6` valid-from, `$7` whether
/// there are demographics, then `$8`–`$18` the demographics as [`demographics::bind_values`]
/// binds them.
fn create_sql() -> String {
    let values: Vec<String> = (8..=18).map(|n| format!("${n}")).collect();
    format!(
        "created AS (
             INSERT INTO mrn (mrn, nhs_number, source_system, stored_from, source_ids_id)
             VALUES ($1, $2, $3, $4, $5) RETURNING mrn_id),
         demographics_created AS (
             INSERT INTO core_demographic
                 (mrn_id, {columns}, valid_from, stored_from, source_ids_id)
             SELECT mrn_id, {values}, $6, $4, $5
             FROM created WHERE $7),
         live_created AS (
             INSERT INTO mrn_to_live (mrn_id, live_mrn_id, valid_from, stored_from, source_ids_id)
             SELECT mrn_id, mrn_id, $6, $4, $5 FROM created)",
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

/// An `mrn` row read through an outer join: all null when there is none.
#[derive(sqlx::FromRow)]
struct MaybeMrn {
    mrn_id: Option<i64>,
    mrn: Option<String>,
    nhs_number: Option<String>,
    live_mrn_id: Option<i64>,
}

impl MaybeMrn {
    /// The MRN id and live MRN id, if there is a row.
    fn ids(&self) -> Option<(i64, i64)> {
        Some((self.mrn_id?, self.live_mrn_id?))
    }

    fn row(self) -> Option<MrnRow> {
        Some(MrnRow {
            mrn_id: self.mrn_id?,
            mrn: self.mrn,
            nhs_number: self.nhs_number,
            live_mrn_id: self.live_mrn_id?,
        })
    }
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
    /// Which star schema the statement ran in ([`crate::Processor::note_schema`]).
    pub schema_oid: i64,
}

impl FoundRow {
    /// The rows it holds: its MRN, the live MRN (whose demographics it holds) and the visit.
    pub(crate) fn touches(&self) -> Vec<Touched> {
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
         LEFT JOIN LATERAL (
             SELECT m.mrn_id, m.mrn, m.nhs_number, t.live_mrn_id
             FROM mrn m JOIN mrn_to_live t USING (mrn_id)
             WHERE m.mrn = k.mrn
                OR (m.nhs_number = k.nhs_number AND (k.mrn IS NULL OR m.mrn IS NULL))
             ORDER BY m.mrn = k.mrn DESC NULLS LAST, m.mrn_id
             LIMIT 1) found ON true
         LEFT JOIN LATERAL (
             SELECT core_demographic_id, valid_from, {demographics} FROM core_demographic d
             WHERE d.mrn_id = found.live_mrn_id
             FOR UPDATE) demographics ON true
         LEFT JOIN LATERAL (
             SELECT * FROM hospital_visit v WHERE v.encounter = k.encounter
             FOR UPDATE) visit ON true
         ORDER BY k.n",
        demographics = demographics::COLUMNS,
        visit = visits::maybe_row_sql(&format!(
            "({})",
            locations::live_sql("visit.hospital_visit_id")
        )),
    )
}

/// [`find`] for many messages at once ([`crate::read_ahead`]): one row per key, in order.
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

/// M5: a trusted message corrects the NHS number and fills in a missing MRN, keeping the
/// previous identifiers in `mrn_audit`.
async fn correct_identifiers(
    conn: &mut PgConnection,
    row: &MrnRow,
    mrn: Option<&str>,
    nhs_number: Option<&str>,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    let new_mrn = row.mrn.as_deref().or(mrn);
    let new_nhs = nhs_number.or(row.nhs_number.as_deref());
    if new_mrn == row.mrn.as_deref() && new_nhs == row.nhs_number.as_deref() {
        return Ok(());
    }
    sqlx::query(
        "WITH audited AS (
             INSERT INTO mrn_audit (mrn_id, mrn, nhs_number, research_opt_out, source_system,
                                         stored_from, stored_until, source_ids_id)
             SELECT mrn_id, mrn, nhs_number, research_opt_out, source_system, stored_from, $4,
                    source_ids_id
             FROM mrn WHERE mrn_id = $1)
         UPDATE mrn SET mrn = $2, nhs_number = $3, stored_from = $4, source_ids_id = $5
         WHERE mrn_id = $1",
    )
    .bind(row.mrn_id)
    .bind(new_mrn)
    .bind(new_nhs)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
