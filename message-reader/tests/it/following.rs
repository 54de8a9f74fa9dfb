//! The reader following the IDS: order, exactly once across restarts, late commits, gaps,
//! duplicates, errors, reprocessing, and the broker or database going away.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use broker::Publisher;
use interchange::Message;
use message_reader::{Config, Resources, SiteConfig, Stats};
use sqlx::postgres::PgPoolOptions;
use testkit::{Proxy, TestDb};
use tokio_util::sync::CancellationToken;

use crate::harness::*;

#[tokio::test]
async fn publishes_in_ids_order_exactly_once_across_a_restart() {
    let db = TestDb::migrated().await;
    let amqp = testkit::amqp_url();
    let topology = topology();
    let mut ids = Vec::new();
    for n in 0..120 {
        ids.push(insert(&db.pool, &adt(n, &format!("MRN{}", n % 17))).await);
    }
    let first = RunningReader::start(&db.pool, &amqp, &topology, config());
    first.wait_for_position(ids[119]).await;
    let stats = first.stop().await;
    let stopped_at = stats.position.load(Ordering::Relaxed);
    let stored: i64 =
        sqlx::query_scalar("SELECT last_ids_id FROM reader.progress WHERE reader = 'hl7'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        stored, stopped_at,
        "the durable position is where the reader stopped"
    );
    // The feed goes on while the reader is down.
    for n in 120..200 {
        ids.push(insert(&db.pool, &adt(n, &format!("MRN{}", n % 17))).await);
    }
    let second = RunningReader::start(&db.pool, &amqp, &topology, config());
    second.wait_for_position(*ids.last().unwrap()).await;
    second.stop().await;
    let received = drain(&amqp, &topology.queue, 200).await;
    let received_ids: Vec<i64> = received.iter().map(|r| r.ids_id).collect();
    assert_eq!(received_ids, ids, "every row exactly once, in IDS order");
    for r in &received {
        let message = Message::from_json(&r.body).unwrap();
        assert_eq!(r.class, message.class_name());
        assert_eq!(
            message.source_message_id(),
            Some(r.ids_id.to_string().as_str())
        );
    }
    delete_queues(&amqp, &topology).await;
}

#[tokio::test]
async fn a_row_committing_late_is_never_skipped_and_a_rolled_back_one_is_passed() {
    let db = TestDb::migrated().await;
    let amqp = testkit::amqp_url();
    let topology = topology();
    let before = insert(&db.pool, &adt(0, "A")).await;
    // A transaction takes the next id and stays open while later rows commit.
    let mut open = db.pool.begin().await.unwrap();
    let late: i64 = sqlx::query_scalar(
        "INSERT INTO ids.message (payload, payload_sha256, transport) VALUES ($1, sha256($1), 'mllp') RETURNING id",
    )
    .bind(adt(1, "B"))
    .fetch_one(&mut *open)
    .await
    .unwrap();
    let after = insert(&db.pool, &adt(2, "C")).await;
    assert!(before < late && late < after);

    let reader = RunningReader::start(&db.pool, &amqp, &topology, config());
    reader.wait_for_position(before).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        reader.stats.position.load(Ordering::Relaxed),
        before,
        "waits at the open transaction's id"
    );
    open.commit().await.unwrap();
    reader.wait_for_position(after).await;

    // A rolled-back insert leaves a gap that is passed once it is certainly permanent.
    let mut doomed = db.pool.begin().await.unwrap();
    sqlx::query("INSERT INTO ids.message (payload, payload_sha256, transport) VALUES ('\\x00', sha256('\\x00'), 'mllp')")
        .execute(&mut *doomed)
        .await
        .unwrap();
    doomed.rollback().await.unwrap();
    let last = insert(&db.pool, &adt(3, "D")).await;
    reader.wait_for_position(last).await;
    let stats = reader.stop().await;
    assert_eq!(stats.skipped_ids.load(Ordering::Relaxed), 1);

    let received: Vec<i64> = drain(&amqp, &topology.queue, 4)
        .await
        .iter()
        .map(|r| r.ids_id)
        .collect();
    assert_eq!(received, vec![before, late, after, last]);
    delete_queues(&amqp, &topology).await;
}

