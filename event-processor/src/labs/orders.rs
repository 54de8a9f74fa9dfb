//! Lab orders (LB4–LB7): one per (battery, sample). The visit is set only while the order has
//! none; every other value when the order has none or the message is not older. (EMAP sets
//! clinical information, source system and Epic's number only when the order is new or the
//! message newer, so a late older order message loses them and the outcome depends on arrival
//! order; Ward lets an older message fill what the row lacks, never replace what it holds.) A cancellation (ORC-1 CA, CR or OC, or Epic's order number sent as a
//! delete) is always kept in `lab_order_cancellation`; it deletes the order (audited) unless the
//! order is newer than it (LB7), and is refused if the order has results (LB5). An order matching
//! a cancellation received earlier is refused, not re-created (LB6).

use chrono::{DateTime, Utc};
use interchange::lab::LabOrderMsg;
use interchange::value::Iv;
use sqlx::PgConnection;

use crate::engine::fill;
use crate::engine::{Context, ProcessError, reject};

/// An order's values.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct Order {
    hospital_visit_id: Option<i64>,
    order_datetime: Option<DateTime<Utc>>,
    request_datetime: Option<DateTime<Utc>>,
    clinical_information: Option<String>,
    internal_lab_number: Option<String>,
    source_system: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Stored {
    lab_order_id: i64,
    valid_from: DateTime<Utc>,
    #[sqlx(flatten)]
    order: Order,
}

/// Where an order is: its battery and sample.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key {
    pub battery: i64,
    pub sample: i64,
}

/// Whether `m` cancels its order.
pub(crate) fn is_cancellation(m: &LabOrderMsg) -> bool {
    matches!(m.order_control_id.as_deref(), Some("CA" | "CR" | "OC"))
        || matches!(m.epic_care_order_number, Iv::Delete(Some(_)))
}

/// Epic's order number, whether sent as a value or as the value of a delete.
fn epic_number(m: &LabOrderMsg) -> Option<&str> {
    match &m.epic_care_order_number {
        Iv::Save(n) | Iv::Delete(Some(n)) => Some(n.as_str()),
        _ => None,
    }
}

impl Order {
    fn from_message(
        m: &LabOrderMsg,
        visit: Option<i64>,
        current: Option<Order>,
        newer: bool,
    ) -> Order {
        let c = current.unwrap_or(Order {
            hospital_visit_id: None,
            order_datetime: None,
            request_datetime: None,
            clinical_information: None,
            internal_lab_number: None,
            source_system: None,
        });
        let given = |v: Option<&str>| v.map_or(Iv::Unknown, |v| Iv::Save(v.to_owned()));
        Order {
            hospital_visit_id: c.hospital_visit_id.or(visit),
            order_datetime: fill(&m.order_date_time, c.order_datetime, newer),
            request_datetime: fill(&m.requested_date_time, c.request_datetime, newer),
            clinical_information: fill(&m.clinical_information, c.clinical_information, newer),
            internal_lab_number: fill(&given(epic_number(m)), c.internal_lab_number, newer),
            source_system: fill(&given(m.source_system.as_deref()), c.source_system, newer),
        }
    }
}

async fn stored(conn: &mut PgConnection, key: Key) -> Result<Option<Stored>, sqlx::Error> {
    sqlx::query_as(
        "SELECT lab_order_id, valid_from, hospital_visit_id, order_datetime, request_datetime,
                clinical_information, internal_lab_number, source_system
         FROM lab_order WHERE lab_battery_id = $1 AND lab_sample_id = $2 FOR UPDATE",
    )
    .bind(key.battery)
    .bind(key.sample)
    .fetch_optional(&mut *conn)
    .await
}

/// The order `m` names, created or updated (LB4, LB6); its id.
pub(crate) async fn order(
    conn: &mut PgConnection,
    key: Key,
    visit: Option<i64>,
    m: &LabOrderMsg,
    context: &Context<'_>,
) -> Result<i64, ProcessError> {
    let Some(stored) = stored(conn, key).await? else {
        if was_cancelled(conn, key, m).await? {
            return Err(reject(
                "LB6",
                "the order was cancelled by an earlier message",
            ));
        }
        let new = Order::from_message(m, visit, None, true);
        return Ok(insert(conn, key, &new, context).await?);
    };
    // Strictly newer: of messages with the same time the first keeps what it set, since a
    // message that changes nothing does not move the order's valid-from.
    let newer = context.valid_from > stored.valid_from;
    let new = Order::from_message(m, visit, Some(stored.order.clone()), newer);
    if new != stored.order {
        update(conn, stored.lab_order_id, &new, context).await?;
    }
    Ok(stored.lab_order_id)
}

