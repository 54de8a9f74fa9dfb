//! Planned movements: pending transfers (A15) and their cancellations (A26), rules P1–P3.
//!
//! EMAP pairs a cancellation with the earliest uncancelled request at or before it, or keeps a
//! cancellation-only row that a later request fills in (P2). Done greedily as messages arrive,
//! that pairing depends on arrival order (a late cancellation can take a request that an earlier
//! cancellation should have had). Here the rows of a visit's plans to one place are re-derived
//! from every request and cancellation received — which the rows themselves hold, each once —
//! pairing cancellations in time order with the earliest unpaired request at or before them; the
//! difference is written, audited (G3). So any order gives the same rows (P3), and a resent
//! message changes nothing (G2).

use chrono::{DateTime, Utc};
use interchange::adt::{CancelPendingTransfer, PendingTransfer, PendingType};
use sqlx::PgConnection;

use super::facts::Planned;
use super::tables;
use super::visits::Visit;
use crate::engine::places;
use crate::engine::{Context, ProcessError};

fn event_type(kind: PendingType) -> &'static str {
    match kind {
        PendingType::Admit => "ADMIT",
        PendingType::Transfer => "TRANSFER",
        PendingType::Discharge => "DISCHARGE",
    }
}

/// A planned movement as derived: when it was requested and when cancelled, either possibly
/// unknown (a cancellation whose request has not arrived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    requested: Option<DateTime<Utc>>,
    cancelled: Option<DateTime<Utc>>,
}

/// Pairs each cancellation, in time order, with the earliest unpaired request at or before it.
fn pair(mut requests: Vec<DateTime<Utc>>, mut cancels: Vec<DateTime<Utc>>) -> Vec<Plan> {
    requests.sort();
    requests.dedup();
    cancels.sort();
    cancels.dedup();
    let mut taken = vec![false; requests.len()];
    let mut plans = Vec::new();
    for cancel in cancels {
        let request = (0..requests.len()).find(|&i| !taken[i] && requests[i] <= cancel);
        if let Some(i) = request {
            taken[i] = true;
        }
        plans.push(Plan {
            requested: request.map(|i| requests[i]),
            cancelled: Some(cancel),
        });
    }
    for (i, request) in requests.into_iter().enumerate() {
        if !taken[i] {
            plans.push(Plan {
                requested: Some(request),
                cancelled: None,
            });
        }
    }
    plans
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    planned_movement_id: i64,
    event_datetime: Option<DateTime<Utc>>,
    cancelled_datetime: Option<DateTime<Utc>>,
}

/// P1: an A15 records a planned movement requested at the message time.
pub(crate) async fn request(
    conn: &mut PgConnection,
    visit: &mut Visit,
    message: &PendingTransfer,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let destination = message.pending_destination.saved();
    let kind = event_type(message.pending_event_type);
    rederive(
        conn,
        visit.id,
        known(visit),
        kind,
        destination,
        Some(context.valid_from),
        None,
        context,
    )
    .await
}

/// P2: an A26 cancels the earliest uncancelled request at or before its cancellation time.
pub(crate) async fn cancel(
    conn: &mut PgConnection,
    visit: &mut Visit,
    message: &CancelPendingTransfer,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let destination = message.pending_destination.saved();
    let kind = event_type(message.pending_event_type);
    let at = message.cancelled_date_time.unwrap_or(context.valid_from);
    let known = known(visit);
    rederive(
        conn,
        visit.id,
        known,
        kind,
        destination,
        None,
        Some(at),
        context,
    )
    .await
}

/// The visit's planned movements if they are known without a read: none for a visit this
/// message created, else those read with the visit (under its row lock, which every writer of
/// a visit's planned movements takes first).
fn known(visit: &mut Visit) -> Option<Vec<Planned>> {
    if visit.is_new() {
        return Some(Vec::new());
    }
    visit.take_facts().map(|facts| facts.planned)
}