#[tokio::test]
async fn duplicates_are_skipped_failures_recorded_and_reprocessing_publishes_after_a_fix() {
    let db = TestDb::migrated().await;
    let amqp = testkit::amqp_url();
    let topology = topology();
    let original = insert(&db.pool, &adt(1, "M1")).await;
    insert_with(&db.pool, &adt(1, "M1"), Some(original), None).await;
    let unreadable = insert_with(
        &db.pool,
        b"garbage",
        None,
        Some("the message has no MSH segment"),
    )
    .await;
    let broken = insert(
        &db.pool,
        b"MSH|^~\\&|EPIC||||20240101||ADT^A01|X|P|2.4\rPID|1||1\rzz|bad\r",
    )
    .await;
    let legacy = insert(
        &db.pool,
        &adt(2, "M2")
            .into_iter()
            .collect::<Vec<u8>>()
            .replace_sender("LEGACY"),
    )
    .await;
    let ignored_type = insert(&db.pool, b"MSH|^~\\&|EPIC||||20240101||SIU^S12|S|P|2.4\r").await;

    let reader = RunningReader::start(&db.pool, &amqp, &topology, config());
    reader.wait_for_position(ignored_type).await;
    let stats = reader.stop().await;
    assert_eq!(stats.duplicates.load(Ordering::Relaxed), 1);
    assert_eq!(stats.errors.load(Ordering::Relaxed), 2);
    let ignored = stats.ignored();
    assert_eq!(
        ignored.get("ADT^A01"),
        Some(&1),
        "ADT from an untrusted sender: {ignored:?}"
    );
    assert_eq!(ignored.get("SIU^S12"), Some(&1));
    let exposition = stats.render();
    assert!(
        exposition.contains("message_reader_errors_total 2"),
        "{exposition}"
    );
    assert!(exposition.contains("message_reader_duplicates_total 1"));
    assert!(exposition.contains("message_reader_ignored_total{kind=\"SIU^S12\"} 1"));
    assert!(exposition.contains(&format!("message_reader_position {ignored_type}")));
    let errors: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT ids_id, error, reader_version FROM reader.error ORDER BY ids_id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        errors.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![unreadable, broken]
    );
    assert!(errors[0].1.contains("unreadable header"));
    assert!(errors[1].1.contains("unparseable HL7"));
    assert!(!errors[0].2.is_empty());
    // What was left out by design says why, in SQL.
    let left_out: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT ids_id, kind, reason FROM reader.ignored ORDER BY ids_id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        left_out
            .iter()
            .map(|i| (i.0, i.1.as_str()))
            .collect::<Vec<_>>(),
        vec![(legacy, "ADT^A01"), (ignored_type, "SIU^S12")]
    );
    assert!(left_out.iter().all(|i| !i.2.is_empty()));
    let received: Vec<i64> = drain(&amqp, &topology.queue, 1)
        .await
        .iter()
        .map(|r| r.ids_id)
        .collect();
    assert_eq!(received, vec![original], "only the original is published");

    // The site now trusts LEGACY: re-reading that row publishes it, without moving the position.
    let config = Config {
        site: SiteConfig {
            trusted_adt_senders: vec!["EPIC".into(), "LEGACY".into()],
            ..SiteConfig::default()
        },
        ..config()
    };
    let stats = Arc::new(Stats::default());
    let resources = Resources {
        pool: db.pool.clone(),
        publisher: Publisher::new(amqp.clone(), topology.clone(), 8),
        stats: Arc::clone(&stats),
    };
    message_reader::reprocess(&config, resources, &[legacy], &CancellationToken::new())
        .await
        .unwrap();
    let received: Vec<i64> = drain(&amqp, &topology.queue, 1)
        .await
        .iter()
        .map(|r| r.ids_id)
        .collect();
    assert_eq!(received, vec![legacy]);
    delete_queues(&amqp, &topology).await;
}

/// Replaces MSH-3 in a test message.
trait ReplaceSender {
    fn replace_sender(self, sender: &str) -> Vec<u8>;
}

