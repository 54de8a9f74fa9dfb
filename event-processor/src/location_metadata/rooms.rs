//! Rooms and their states (LM2): a room by (department, HL7 name), whose name never changes (a
//! message naming it otherwise is refused); a state per Epic contact (CSN), placed in the room's
//! chain by its contact date whatever order it arrives in.

use interchange::location::RoomMetadata;
use sqlx::PgConnection;

use super::departments::status;
use super::states;
use crate::engine::{Context, ProcessError, reject};

/// The room `r` of department `department`, with its state; its id.
pub(crate) async fn room(
    conn: &mut PgConnection,
    department: i64,
    r: &RoomMetadata,
    context: &Context<'_>,
) -> Result<i64, ProcessError> {
    let Some(hl7) = r.room_hl7.as_deref().filter(|h| !h.is_empty()) else {
        return Err(reject("LM2", "room metadata without the room's HL7 name"));
    };
    let (id, name): (i64, Option<String>) = sqlx::query_as(
        "WITH found AS (
             SELECT room_id, name FROM room WHERE department_id = $1 AND hl7_string = $2),
         created AS (
             INSERT INTO room (department_id, hl7_string, name, stored_from, source_ids_id)
             SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT FROM found)
             RETURNING room_id, name)
         SELECT room_id, name FROM found UNION ALL SELECT room_id, name FROM created",
    )
    .bind(department)
    .bind(hl7)
    .bind(&r.room_name)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .fetch_one(&mut *conn)
    .await?;
    match (&name, &r.room_name) {
        (Some(stored), Some(given)) if stored != given => {
            return Err(reject("LM2", "a room's name cannot change"));
        }
        (None, Some(given)) => {
            sqlx::query("UPDATE room SET name = $2 WHERE room_id = $1")
                .bind(id)
                .bind(given)
                .execute(&mut *conn)
                .await?;
        }
        _ => {}
    }
    let (Some(csn), Some(from)) = (r.room_csn, r.room_contact_date) else {
        return Err(reject(
            "LM2",
            "a room state without its CSN and contact date",
        ));
    };
    sqlx::query(
        "INSERT INTO room_state (room_id, csn, status, is_ready, valid_from, stored_from,
             source_ids_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (csn) DO NOTHING",
    )
    .bind(id)
    .bind(csn)
    .bind(status(r.room_record_state))
    .bind(r.is_room_ready)
    .bind(from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    states::chain(conn, "room_state", "room_id", id, context).await?;
    Ok(id)
}
