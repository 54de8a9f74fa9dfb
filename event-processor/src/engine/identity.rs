//! Patient identity, which every family needs: finding or creating the MRN a message names, and
//! the live MRN its data belongs to (rules M1–M6).
//!
//! M1 looks up by MRN; if not found and an NHS number is given, by NHS number among rows with no
//! MRN; with no MRN at all, by NHS number. M2 refuses a message with neither. M3 creates a new
//! MRN with an `mrn_to_live` row pointing to itself. M4 returns the live MRN. M5 lets a trusted
//! source correct the NHS number or fill in the MRN of an NHS-number-only row; unlike EMAP (M6)
//! such identifier changes are kept in `mrn_audit`. A family that reads more with the patient
//! in the same statement (ADT reads demographics and the visit) builds on [`FIND_SQL`],
//! [`MaybeMrn`] and [`CREATE_SQL`].

use std::any::Any;

use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::{PgConnection, Row};

use super::read_ahead::Prefetched;
use super::{Context, ProcessError, Touched, reject};

/// What a message names to find its patient and visit.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Keys<'a> {
    /// Whether the message finds one patient that way (merges find two, their own way).
    pub one_patient: bool,
    pub mrn: Option<&'a str>,
    pub nhs_number: Option<&'a str>,
    /// The visit, read with the patient, when the message touches one.
    pub encounter: Option<&'a str>,
}

impl<'a> Keys<'a> {
    /// The keys of a message naming one patient by MRN and, perhaps, its visit (labs,
    /// observations); empty identifiers count as none.
    pub(crate) fn patient_and_visit(mrn: Option<&'a str>, visit: Option<&'a str>) -> Keys<'a> {
        Keys {
            one_patient: true,
            mrn: mrn.filter(|m| !m.is_empty()),
            nhs_number: None,
            encounter: visit.filter(|v| !v.is_empty()),
        }
    }

    /// The visit these keys name, as a key that joins patients into one lane
    /// (`Family::also_named`).
    pub(crate) fn visit_named(&self) -> Vec<String> {
        self.encounter
            .iter()
            .map(|v| format!("visit:{v}"))
            .collect()
    }
}

/// An `mrn` row with its live MRN.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MrnRow {
    pub mrn_id: i64,
    pub mrn: Option<String>,
    pub nhs_number: Option<String>,
    pub live_mrn_id: i64,
}

/// An `mrn` row read through an outer join ([`FIND_SQL`]): all null when there is none.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MaybeMrn {
    mrn_id: Option<i64>,
    mrn: Option<String>,
    nhs_number: Option<String>,
    live_mrn_id: Option<i64>,
}

impl MaybeMrn {
    /// The MRN id and live MRN id, if there is a row.
    pub(crate) fn ids(&self) -> Option<(i64, i64)> {
        Some((self.mrn_id?, self.live_mrn_id?))
    }

    pub(crate) fn row(self) -> Option<MrnRow> {
        Some(MrnRow {
            mrn_id: self.mrn_id?,
            mrn: self.mrn,
            nhs_number: self.nhs_number,
            live_mrn_id: self.live_mrn_id?,
        })
    }
}

/// M1 as a lateral subquery over keys `k (mrn, nhs_number)`: by MRN; else by NHS number among
/// rows with no MRN (any row when the message names no MRN). Yields [`MaybeMrn`]'s columns.
pub(crate) const FIND_SQL: &str = "SELECT m.mrn_id, m.mrn, m.nhs_number, t.live_mrn_id
     FROM mrn m JOIN mrn_to_live t USING (mrn_id)
     WHERE m.mrn = k.mrn
        OR (m.nhs_number = k.nhs_number AND (k.mrn IS NULL OR m.mrn IS NULL))
     ORDER BY m.mrn = k.mrn DESC NULLS LAST, m.mrn_id
     LIMIT 1";

/// The CTEs writing a new patient (M3) — `created` (the `mrn` row, returning `mrn_id`) and its
/// `mrn_to_live` row — with parameters `$1` MRN, `$2` NHS number, `$3` source system, `$4`
/// stored-from, `$5` source message, `$6` valid-from.
pub(crate) const CREATE_SQL: &str = "created AS (
         INSERT INTO mrn (mrn, nhs_number, source_system, stored_from, source_ids_id)
         VALUES ($1, $2, $3, $4, $5) RETURNING mrn_id),
     live_created AS (
         INSERT INTO mrn_to_live (mrn_id, live_mrn_id, valid_from, stored_from, source_ids_id)
         SELECT mrn_id, mrn_id, $6, $4, $5 FROM created)";

