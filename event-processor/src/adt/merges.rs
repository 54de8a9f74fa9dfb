//! Merges (A40), identifier changes (A47) and moved visits (A45): rules I1–I10.
//!
//! A40 keeps every MRN row and re-points the `mrn_to_live` rows of the retiring MRNs to the
//! surviving one (I2, I3), each re-pointing audited; opt-out spreads to the whole merged set
//! (I4); a merge already done finds nothing still pointing at the retired MRN and changes
//! nothing (I5). Unlike EMAP (I6, an observed quirk), a re-pointed row takes the merge time as its
//! valid-from, so live and audit rows do not overlap in valid time. A47 renames the previous MRN
//! in place when the new one is unknown (I7, audited in `mrn_audit`, unlike EMAP) and merges
//! into it otherwise (I8). A45 moves a visit to the message's patient (I9, I10). All three
//! change identity, so only trusted sources may send them (M5); from others they are refused.

use interchange::adt::{ChangePatientIdentifiers, MergePatient, MoveVisitInformation};
use sqlx::PgConnection;

use super::{demographics, visits};
use crate::engine::identity;
use crate::engine::{Context, ProcessError, reject};

fn require_trusted(context: &Context<'_>, rule: &'static str) -> Result<(), ProcessError> {
    if context.trusted {
        Ok(())
    } else {
        Err(reject(
            rule,
            "only a trusted source may change patient identity",
        ))
    }
}

/// A40: merges the previous MRN into the message's MRN.
pub(crate) async fn merge(
    conn: &mut PgConnection,
    message: &MergePatient,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    require_trusted(context, "I1")?;
    let adt = &message.adt;
    let surviving = adt
        .mrn
        .as_deref()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| reject("I1", "a merge without the surviving MRN"))?;
    // I1: the surviving MRN by MRN only, created if unknown, demographics by D2.
    let live = identity::live_mrn(conn, Some(surviving), None, context).await?;
    demographics::update(conn, live, adt, context).await?;
    merge_into(
        conn,
        live,
        message.previous_mrn.as_deref(),
        message.previous_nhs_number.as_deref(),
        context,
    )
    .await
}

/// I2–I5: every MRN matching the previous identifiers now lives on as `live`.
async fn merge_into(
    conn: &mut PgConnection,
    live: i64,
    previous_mrn: Option<&str>,
    previous_nhs: Option<&str>,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let previous_mrn = previous_mrn.filter(|m| !m.is_empty());
    let previous_nhs = previous_nhs.filter(|n| !n.is_empty());
    if previous_mrn.is_none() && previous_nhs.is_none() {
        return Err(reject(
            "I2",
            "a merge without the retiring MRN or NHS number",
        ));
    }
    let mut retiring: Vec<i64> = sqlx::query_scalar(
        "SELECT mrn_id FROM mrn
         WHERE (mrn = $1 OR nhs_number = $2) AND mrn_id <> $3",
    )
    .bind(previous_mrn)
    .bind(previous_nhs)
    .bind(live)
    .fetch_all(&mut *conn)
    .await?;
    if retiring.is_empty() {
        // I2: a retiring MRN never seen before is created, so the merge is remembered.
        let created = identity::live_mrn(conn, previous_mrn, previous_nhs, context).await?;
        if created != live {
            retiring.push(created);
        }
    }
    repoint(conn, &retiring, live, context).await?;
    spread_opt_out(conn, live, context).await?;
    Ok(())
}

/// I3: every row living on as a retiring MRN now lives on as the survivor, audited. The rows
/// are named by `= ANY(ARRAY(…))`, not joined: the statement's cached generic plan otherwise
/// hashes the whole table to find a handful of rows.
async fn repoint(
    conn: &mut PgConnection,
    retiring: &[i64],
    live: i64,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH moved AS (
             SELECT mrn_to_live_id, mrn_id, live_mrn_id, valid_from, stored_from, source_ids_id
             FROM mrn_to_live
             WHERE live_mrn_id = ANY($1) AND live_mrn_id <> $2 FOR UPDATE),
         audited AS (
             INSERT INTO mrn_to_live_audit
                 (mrn_to_live_id, mrn_id, live_mrn_id, valid_from, valid_until, stored_from,
                  stored_until, source_ids_id)
             SELECT mrn_to_live_id, mrn_id, live_mrn_id, valid_from, greatest(valid_from, $3),
                    stored_from, $4, source_ids_id
             FROM moved)
         UPDATE mrn_to_live t SET live_mrn_id = $2, valid_from = greatest(t.valid_from, $3),
             stored_from = $4, source_ids_id = $5
         WHERE t.mrn_to_live_id = ANY(ARRAY(SELECT mrn_to_live_id FROM moved))",
    )
    .bind(retiring)
    .bind(live)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// I4: opted out anywhere in the merged set means opted out everywhere, from the latest
