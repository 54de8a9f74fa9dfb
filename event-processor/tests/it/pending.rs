//! Planned movements (P1–P3).

use testkit::TestDb;

use crate::harness::*;

/// A visit's plans as data: `"<requested>-<cancelled>"`, `none` for a missing time.
async fn plans(pool: &sqlx::PgPool, encounter: &str) -> Vec<String> {
    type Time = Option<chrono::DateTime<chrono::Utc>>;
    let rows: Vec<(Time, Time, bool)> = sqlx::query_as(
        "SELECT p.event_datetime, p.cancelled_datetime, p.cancelled
             FROM star.planned_movement p JOIN star.hospital_visit v USING (hospital_visit_id)
             WHERE v.encounter = $1 ORDER BY p.event_datetime NULLS LAST, p.cancelled_datetime",
    )
    .bind(encounter)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(requested, cancelled, flag)| {
            assert_eq!(flag, cancelled.is_some());
            let hhmm = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or("none".to_owned(), |t| t.format("%H:%M").to_string())
            };
            format!("{}-{}", hhmm(requested), hhmm(cancelled))
        })
        .collect()
}

#[tokio::test]
async fn p1_a_pending_transfer_creates_a_planned_movement() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A01 09:00 at=A",
            "A15 10:00 pending=WARD^B^1",
            "A15 10:00 pending=WARD^B^1 id=again",
        ],
    )
    .await;
    assert_eq!(plans(&db.pool, "V1").await, ["10:00-none"]);
    let (kind, place): (String, String) = sqlx::query_as(
        "SELECT event_type, location_string FROM star.planned_movement JOIN star.location USING (location_id)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((kind.as_str(), place.as_str()), ("TRANSFER", "WARD^B^1"));
}

#[tokio::test]
async fn p2_a_cancellation_cancels_the_earliest_request_before_it_or_waits_for_one() {
    let db = TestDb::migrated().await;
    ok(
        &db.pool,
        &[
            "A15 10:00 pending=B",
            "A15 11:00 pending=B",
            "A26 11:30 cancel=11:30 pending=B",
        ],
    )
    .await;
    assert_eq!(plans(&db.pool, "V1").await, ["10:00-11:30", "11:00-none"]);
    assert_eq!(count(&db.pool, "planned_movement_audit").await, 1);
    // Cancelled before the request arrived: a cancellation-only row, which the request fills.
    ok(&db.pool, &["A26 12:30 visit=V2 cancel=12:30 pending=B"]).await;
    assert_eq!(plans(&db.pool, "V2").await, ["none-12:30"]);
    ok(&db.pool, &["A15 12:00 visit=V2 pending=B"]).await;
    assert_eq!(plans(&db.pool, "V2").await, ["12:00-12:30"]);
}

#[tokio::test]
async fn p3_requests_and_cancellations_in_any_order_give_the_same_plans() {
    let db = TestDb::migrated().await;
    let steps = [
        "A15 10:00 pending=B",
        "A26 10:30 cancel=10:30 pending=B",
        "A15 11:00 pending=B",
        "A26 11:30 cancel=11:30 pending=B",
    ];
    let orders = permutations(steps.len());
    for (n, order) in orders.iter().enumerate() {
        let lines: Vec<String> = order
            .iter()
            .map(|&i| format!("{} visit=P{n} mrn=P{n}", steps[i]))
            .collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        ok(&db.pool, &lines).await;
        assert_eq!(
            plans(&db.pool, &format!("P{n}")).await,
            ["10:00-10:30", "11:00-11:30"],
            "{order:?}"
        );
    }
    assert_eq!(orders.len(), 24);
}