/// M2: a message must name an MRN or an NHS number (empty ones count as none).
pub(crate) fn named<'a>(
    mrn: Option<&'a str>,
    nhs_number: Option<&'a str>,
) -> Result<(Option<&'a str>, Option<&'a str>), ProcessError> {
    let mrn = mrn.filter(|m| !m.is_empty());
    let nhs_number = nhs_number.filter(|n| !n.is_empty());
    if mrn.is_none() && nhs_number.is_none() {
        return Err(reject("M2", "the message names no MRN and no NHS number"));
    }
    Ok((mrn, nhs_number))
}

/// A found patient, for the message: noted as touched, identifiers corrected if the source is
/// trusted (M5); returns the live MRN id (M4).
pub(crate) async fn found(
    conn: &mut PgConnection,
    row: &MrnRow,
    mrn: Option<&str>,
    nhs_number: Option<&str>,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    context.touched(Touched::Mrn(row.mrn_id));
    context.touched(Touched::Mrn(row.live_mrn_id));
    if context.trusted {
        correct_identifiers(conn, row, mrn, nhs_number, context).await?;
    }
    Ok(row.live_mrn_id)
}

/// The live MRN id for the patient a message names, creating the MRN (with no demographics) if
/// it is new.
pub(crate) async fn live_mrn(
    conn: &mut PgConnection,
    mrn: Option<&str>,
    nhs_number: Option<&str>,
    context: &Context<'_>,
) -> Result<i64, ProcessError> {
    let (mrn, nhs_number) = named(mrn, nhs_number)?;
    let sql = format!(
        "SELECT found.* FROM (SELECT $1::text AS mrn, $2::text AS nhs_number) k
         LEFT JOIN LATERAL ({FIND_SQL}) found ON true"
    );
    let maybe: MaybeMrn = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(mrn)
        .bind(nhs_number)
        .fetch_one(&mut *conn)
        .await?;
    found_or_created(conn, maybe.row(), mrn, nhs_number, context).await
}

/// The live MRN id of the patient found as `row`, or of one created as named (M3–M5).
async fn found_or_created(
    conn: &mut PgConnection,
    row: Option<MrnRow>,
    mrn: Option<&str>,
    nhs_number: Option<&str>,
    context: &Context<'_>,
) -> Result<i64, ProcessError> {
    if let Some(row) = row {
        return Ok(found(conn, &row, mrn, nhs_number, context).await?);
    }
    let sql = format!("WITH {CREATE_SQL} SELECT mrn_id FROM created");
    let id = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(mrn)
        .bind(nhs_number)
        .bind(context.source_system)
        .bind(context.stored_from)
        .bind(context.source_ids_id)
        .bind(context.valid_from)
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    Ok(id)
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
             INSERT INTO mrn_audit (mrn_id, mrn, nhs_number, research_opt_out,
                 research_opt_out_valid_from, source_system,
                                         stored_from, stored_until, source_ids_id)
             SELECT mrn_id, mrn, nhs_number, research_opt_out, research_opt_out_valid_from,
                    source_system, stored_from, $4,
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

/// The visit with this encounter of patient `mrn_id`, created as a minimal visit (encounter,
/// patient, source) when not stored yet: context inference (C7). A lab message's implied ADT
/// usually creates it first, but that ADT is refused when its patient class is unknown (R2),
/// and the lab message still names the visit its order was placed in. ADT from a trusted
/// source later fills the visit in, as it does a visit an implied ADT created.
pub(crate) async fn visit_or_minimal(
    conn: &mut PgConnection,
    mrn_id: i64,
    encounter: Option<&str>,
    context: &Context<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    let Some(encounter) = encounter.filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    if let Some(id) = visit_id(conn, Some(encounter)).await? {
        return Ok(Some(id));
    }
    minimal_visit(conn, mrn_id, encounter, context)
        .await
        .map(Some)
}

/// A minimal visit (C7–C9), or the one another message created meanwhile.
async fn minimal_visit(
    conn: &mut PgConnection,
    mrn_id: i64,
    encounter: &str,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO hospital_visit (mrn_id, encounter, source_system, valid_from, stored_from,
             source_ids_id)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (encounter) DO UPDATE SET encounter = EXCLUDED.encounter
         RETURNING hospital_visit_id",
    )
    .bind(mrn_id)
    .bind(encounter)
    .bind(context.source_system.unwrap_or("unknown"))
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .fetch_one(&mut *conn)
    .await
}

/// What a family that needs only a message's patient and visit (labs, observations) reads
/// ahead: the MRN row it names (M1) and the visit's id, each if stored.
pub(crate) struct PatientVisit {
    mrn: Option<MrnRow>,
    visit: Option<i64>,
    schema_oid: i64,
}

