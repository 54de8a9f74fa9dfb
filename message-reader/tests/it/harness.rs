//! A reader on its own database and queues, and a consumer to see what it published.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use broker::{Publisher, Topology};
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeleteOptions};
use lapin::types::AMQPValue;
use lapin::{Connection, ConnectionProperties};
use message_reader::{Config, Resources, Stats};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// An ADT^A01 from EMAP's corpus with its own control id and MRN.
pub fn adt(n: usize, mrn: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|EPIC|UCLH|||20130211100052|IPUC|ADT^A01|C{n}|T|2.4|||AL|NE\r\
         EVN|A01|20130211100052||ADT_EVENT||20130211100052\r\
         PID|1||{mrn}^^^MRENTR^MEDREC~9999999999^^^NHS^HN||ORANGE^BLOOD||19800101|F\r\
         PV1|1|I|T42E^T42E BY02^BY02-17|||||||||||||||||V{n}\r"
    )
    .into_bytes()
}

/// Inserts one IDS row as the listener would (committed at once); returns its id.
pub async fn insert(pool: &PgPool, payload: &[u8]) -> i64 {
    insert_with(pool, payload, None, None).await
}

pub async fn insert_with(
    pool: &PgPool,
    payload: &[u8],
    duplicate_of: Option<i64>,
    header_error: Option<&str>,
) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO ids.message (payload, payload_sha256, transport, duplicate_of, header_error)
         VALUES ($1, sha256($1), 'mllp', $2, $3) RETURNING id",
    )
    .bind(payload)
    .bind(duplicate_of)
    .bind(header_error)
    .fetch_one(pool)
    .await
    .unwrap()
}

pub fn topology() -> Topology {
    Topology {
        queue: testkit::unique_name("ward.test.live"),
        dead_letter_exchange: testkit::unique_name("ward.test.dlx"),
        dead_letter_queue: testkit::unique_name("ward.test.dlq"),
        max_length: 100_000,
        quorum: true,
        expires_ms: Some(600_000),
    }
}

pub fn config() -> Config {
    Config {
        batch_size: 50,
        poll_interval: Duration::from_millis(200),
        gap_grace: Duration::from_millis(300),
        ..Config::default()
    }
}

/// A running reader.
pub struct RunningReader {
    pub stats: Arc<Stats>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl RunningReader {
    pub fn start(
        pool: &PgPool,
        amqp_url: &str,
        topology: &Topology,
        config: Config,
    ) -> RunningReader {
        let stats = Arc::new(Stats::default());
        let shutdown = CancellationToken::new();
        let resources = Resources {
            pool: pool.clone(),
            publisher: Publisher::new(amqp_url.to_owned(), topology.clone(), 64)
                .with_max_backoff(Duration::from_millis(500)),
            stats: Arc::clone(&stats),
        };
        let token = shutdown.clone();
        let task = tokio::spawn(async move {
            message_reader::run(config, resources, token).await.unwrap();
        });
        RunningReader {
            stats,
            shutdown,
            task,
        }
    }

    /// Waits until the reader's position reaches `id` (panics after 30 s).
    pub async fn wait_for_position(&self, id: i64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.stats.position.load(Ordering::Relaxed) < id {
            assert!(
                tokio::time::Instant::now() < deadline,
                "position {} never reached {id}",
                self.stats.position.load(Ordering::Relaxed)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(self) -> Arc<Stats> {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .unwrap()
            .unwrap();
        self.stats
    }
}

/// A message as the processor would receive it.
#[derive(Debug)]
pub struct Received {
    pub ids_id: i64,
    pub class: String,
    pub body: Vec<u8>,
}

/// Takes every message now on `queue` (waiting up to 5 s for at least `at_least`), acking each.
pub async fn drain(amqp_url: &str, queue: &str, at_least: usize) -> Vec<Received> {
    let connection = Connection::connect(amqp_url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match channel
            .basic_get(queue.into(), BasicGetOptions::default())
            .await
            .unwrap()
        {
            Some(message) => {
                let delivery = message.delivery;
                let headers = delivery.properties.headers().clone().unwrap_or_default();
                let ids_id = match headers.inner().get("x-ward-ids-id") {
                    Some(AMQPValue::LongLongInt(id)) => *id,
                    other => panic!("x-ward-ids-id header missing: {other:?}"),
                };
                assert!(headers.inner().contains_key(interchange::VERSION_HEADER));
                let class = delivery
                    .properties
                    .kind()
                    .as_ref()
                    .map(|k| k.to_string())
                    .unwrap_or_default();
                delivery.ack(BasicAckOptions::default()).await.unwrap();
                out.push(Received {
                    ids_id,
                    class,
                    body: delivery.data,
                });
            }
            None if out.len() >= at_least || tokio::time::Instant::now() > deadline => break,
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    connection.close(200, "done".into()).await.ok();
    out
}

/// Deletes a test's queues.
pub async fn delete_queues(amqp_url: &str, topology: &Topology) {
    if let Ok(connection) = Connection::connect(amqp_url, ConnectionProperties::default()).await {
        if let Ok(channel) = connection.create_channel().await {
            for queue in [&topology.queue, &topology.dead_letter_queue] {
                let _ = channel
                    .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                    .await;
            }
        }
        connection.close(200, "done".into()).await.ok();
    }
}
