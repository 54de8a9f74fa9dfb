//! The running pipeline for integration tests: listener, reader and processor on a test's own
//! database and queues, as `ward up` runs them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test binary uses a part

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use broker::{Publisher, Topology};
use bytes::Bytes;
use event_processor::consumer::{ConsumerConfig, ConsumerStats};
use ids_listener::sender::Sender;
use testkit::TestDb;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub async fn wait_until(what: &str, check: impl AsyncFnMut() -> bool) {
    wait_up_to(Duration::from_secs(30), what, check).await;
}

pub async fn wait_up_to(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The running pipeline on `db`: listener, reader and processor, with private queues.
pub struct Running {
    pub addr: std::net::SocketAddr,
    /// What the processor has done.
    pub stats: Arc<ConsumerStats>,
    shutdown: CancellationToken,
    listener: tokio::task::JoinHandle<()>,
    processor: tokio::task::JoinHandle<()>,
    reader: tokio::task::JoinHandle<Result<(), message_reader::reader::ReaderError>>,
}

pub async fn start(db: &TestDb) -> Running {
    let amqp = testkit::amqp_url();
    let shutdown = CancellationToken::new();

    let mllp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = mllp.local_addr().unwrap();
    let listener = tokio::spawn(ids_listener::run(
        ids_listener::Config::default(),
        ids_listener::Resources {
            pool: db.pool.clone(),
            mllp: Some(mllp),
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
            prefetch: 64,
            batch_size: 32,
            ..ConsumerConfig::new(amqp.clone(), topology.queue.clone())
        },
        event_processor::Processor::default(),
        db.pool.clone(),
        Arc::clone(&stats),
        shutdown.clone(),
    ));

    Running {
        addr,
        stats,
        shutdown,
        listener,
        processor,
        reader,
    }
}

impl Running {
    pub async fn send(&self, messages: Vec<Bytes>) {
        let mut sender = Sender::connect(self.addr, Duration::from_secs(10))
            .await
            .unwrap();
        for message in messages {
            let ack = sender.send(message).await.unwrap();
            let ack = String::from_utf8_lossy(&ack).into_owned();
            assert!(ack.contains("MSA|CA|") || ack.contains("MSA|AA|"), "{ack}");
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        for task in [self.listener, self.processor] {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .unwrap()
                .unwrap();
        }
        tokio::time::timeout(Duration::from_secs(30), self.reader)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

/// Feeds the live pipeline and waits until the processor has applied every message.
pub async fn through_the_live_pipeline(db: &TestDb, feed: &[simulator::SimMessage]) {
    let running = start(db).await;
    let sent = simulator::send::send(running.addr, feed, 4, None)
        .await
        .unwrap();
    assert_eq!(sent.refused, 0);
    let expected = interchange_messages(&db.pool).await;
    let stats = Arc::clone(&running.stats);
    wait_up_to(
        Duration::from_secs(300),
        "the processor to apply every message",
        async || {
            let done =
                stats.applied.load(Ordering::Relaxed) + stats.dead_lettered.load(Ordering::Relaxed);
            done as usize == expected
        },
    )
    .await;
    running.stop().await;
}

/// How many interchange messages the IDS's messages map to (a lab message maps to its implied
/// ADT and an order per ORC/OBR group; a resend to none).
pub async fn interchange_messages(pool: &sqlx::PgPool) -> usize {
    use message_reader::reader::{Row, Triage, triage};
    type Stored = (i64, Vec<u8>, Option<i64>, Option<String>);
    let rows: Vec<Stored> =
        sqlx::query_as("SELECT id, payload, duplicate_of, header_error FROM ids.message")
            .fetch_all(pool)
            .await
            .unwrap();
    let site = message_reader::SiteConfig::default();
    rows.into_iter()
        .map(|(id, payload, duplicate_of, header_error)| {
            let row = Row {
                id,
                payload,
                duplicate_of,
                header_error,
            };
            match triage(&row, &site) {
                Triage::Mapped(messages) => messages.len(),
                _ => 0,
            }
        })
        .sum()
}
