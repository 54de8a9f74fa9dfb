//! Live before backfill, against real RabbitMQ and PostgreSQL: with the backfill queue full of
//! history, live messages are applied as they come while the backfill waits, and the backfill
//! is applied in full once live traffic leaves room.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use broker::{Origin, Outgoing, Publisher, Topology};
use event_processor::consumer::{ConsumerConfig, ConsumerStats};
use interchange::Message;
use testkit::TestDb;
use tokio_util::sync::CancellationToken;

fn problem(mrn: &str, id: usize) -> Outgoing {
    let json = serde_json::json!({
        "@class": "uk.ac.ucl.rits.inform.interchange.PatientProblem",
        "sourceSystem": "clarity",
        "sourceMessageId": format!("clarity/problems/{mrn}-{id}"),
        "updatedDateTime": "2020-01-01T00:00:00Z",
        "mrn": mrn,
        "conditionCode": format!("C{}", id % 50),
        "action": "ADD",
        "epicConditionId": {"status": "SAVE", "value": id},
        "addedDate": "2019-12-01",
    });
    let message = Message::from_value(&json).unwrap();
    Outgoing {
        body: message.to_json(),
        class: message.class_name(),
        origin: Origin::Table(format!("clarity/problems/{mrn}-{id}")),
        partition: message.partition_key().routing_key().to_owned(),
    }
}

fn topology(name: &str) -> Topology {
    Topology {
        queue: testkit::unique_name(name),
        dead_letter_exchange: testkit::unique_name("ward.test.dlx"),
        dead_letter_queue: testkit::unique_name("ward.test.dlq"),
        quorum: false,
        expires_ms: Some(600_000),
        ..Topology::live()
    }
}

async fn patients_like(pool: &sqlx::PgPool, pattern: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM star.mrn WHERE mrn LIKE $1")
        .bind(pattern)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn live_messages_are_applied_while_a_full_backfill_queue_waits() {
    const HISTORY: usize = 6_000;
    let db = TestDb::migrated().await;
    let (live, backfill) = (topology("ward.test.live"), topology("ward.test.backfill"));
    let amqp = testkit::amqp_url();
    let mut history = Publisher::new(amqp.clone(), backfill.clone(), 512);
    let old: Vec<Outgoing> = (0..HISTORY)
        .map(|i| problem(&format!("OLD{}", i % 600), i))
        .collect();
    history
        .publish_all(&old, &CancellationToken::new())
        .await
        .unwrap();
    let mut feed = Publisher::new(amqp.clone(), live.clone(), 64);
    feed.connect().await.unwrap();

    let stats = Arc::new(ConsumerStats::default());
    let shutdown = CancellationToken::new();
    let processor = tokio::spawn(event_processor::consumer::run(
        ConsumerConfig {
            batch_size: 16,
            backfill_queue: Some(backfill.queue.clone()),
            backfill_batch_size: 32,
            ..ConsumerConfig::new(amqp.clone(), live.queue.clone())
        },
        event_processor::Processor::default(),
        db.pool.clone(),
        Arc::clone(&stats),
        shutdown.clone(),
    ));
    // With nothing live, the backfill is taken.
    common::wait_until("backfill to start", async || {
        stats.backfill_applied.load(Ordering::Relaxed) > 0
    })
    .await;

    // Then 200 live messages at once, more than ten live batches' worth: they go ahead of the
    // queued history, which waits behind them but for the backfill batch in hand.
    let before: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let new: Vec<Outgoing> = (0..200).map(|i| problem(&format!("NEW{i}"), i)).collect();
    feed.publish_all(&new, &CancellationToken::new())
        .await
        .unwrap();
    common::wait_until("the live messages", async || {
        patients_like(&db.pool, "NEW%").await == 200
    })
    .await;
    let backfilled = stats.backfill_applied.load(Ordering::Relaxed) as usize;
    assert!(
        backfilled < HISTORY,
        "live went first ({backfilled} of {HISTORY} backfilled)"
    );
    let overtaken: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM star.patient_condition c JOIN star.mrn m USING (mrn_id)
         WHERE m.mrn LIKE 'OLD%' AND c.stored_from > $1
           AND c.stored_from < (SELECT max(c2.stored_from) FROM star.patient_condition c2
                                JOIN star.mrn m2 USING (mrn_id) WHERE m2.mrn LIKE 'NEW%')",
    )
    .bind(before)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(
        overtaken <= 64,
        "at most the backfill batches in hand went between the live ones: {overtaken}"
    );
    // Then the history is applied in full.
    common::wait_up_to(Duration::from_secs(300), "the whole backfill", async || {
        stats.backfill_applied.load(Ordering::Relaxed) as usize == HISTORY
    })
    .await;
    assert_eq!(patients_like(&db.pool, "OLD%").await, 600);
    let problems: i64 = sqlx::query_scalar("SELECT count(*) FROM star.patient_condition")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(problems as usize, HISTORY + 200);
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM star.dead_letter")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(dead, 0);
    shutdown.cancel();
    processor.await.unwrap();
}