impl Prefetched for PatientVisit {
    fn touches(&self) -> Vec<Touched> {
        let mrn = self
            .mrn
            .iter()
            .flat_map(|m| [Touched::Mrn(m.mrn_id), Touched::Mrn(m.live_mrn_id)]);
        mrn.chain(self.visit.map(Touched::Visit)).collect()
    }

    fn schema_oid(&self) -> i64 {
        self.schema_oid
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

#[derive(sqlx::FromRow)]
struct PatientVisitRow {
    #[sqlx(flatten)]
    mrn: MaybeMrn,
    hospital_visit_id: Option<i64>,
    schema_oid: i64,
}

/// Reads the patient and visit each of `keys` names, in one statement: one row per key, in
/// order (a family's `read_ahead`).
pub(crate) fn read_patient_visits<'a>(
    conn: &'a mut PgConnection,
    keys: &'a [Keys<'a>],
) -> BoxFuture<'a, Result<Vec<Box<dyn Prefetched>>, sqlx::Error>> {
    async move {
        let sql = format!(
            "SELECT found.*, visit.hospital_visit_id,
                    (SELECT coalesce(to_regclass('location')::oid, 0)::int8) AS schema_oid
             FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY
                  AS k (mrn, nhs_number, encounter, n)
             LEFT JOIN LATERAL ({FIND_SQL}) found ON true
             LEFT JOIN hospital_visit visit ON visit.encounter = k.encounter
             ORDER BY k.n"
        );
        let rows: Vec<PatientVisitRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(keys.iter().map(|k| k.mrn).collect::<Vec<_>>())
            .bind(keys.iter().map(|k| k.nhs_number).collect::<Vec<_>>())
            .bind(keys.iter().map(|k| k.encounter).collect::<Vec<_>>())
            .fetch_all(&mut *conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                Box::new(PatientVisit {
                    mrn: row.mrn.row(),
                    visit: row.hospital_visit_id,
                    schema_oid: row.schema_oid,
                }) as Box<dyn Prefetched>
            })
            .collect())
    }
    .boxed()
}

/// A message's patient and visit: from what was read ahead for it when that still holds, else
/// read now.
pub(crate) enum PatientAndVisit {
    Read(PatientVisit),
    Unread,
}

impl PatientAndVisit {
    /// What `found` holds, if it is a [`PatientVisit`].
    pub(crate) fn of(found: Option<Box<dyn Prefetched>>) -> PatientAndVisit {
        match found.map(|f| f.into_any().downcast::<PatientVisit>()) {
            Some(Ok(read)) => PatientAndVisit::Read(*read),
            _ => PatientAndVisit::Unread,
        }
    }

    /// The live MRN id of the patient the message names ([`live_mrn`]).
    pub(crate) async fn live_mrn(
        &mut self,
        conn: &mut PgConnection,
        mrn: Option<&str>,
        context: &Context<'_>,
    ) -> Result<i64, ProcessError> {
        match self {
            PatientAndVisit::Read(read) => {
                let (mrn, _) = named(mrn, None)?;
                found_or_created(conn, read.mrn.take(), mrn, None, context).await
            }
            PatientAndVisit::Unread => live_mrn(conn, mrn, None, context).await,
        }
    }

    /// The visit the message names, created minimally when not stored ([`visit_or_minimal`]).
    pub(crate) async fn visit_or_minimal(
        &self,
        conn: &mut PgConnection,
        mrn_id: i64,
        encounter: Option<&str>,
        context: &Context<'_>,
    ) -> Result<Option<i64>, sqlx::Error> {
        let Some(encounter) = encounter.filter(|e| !e.is_empty()) else {
            return Ok(None);
        };
        match self {
            PatientAndVisit::Read(PatientVisit {
                visit: Some(id), ..
            }) => {
                context.touched(Touched::Visit(*id));
                Ok(Some(*id))
            }
            PatientAndVisit::Read(_) => minimal_visit(conn, mrn_id, encounter, context)
                .await
                .map(Some),
            PatientAndVisit::Unread => {
                visit_or_minimal(conn, mrn_id, Some(encounter), context).await
            }
        }
    }
}

/// The visit with this encounter, if stored: the lookup context inference needs (a lab order
/// names the visit it was placed in; the visit itself comes with the message's implied ADT).
pub(crate) async fn visit_id(
    conn: &mut PgConnection,
    encounter: Option<&str>,
) -> Result<Option<i64>, sqlx::Error> {
    let Some(encounter) = encounter.filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    sqlx::query_scalar("SELECT hospital_visit_id FROM hospital_visit WHERE encounter = $1")
        .bind(encounter)
        .fetch_optional(&mut *conn)
        .await
}