#[allow(clippy::too_many_arguments)]
async fn rederive(
    conn: &mut PgConnection,
    visit_id: i64,
    known: Option<Vec<Planned>>,
    kind: &str,
    destination: Option<&String>,
    requested: Option<DateTime<Utc>>,
    cancelled: Option<DateTime<Utc>>,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let location_id = match destination.filter(|d| !d.is_empty()) {
        Some(name) => Some(places::place(conn, name, context).await?.id),
        None => None,
    };
    let rows: Vec<Row> = match known {
        Some(known) => known
            .into_iter()
            .filter(|p| p.event_type == kind && p.location_id == location_id)
            .map(|p| Row {
                planned_movement_id: p.planned_movement_id,
                event_datetime: p.event_datetime,
                cancelled_datetime: p.cancelled_datetime,
            })
            .collect(),
        None => read(conn, visit_id, kind, location_id).await?,
    };
    let changes = replan(&rows, requested, cancelled);
    context
        .write(conn, |w| {
            for (id, plan) in &changes.updated {
                tables::plan_change(w, *id, plan.requested, plan.cancelled, context);
            }
            for id in &changes.deleted {
                tables::plan_delete(w, *id, context);
            }
            for plan in &changes.inserted {
                let at = (plan.requested, plan.cancelled);
                tables::plan_insert(w, visit_id, location_id, kind, at, context);
            }
        })
        .await?;
    Ok(())
}

/// How a visit's planned rows of one kind and place change when a request or cancellation is
/// added: rows whose pairing still stands are left alone.
#[derive(Debug, Default, PartialEq)]
struct Changes {
    /// Rows re-paired, by id: a row keeps its id if it keeps its request or its cancellation.
    updated: Vec<(i64, Plan)>,
    deleted: Vec<i64>,
    inserted: Vec<Plan>,
}

fn replan(
    rows: &[Row],
    requested: Option<DateTime<Utc>>,
    cancelled: Option<DateTime<Utc>>,
) -> Changes {
    let requests: Vec<_> = rows
        .iter()
        .filter_map(|r| r.event_datetime)
        .chain(requested)
        .collect();
    let cancels: Vec<_> = rows
        .iter()
        .filter_map(|r| r.cancelled_datetime)
        .chain(cancelled)
        .collect();
    let mut plans = pair(requests, cancels);
    let mut unmatched = Vec::new();
    for row in rows {
        let same = plans.iter().position(|p| {
            p.requested == row.event_datetime && p.cancelled == row.cancelled_datetime
        });
        match same {
            Some(i) => {
                plans.remove(i);
            }
            None => unmatched.push(row),
        }
    }
    let mut changes = Changes::default();
    for row in unmatched {
        let keeps = plans.iter().position(|p| {
            (row.event_datetime.is_some() && p.requested == row.event_datetime)
                || (row.cancelled_datetime.is_some() && p.cancelled == row.cancelled_datetime)
        });
        match keeps {
            Some(i) => changes
                .updated
                .push((row.planned_movement_id, plans.remove(i))),
            None => changes.deleted.push(row.planned_movement_id),
        }
    }
    changes.inserted = plans;
    changes
}

/// A visit's planned movements of one kind to one place, locked, by id.
async fn read(
    conn: &mut PgConnection,
    visit_id: i64,
    kind: &str,
    location_id: Option<i64>,
) -> Result<Vec<Row>, sqlx::Error> {
    sqlx::query_as(
        "SELECT planned_movement_id, event_datetime, cancelled_datetime
         FROM planned_movement
         WHERE hospital_visit_id = $1 AND event_type = $2 AND location_id IS NOT DISTINCT FROM $3
         ORDER BY planned_movement_id FOR UPDATE",
    )
    .bind(visit_id)
    .bind(kind)
    .bind(location_id)
    .fetch_all(&mut *conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 1, hour, 0, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn cancellations_pair_with_the_earliest_request_before_them() {
        let plans = pair(vec![at(12), at(10)], vec![at(13), at(11)]);
        assert_eq!(
            plans,
            vec![
                Plan {
                    requested: Some(at(10)),
                    cancelled: Some(at(11))
                },
                Plan {
                    requested: Some(at(12)),
                    cancelled: Some(at(13))
                },
            ]
        );
    }

    #[test]
    fn a_cancellation_before_any_request_stands_alone() {
        let plans = pair(vec![at(12)], vec![at(11)]);
        assert_eq!(plans.len(), 2);
        assert!(plans.contains(&Plan {
            requested: None,
            cancelled: Some(at(11))
        }));
    }
}