/// LB6: a cancellation of this battery on this sample with the same Epic number (and order
/// time, where both know it) was received.
async fn was_cancelled(
    conn: &mut PgConnection,
    key: Key,
    m: &LabOrderMsg,
) -> Result<bool, sqlx::Error> {
    // A cancellation rarely knows the order time (a CA carries none): the times must agree
    // only where both are known.
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT FROM lab_order_cancellation
             WHERE lab_battery_id = $1 AND lab_sample_id = $2
               AND internal_lab_number IS NOT DISTINCT FROM $3
               AND (order_datetime IS NULL OR $4::timestamptz IS NULL
                    OR order_datetime = $4))",
    )
    .bind(key.battery)
    .bind(key.sample)
    .bind(epic_number(m))
    .bind(m.order_date_time.saved().copied())
    .fetch_one(&mut *conn)
    .await
}

async fn insert(
    conn: &mut PgConnection,
    key: Key,
    new: &Order,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO lab_order (lab_sample_id, hospital_visit_id, lab_battery_id, order_datetime,
             request_datetime, clinical_information, internal_lab_number, source_system,
             valid_from, stored_from, source_ids_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING lab_order_id",
    )
    .bind(key.sample)
    .bind(new.hospital_visit_id)
    .bind(key.battery)
    .bind(new.order_datetime)
    .bind(new.request_datetime)
    .bind(&new.clinical_information)
    .bind(&new.internal_lab_number)
    .bind(&new.source_system)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .fetch_one(&mut *conn)
    .await
}

/// The columns an order's audit row copies.
const AUDITED: &str = "lab_order_id, lab_sample_id, hospital_visit_id, lab_battery_id, \
    order_datetime, request_datetime, clinical_information, internal_lab_number, source_system";

async fn update(
    conn: &mut PgConnection,
    id: i64,
    new: &Order,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH audited AS (
             INSERT INTO lab_order_audit ({AUDITED}, valid_from, valid_until, stored_from,
                                          stored_until, source_ids_id)
             SELECT {AUDITED}, valid_from, greatest(valid_from, $7), stored_from, $8,
                    source_ids_id
             FROM lab_order WHERE lab_order_id = $1)
         UPDATE lab_order SET hospital_visit_id = $2, order_datetime = $3, request_datetime = $4,
             clinical_information = $5, internal_lab_number = $6,
             source_system = $10, valid_from = greatest(valid_from, $7), stored_from = $8,
             source_ids_id = $9
         WHERE lab_order_id = $1"
    )))
    .bind(id)
    .bind(new.hospital_visit_id)
    .bind(new.order_datetime)
    .bind(new.request_datetime)
    .bind(&new.clinical_information)
    .bind(&new.internal_lab_number)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .bind(&new.source_system)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// LB5, LB7: the cancellation kept; the order it cancels deleted (audited) unless newer than
/// it, refused if the order has results.
pub(crate) async fn cancel(
    conn: &mut PgConnection,
    key: Key,
    m: &LabOrderMsg,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    if let Some(stored) = stored(conn, key).await?
        && stored.valid_from < context.valid_from
    {
        let has_results: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT FROM lab_result WHERE lab_order_id = $1)")
                .bind(stored.lab_order_id)
                .fetch_one(&mut *conn)
                .await?;
        if has_results {
            return Err(reject("LB5", "a cancelled lab order already has results"));
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH gone AS (DELETE FROM lab_order WHERE lab_order_id = $1 RETURNING *)
             INSERT INTO lab_order_audit ({AUDITED}, valid_from, valid_until, stored_from,
                                          stored_until, source_ids_id)
             SELECT {AUDITED}, valid_from, greatest(valid_from, $2), stored_from, $3,
                    source_ids_id
             FROM gone"
        )))
        .bind(stored.lab_order_id)
        .bind(context.valid_from)
        .bind(context.stored_from)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "INSERT INTO lab_order_cancellation (lab_battery_id, lab_sample_id, internal_lab_number,
             order_datetime, valid_from, stored_from, source_ids_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(key.battery)
    .bind(key.sample)
    .bind(epic_number(m))
    .bind(m.order_date_time.saved().copied())
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
