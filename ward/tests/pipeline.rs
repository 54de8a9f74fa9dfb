//! The whole pipeline against real services: HL7 over MLLP → listener → IDS → reader →
//! RabbitMQ → processor → star schema.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use event_processor::consumer::{ConsumerConfig, ConsumerStats};
use ids_listener::sender::Sender;
use message_reader::publisher::{Publisher, Topology};
use testkit::TestDb;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

fn adt(trigger: &str, control: &str, time: &str, mrn: &str, family: &str) -> Bytes {
    let identifiers = if mrn.is_empty() {
        String::new()
    } else {
        format!("{mrn}^^^MRENTR^MEDREC~9{}^^^NHS^HN", &mrn[1..])
    };
    Bytes::from(format!(
        "MSH|^~\\&|EPIC|UCLH|WARD|UCLH|{time}||ADT^{trigger}|{control}|P|2.4\r\
         EVN|{trigger}|{time}\r\
         PID|1||{identifiers}||{family}^JANE||19800101|F\r\
         PV1|1|I|T42^B1^01|||||||||||||||||V-{mrn}\r"
    ))
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn hl7_over_mllp_reaches_the_star_schema() {
    let db = TestDb::migrated().await;
    let amqp = testkit::amqp_url();
    let shutdown = CancellationToken::new();

    let mllp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = mllp.local_addr().unwrap();
    let listener = tokio::spawn(ids_listener::run(
        ids_listener::Config::default(),
        ids_listener::Resources {
            pool: db.pool.clone(),
            mllp,
            tls: None,
            http: None,
            metrics: Arc::new(ids_listener::Metrics::default()),
        },
        shutdown.clone(),
    ));
    let topology = Topology {
        queue: testkit::unique_name("ward.test.pipeline"),
        dead_letter_exchange: testkit::unique_name("ward.test.pipeline.dlx"),
        dead_letter_queue: testkit::unique_name("ward.test.pipeline.dlq"),
        expires_ms: Some(600_000),
        ..Topology::live()
    };
    let reader = tokio::spawn(message_reader::run(
        message_reader::Config {
            poll_interval: Duration::from_millis(200),
            ..Default::default()
        },
        message_reader::Resources {
            pool: db.pool.clone(),
            publisher: Publisher::new(amqp.clone(), topology.clone(), 64),
            stats: Arc::new(message_reader::Stats::default()),
        },
        shutdown.clone(),
    ));
    let stats = Arc::new(ConsumerStats::default());
    let processor = tokio::spawn(event_processor::consumer::run(
        ConsumerConfig {
            amqp_url: amqp.clone(),
            queue: topology.queue.clone(),
            prefetch: 64,
            batch_size: 32,
            batch_wait: Duration::from_millis(5),
        },
        event_processor::Processor::default(),
        db.pool.clone(),
        Arc::clone(&stats),
        shutdown.clone(),
    ));

    let mut sender = Sender::connect(addr, Duration::from_secs(10))
        .await
        .unwrap();
    for message in [
        adt("A01", "P1", "20240102100000", "40800001", "ORANGE"),
        adt("A08", "P2", "20240103100000", "40800001", "LEMON"),
        adt("A01", "P3", "20240102100000", "40800002", "APPLE"),
        // No patient identifier: the processor refuses it (rule M2) into the dead-letter table.
        adt("A08", "P4", "20240104100000", "", "NOBODY"),
    ] {
        let ack = sender.send(message).await.unwrap();
        assert!(
            String::from_utf8_lossy(&ack).contains("MSA|CA|")
                || String::from_utf8_lossy(&ack).contains("MSA|AA|")
        );
    }

    let pool = db.pool.clone();
    wait_until("both patients' demographics and the dead letter", async || {
        let names: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT m.mrn, d.lastname FROM star.mrn m JOIN star.core_demographic d USING (mrn_id) ORDER BY m.mrn",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM star.dead_letter WHERE rule = 'M2'")
            .fetch_one(&pool)
            .await
            .unwrap();
        names == [("40800001".to_owned(), Some("LEMON".to_owned())), ("40800002".to_owned(), Some("APPLE".to_owned()))]
            && dead == 1
    })
    .await;
    let audit: i64 = sqlx::query_scalar("SELECT count(*) FROM star.core_demographic_audit")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(audit, 1, "ORANGE is history");
    let provenance: Option<String> = sqlx::query_scalar(
        "SELECT d.source_ids_id FROM star.core_demographic d JOIN star.mrn m USING (mrn_id) WHERE m.mrn = '40800001'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let ids_id: i64 = sqlx::query_scalar("SELECT id FROM ids.message WHERE control_id = 'P2'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        provenance,
        Some(ids_id.to_string()),
        "star rows name the IDS message"
    );

    shutdown.cancel();
    for task in [listener, processor] {
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .unwrap()
            .unwrap();
    }
    tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
