//! Beds, their states and facilities: a bed by (room, HL7 name); a state per Epic contact
//! (CSN), except that a pool bed (LM3) has one state per contact date counting the CSNs of the
//! pool once each, so a repeated message counts nothing twice. States are placed in the bed's
//! chain by contact date whatever order they arrive in.

use interchange::location::BedMetadata;
use sqlx::PgConnection;

use super::departments::status;
use super::states;
use crate::engine::{Context, ProcessError, reject};

/// The bed `b` of room `room`, with its state and facility; its id.
pub(crate) async fn bed(
    conn: &mut PgConnection,
    room: i64,
    b: &BedMetadata,
    context: &Context<'_>,
) -> Result<i64, ProcessError> {
    let Some(hl7) = b.bed_hl7.as_deref().filter(|h| !h.is_empty()) else {
        return Err(reject("LM3", "bed metadata without the bed's HL7 name"));
    };
    let (Some(csn), Some(from)) = (b.bed_csn, b.bed_contact_date) else {
        return Err(reject(
            "LM3",
            "a bed state without its CSN and contact date",
        ));
    };
    let id: i64 = sqlx::query_scalar(
        "WITH found AS (SELECT bed_id FROM bed WHERE room_id = $1 AND hl7_string = $2),
         created AS (
             INSERT INTO bed (room_id, hl7_string, stored_from, source_ids_id)
             SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT FROM found)
             RETURNING bed_id)
         SELECT bed_id FROM found UNION ALL SELECT bed_id FROM created",
    )
    .bind(room)
    .bind(hl7)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .fetch_one(&mut *conn)
    .await?;
    let status = status(b.bed_record_state);
    let pool = b.is_pool_bed.unwrap_or(false);
    let existing_pool: Option<i64> = match pool {
        true => {
            sqlx::query_scalar(
                "SELECT bed_state_id FROM bed_state
                 WHERE bed_id = $1 AND valid_from = $2 AND pool_csns IS NOT NULL FOR UPDATE",
            )
            .bind(id)
            .bind(from)
            .fetch_optional(&mut *conn)
            .await?
        }
        false => None,
    };
    let state: Option<i64> = match existing_pool {
        // LM3: another bed of the pool at this contact date.
        Some(state) => {
            sqlx::query(
                "UPDATE bed_state SET pool_csns = pool_csns || $2,
                     pool_bed_count = cardinality(pool_csns) + 1, csn = least(csn, $2)
                 WHERE bed_state_id = $1 AND NOT ($2 = ANY(pool_csns))",
            )
            .bind(state)
            .bind(csn)
            .execute(&mut *conn)
            .await?;
            Some(state)
        }
        None => {
            sqlx::query_scalar(
                "INSERT INTO bed_state (bed_id, csn, is_in_census, is_bunk, status,
                     pool_bed_count, pool_csns, valid_from, stored_from, source_ids_id)
                 VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN 1 END,
                         CASE WHEN $6 THEN ARRAY[$2::bigint] END, $7, $8, $9)
                 ON CONFLICT (csn) DO NOTHING
                 RETURNING bed_state_id",
            )
            .bind(id)
            .bind(csn)
            .bind(b.bed_is_in_census)
            .bind(b.is_bunk_bed)
            .bind(&status)
            .bind(pool)
            .bind(from)
            .bind(context.stored_from)
            .bind(context.source_ids_id)
            .fetch_optional(&mut *conn)
            .await?
        }
    };
    if let (Some(state), Some(facility)) = (state, b.bed_facility.as_deref()) {
        sqlx::query(
            "INSERT INTO bed_facility (bed_state_id, type) VALUES ($1, $2)
             ON CONFLICT (bed_state_id, type) DO NOTHING",
        )
        .bind(state)
        .bind(facility)
        .execute(&mut *conn)
        .await?;
    }
    states::chain(conn, "bed_state", "bed_id", id, context).await?;
    Ok(id)
}
