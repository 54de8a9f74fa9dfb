//! The location metadata family (from source tables): what a location string is —
//! `LocationMetadata` names its department, room and bed with their states, `DepartmentMetadata`
//! a department's names and states ([`departments`], [`rooms`], [`beds`], chained by
//! [`states`]). Rules LM1–LM4; metadata names no patient, so the processor applies it between
//! patients' messages, in its own transaction.
//!
//! LM1: a location string's department, room and bed are set once; a message that would change
//! one is refused. Unlike EMAP, a state older than the latest is not refused but placed in its
//! chain, so any arrival order ends with the same rows.

mod beds;
mod departments;
mod rooms;
mod states;

use futures::FutureExt;
use futures::future::BoxFuture;
use interchange::Message;
use interchange::location::LocationMetadata;
use sqlx::PgConnection;

use crate::engine::identity::Keys;
use crate::engine::places::place;
use crate::engine::read_ahead::Prefetched;
use crate::engine::{Context, Family, ProcessError, reject};

/// The location metadata family.
pub(crate) struct LocationMetadataFamily;

impl Family for LocationMetadataFamily {
    fn applies_to(&self, message: &Message) -> bool {
        matches!(
            message,
            Message::LocationMetadata(_) | Message::DepartmentMetadata(_)
        )
    }

    fn keys<'m>(&self, _message: &'m Message) -> Keys<'m> {
        Keys::default()
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        message: &'a Message,
        _keys: &'a Keys<'a>,
        _found: Option<Box<dyn Prefetched>>,
        context: &'a Context<'a>,
    ) -> BoxFuture<'a, Result<(), ProcessError>> {
        async move {
            match message {
                Message::DepartmentMetadata(m) => departments::metadata(conn, m, context).await,
                Message::LocationMetadata(m) => location(conn, m, context).await,
                _ => Err(reject("NOT-BUILT", "not location metadata")),
            }
        }
        .boxed()
    }
}

/// Applies one location metadata message.
async fn location(
    conn: &mut PgConnection,
    m: &LocationMetadata,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let Some(hl7) = m.hl7_string.as_deref().filter(|h| !h.is_empty()) else {
        return Err(reject(
            "LM1",
            "location metadata without its location string",
        ));
    };
    let Some(department_id) = m.department_id.as_deref().filter(|d| !d.is_empty()) else {
        return Err(reject("LM1", "location metadata without its department"));
    };
    let location = place(conn, hl7, context).await?;
    let department = departments::department(conn, department_id, context).await?;
    let room = match &m.room_metadata {
        Some(r) => Some(rooms::room(conn, department, r, context).await?),
        None => None,
    };
    let bed = match (&m.bed_metadata, room) {
        (Some(b), Some(room)) => Some(beds::bed(conn, room, b, context).await?),
        (Some(_), None) => return Err(reject("LM1", "a bed without its room")),
        (None, _) => None,
    };
    link_location(conn, location.id, Some(department), room, bed).await
}

/// LM1: sets the location's department, room and bed where it has none; refuses a change.
pub(crate) async fn link_location(
    conn: &mut PgConnection,
    location: i64,
    department: Option<i64>,
    room: Option<i64>,
    bed: Option<i64>,
) -> Result<(), ProcessError> {
    let stored: (Option<i64>, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT department_id, room_id, bed_id FROM location WHERE location_id = $1 FOR UPDATE",
    )
    .bind(location)
    .fetch_one(&mut *conn)
    .await?;
    let changes = |stored: Option<i64>, given: Option<i64>| matches!((stored, given), (Some(s), Some(g)) if s != g);
    if changes(stored.0, department) || changes(stored.1, room) || changes(stored.2, bed) {
        return Err(reject(
            "LM1",
            "a location string's department, room or bed cannot change",
        ));
    }
    let now = (stored.0.or(department), stored.1.or(room), stored.2.or(bed));
    if now != stored {
        sqlx::query(
            "UPDATE location SET department_id = $2, room_id = $3, bed_id = $4
             WHERE location_id = $1",
        )
        .bind(location)
        .bind(now.0)
        .bind(now.1)
        .bind(now.2)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