impl ReplaceSender for Vec<u8> {
    fn replace_sender(self, sender: &str) -> Vec<u8> {
        String::from_utf8(self)
            .unwrap()
            .replacen("|EPIC|", &format!("|{sender}|"), 1)
            .into_bytes()
    }
}

#[tokio::test]
async fn survives_the_broker_going_away_and_coming_back() {
    let db = TestDb::migrated().await;
    let amqp_upstream = testkit::amqp_url();
    let proxy = Proxy::start("127.0.0.1:5672".parse().unwrap()).await;
    let via_proxy = format!("amqp://guest:guest@{}/%2f", proxy.addr());
    let topology = topology();
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(insert(&db.pool, &adt(n, "P")).await);
    }
    let reader = RunningReader::start(&db.pool, &via_proxy, &topology, config());
    reader.wait_for_position(ids[19]).await;
    proxy.cut();
    for n in 20..40 {
        ids.push(insert(&db.pool, &adt(n, "P")).await);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        reader.stats.position.load(Ordering::Relaxed),
        ids[19],
        "no progress without the broker"
    );
    proxy.restore();
    reader.wait_for_position(ids[39]).await;
    reader.stop().await;
    let received: Vec<i64> = drain(&amqp_upstream, &topology.queue, 40)
        .await
        .iter()
        .map(|r| r.ids_id)
        .collect();
    // Nothing lost; a message confirmed just as the broker vanished may come twice.
    let mut unique = received.clone();
    unique.dedup();
    assert_eq!(unique, ids);
    delete_queues(&amqp_upstream, &topology).await;
}

#[tokio::test]
async fn survives_the_database_going_away_and_coming_back() {
    let db = TestDb::migrated().await;
    let amqp = testkit::amqp_url();
    let proxy = Proxy::start(db.server_addr()).await;
    let pool = PgPoolOptions::new()
        .max_connections(3)
        .acquire_timeout(Duration::from_secs(1))
        .connect_with(db.options_via(proxy.addr()))
        .await
        .unwrap();
    let topology = topology();
    let first = insert(&db.pool, &adt(1, "Q")).await;
    let reader = RunningReader::start(&pool, &amqp, &topology, config());
    reader.wait_for_position(first).await;
    proxy.cut();
    let second = insert(&db.pool, &adt(2, "Q")).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    proxy.restore();
    reader.wait_for_position(second).await;
    reader.stop().await;
    let received: Vec<i64> = drain(&amqp, &topology.queue, 2)
        .await
        .iter()
        .map(|r| r.ids_id)
        .collect();
    assert_eq!(received, vec![first, second]);
    delete_queues(&amqp, &topology).await;
}

#[tokio::test]
async fn a_full_queue_makes_the_reader_back_off_and_nothing_is_dropped() {
    let db = TestDb::migrated().await;
    let amqp = testkit::amqp_url();
    // A classic queue: it enforces its length exactly, where a quorum queue may overshoot a
    // little, which would make this test depend on timing.
    let topology = broker::Topology {
        max_length: 5,
        quorum: false,
        ..topology()
    };
    let mut ids = Vec::new();
    for n in 0..30 {
        ids.push(insert(&db.pool, &adt(n, &format!("F{}", n % 3))).await);
    }
    let reader = RunningReader::start(&db.pool, &amqp, &topology, config());
    // The queue takes 5 messages and refuses the rest until someone consumes.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        reader.stats.position.load(Ordering::Relaxed) < ids[29],
        "the reader waits for room"
    );
    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while reader.stats.position.load(Ordering::Relaxed) < ids[29] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reader never finished"
        );
        received.extend(
            drain(&amqp, &topology.queue, 0)
                .await
                .into_iter()
                .map(|r| r.ids_id),
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    reader.stop().await;
    received.extend(
        drain(&amqp, &topology.queue, 0)
            .await
            .into_iter()
            .map(|r| r.ids_id),
    );
    // Every row arrived; a refused message is republished with those after it, so the last
    // copy of each arrives in IDS order.
    let mut last_copies: Vec<i64> = Vec::new();
    for id in received.iter().rev() {
        if !last_copies.contains(id) {
            last_copies.push(*id);
        }
    }
    last_copies.reverse();
    assert_eq!(last_copies, ids);
    delete_queues(&amqp, &topology).await;
}