/// opt-out's time. Each merged MRN is looked up by its key (joins let the generic plan scan
/// every MRN).
async fn spread_opt_out(
    conn: &mut PgConnection,
    live: i64,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH merged AS (
             SELECT t.mrn_id,
                    (SELECT m.research_opt_out FROM mrn m WHERE m.mrn_id = t.mrn_id) AS opted_out
             FROM mrn_to_live t WHERE t.live_mrn_id = $1),
         changing AS (
             SELECT mrn_id FROM merged
             WHERE NOT opted_out AND EXISTS (SELECT 1 FROM merged WHERE opted_out)),
         audited AS (
             INSERT INTO mrn_audit (mrn_id, mrn, nhs_number, research_opt_out,
                 research_opt_out_valid_from, source_system,
                                         stored_from, stored_until, source_ids_id)
             SELECT m.mrn_id, m.mrn, m.nhs_number, m.research_opt_out,
                    m.research_opt_out_valid_from, m.source_system,
                    m.stored_from, $2, m.source_ids_id
             FROM mrn m WHERE m.mrn_id = ANY(ARRAY(SELECT mrn_id FROM changing)))
         UPDATE mrn m SET research_opt_out = true, stored_from = $2, source_ids_id = $3,
             research_opt_out_valid_from = (
                 SELECT max(o.research_opt_out_valid_from) FROM mrn o
                 WHERE o.mrn_id = ANY(ARRAY(SELECT mrn_id FROM merged WHERE opted_out)))
         WHERE m.mrn_id = ANY(ARRAY(SELECT mrn_id FROM changing))",
    )
    .bind(live)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A47: the previous identifiers become the message's; a merge if the new MRN already exists.
pub(crate) async fn change_identifiers(
    conn: &mut PgConnection,
    message: &ChangePatientIdentifiers,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    require_trusted(context, "I7")?;
    let adt = &message.adt;
    let new_mrn = adt.mrn.as_deref().filter(|m| !m.is_empty());
    let new_nhs = adt.nhs_number.as_deref().filter(|n| !n.is_empty());
    let previous_mrn = message.previous_mrn.as_deref().filter(|m| !m.is_empty());
    let previous_nhs = message
        .previous_nhs_number
        .as_deref()
        .filter(|n| !n.is_empty());
    if new_mrn.is_none() && new_nhs.is_none() {
        return Err(reject(
            "M2",
            "the message names no new MRN and no NHS number",
        ));
    }
    let new_exists: bool = match new_mrn {
        Some(mrn) => {
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM mrn WHERE mrn = $1)")
                .bind(mrn)
                .fetch_one(&mut *conn)
                .await?
        }
        None => false,
    };
    if new_exists {
        // I8: the new MRN is known already: a merge of the previous into it.
        let live = identity::live_mrn(conn, new_mrn, None, context).await?;
        demographics::update(conn, live, adt, context).await?;
        return merge_into(conn, live, previous_mrn, previous_nhs, context).await;
    }
    // I7: rename the previous MRN row in place (audited), or create the new one.
    let renamed: Option<i64> = sqlx::query_scalar(
        "WITH target AS (
             SELECT mrn_id FROM mrn
             WHERE mrn = $1 OR ($1 IS NULL AND nhs_number = $2 AND mrn IS NULL)
             ORDER BY mrn_id LIMIT 1 FOR UPDATE),
         audited AS (
             INSERT INTO mrn_audit (mrn_id, mrn, nhs_number, research_opt_out,
                 research_opt_out_valid_from, source_system,
                                         stored_from, stored_until, source_ids_id)
             SELECT m.mrn_id, m.mrn, m.nhs_number, m.research_opt_out,
                    m.research_opt_out_valid_from, m.source_system,
                    m.stored_from, $5, m.source_ids_id
             FROM mrn m JOIN target USING (mrn_id))
         UPDATE mrn m SET mrn = coalesce($3, m.mrn), nhs_number = coalesce($4, m.nhs_number),
             stored_from = $5, source_ids_id = $6
         FROM target WHERE m.mrn_id = target.mrn_id
         RETURNING m.mrn_id",
    )
    .bind(previous_mrn)
    .bind(previous_nhs)
    .bind(new_mrn)
    .bind(new_nhs)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .fetch_optional(&mut *conn)
    .await?;
    let live = match renamed {
        Some(mrn_id) => {
            sqlx::query_scalar("SELECT live_mrn_id FROM mrn_to_live WHERE mrn_id = $1")
                .bind(mrn_id)
                .fetch_one(&mut *conn)
                .await?
        }
        None => identity::live_mrn(conn, new_mrn, new_nhs, context).await?,
    };
    demographics::update(conn, live, adt, context).await?;
    Ok(())
}

/// A45: the visit moves to the message's patient (and, if it changed, to its new number).
pub(crate) async fn move_visit(
    conn: &mut PgConnection,
    message: &MoveVisitInformation,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    require_trusted(context, "I9")?;
    let adt = &message.adt;
    let encounter = visits::encounter(adt, "I9")?;
    let previous_encounter = message
        .previous_visit_number
        .as_deref()
        .filter(|v| !v.is_empty())
        .unwrap_or(encounter);
    let same_patient = message.previous_mrn.is_some() && message.previous_mrn == adt.mrn;
    if same_patient && previous_encounter == encounter {
        return Err(reject(
            "I10",
            "the visit move changes neither patient nor visit number",
        ));
    }
    if previous_encounter != encounter && visits::find(conn, encounter).await?.is_some() {
        return Err(reject(
            "I10",
            "the visit's new number belongs to another visit",
        ));
    }
    // I9: both patients are created if unknown.
    let to =
        identity::live_mrn(conn, adt.mrn.as_deref(), adt.nhs_number.as_deref(), context).await?;
    let from = identity::live_mrn(
        conn,
        message.previous_mrn.as_deref(),
        message.previous_nhs_number.as_deref(),
        context,
    )
    .await?;
    demographics::update(conn, to, adt, context).await?;
    let mut visit = visits::find_or_create(
        conn,
        previous_encounter,
        visits::Prefetched::NotRead,
        from,
        adt,
        context,
        false,
    )
    .await?;
    visit.state.mrn_id = to;
    let visit = visits::save(conn, visit, context).await?;
    if previous_encounter != encounter {
        visits::renumber(conn, visit.id, encounter, context).await?;
    }
    Ok(())
}
