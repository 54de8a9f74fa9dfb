//! Consuming interchange messages from RabbitMQ into the star schema.
//!
//! Deliveries are taken in batches, and a batch is applied in lanes ([`super::lanes`]): each
//! patient's messages in queue order on one connection, a transaction per lane, in which a
//! rejected message rolls back alone (its effects are undone, a `star.dead_letter` row records
//! the rule and the reason) while the others commit. Deliveries
//! are acknowledged only after every lane committed. A database failure returns the whole batch
//! to the queue for a retry after a back-off; lanes that had committed are applied again, which
//! changes nothing (processing is idempotent). The readers publish in IDS order, so each
//! patient's order is kept. The queue belongs to the reader that declares it; the consumer
//! waits for it to exist.
//!
//! Live before backfill: the table-reader's backfill queue is consumed on a channel of its own
//! and a batch is taken from it only when no live delivery is waiting, in smaller batches, so
//! a year of history delays a live message by at most one small backfill batch. Until the
//! backfill queue exists (no table-reader has run) the consumer takes live messages alone and
//! looks for it again now and then.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use interchange::Message;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::Processor;
pub use super::dead_letters::{apply_message, retry_dead_letters};

/// How the consumer takes messages.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// The broker.
    pub broker: broker::Endpoint,
    /// The queue to consume (the live queue by default).
    pub queue: String,
    /// Unacknowledged deliveries the broker may send ahead.
    pub prefetch: u16,
    /// Most messages per transaction.
    pub batch_size: usize,
    /// How long a batch waits, from its first delivery, for more before it is applied.
    pub batch_wait: Duration,
    /// Connections a batch is applied on at once, patients split between them by partition key
    /// (the pool needs at least this many).
    pub lanes: usize,
    /// The table-reader's backfill queue, taken from only while the live queue is empty.
    pub backfill_queue: Option<String>,
    /// Most messages per backfill batch: what a live message may wait behind.
    pub backfill_batch_size: usize,
}

impl ConsumerConfig {
    /// Deliveries the broker sends ahead by default: two batches, so the next is there when one
    /// commits.
    pub const DEFAULT_PREFETCH: u16 = 512;
    /// Messages per transaction by default.
    pub const DEFAULT_BATCH_SIZE: usize = 256;
    /// Lanes by default: enough to keep two cores busy while each waits on round trips.
    pub const DEFAULT_LANES: usize = 4;
    /// Backfill messages per batch by default: small, so live messages wait little behind one.
    pub const DEFAULT_BACKFILL_BATCH_SIZE: usize = 32;

    /// Consumes `queue` at `broker` with the default tuning and no backfill queue.
    pub fn new(broker: impl Into<broker::Endpoint>, queue: String) -> ConsumerConfig {
        ConsumerConfig {
            broker: broker.into(),
            queue,
            prefetch: Self::DEFAULT_PREFETCH,
            batch_size: Self::DEFAULT_BATCH_SIZE,
            batch_wait: Duration::from_millis(5),
            lanes: Self::DEFAULT_LANES,
            backfill_queue: None,
            backfill_batch_size: Self::DEFAULT_BACKFILL_BATCH_SIZE,
        }
    }
}

/// What the consumer has done. Never holds message content.
#[derive(Debug)]
pub struct ConsumerStats {
    /// Messages applied.
    pub applied: AtomicU64,
    /// Messages rejected into `star.dead_letter`.
    pub dead_lettered: AtomicU64,
    /// Committed transactions.
    pub batches: AtomicU64,
    /// Backfill messages applied (also counted in `applied`).
    pub backfill_applied: AtomicU64,
    /// Seconds from taking a batch's first delivery to its commit.
    pub batch_seconds: telemetry::Histogram,
    /// The highest source id (IDS id, from the AMQP message id) committed so far: every
    /// message up to it is visible in the star schema, since messages are applied in order.
    pub committed_source_id: AtomicU64,
}

impl Default for ConsumerStats {
    fn default() -> Self {
        ConsumerStats {
            applied: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            backfill_applied: AtomicU64::new(0),
            batch_seconds: telemetry::Histogram::new(&[
                0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
            ]),
            committed_source_id: AtomicU64::new(0),
        }
    }
}

impl ConsumerStats {
    /// The counts in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let counters = [
            (
                "event_processor_applied_total",
                "Interchange messages applied to the star schema.",
                &self.applied,
            ),
            (
                "event_processor_dead_lettered_total",
                "Interchange messages refused into star.dead_letter.",
                &self.dead_lettered,
            ),
            (
                "event_processor_batches_total",
                "Batches committed.",
                &self.batches,
            ),
            (
                "event_processor_backfill_applied_total",
                "Messages from the backfill queue applied (included in applied_total).",
                &self.backfill_applied,
            ),
        ];
        for (name, help, counter) in counters {
            telemetry::render_counter(&mut out, name, help, counter.load(Ordering::Relaxed));
        }
        self.batch_seconds.render(
            &mut out,
            "event_processor_batch_seconds",
            "Seconds from a batch's first delivery to its commit.",
        );
        telemetry::render_gauge(
            &mut out,
            "event_processor_committed_ids_id",
            "The highest IDS id committed to the star schema (compare with message_reader_position for the lag).",
            i64::try_from(self.committed_source_id.load(Ordering::Relaxed)).unwrap_or(i64::MAX),
        );
        out
    }
}

/// The processor's exposition on its metrics port: its counts, and the star schema answering
/// as health.
pub struct ProcessorExposition {
    /// What is counted.
    pub stats: Arc<ConsumerStats>,
    /// The star schema's database.
    pub pool: PgPool,
}

impl telemetry::Exposition for ProcessorExposition {
    fn render(&self) -> String {
        self.stats.render()
    }

    fn healthy(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            sqlx::query("SELECT 1 FROM dead_letter LIMIT 1")
                .execute(&self.pool)
                .await
                .is_ok()
        })
    }
}

/// Consumes until `shutdown`, reconnecting to the broker and retrying the database as needed.
pub async fn run(
    config: ConsumerConfig,
    processor: Processor,
    pool: PgPool,
    stats: Arc<ConsumerStats>,
    shutdown: CancellationToken,
) {
    let mut delay = Duration::from_millis(100);
    while !shutdown.is_cancelled() {
        match consume(&config, &processor, &pool, &stats, &shutdown).await {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(error = %error, retry_in_ms = delay.as_millis() as u64, "Consumer stopped; reconnecting");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

async fn consume(
    config: &ConsumerConfig,
    processor: &Processor,
    pool: &PgPool,
    stats: &ConsumerStats,
    shutdown: &CancellationToken,
) -> Result<(), lapin::Error> {
    let connection = config.broker.connect().await?;
    let channel = connection.create_channel().await?;
    let mut live = subscribe(&channel, &config.queue, config.prefetch).await?;
    tracing::info!(queue = %config.queue, "Consuming interchange messages");
    let mut backfill = Backfill::default();
    loop {
        backfill.look_for(&connection, config).await;
        let Some((started, from, batch)) =
            next_batch(&mut live, &mut backfill, config, shutdown).await?
        else {
            return Ok(());
        };
        let Some(last) = batch.last() else { continue };
        let last_tag = last.delivery_tag;
        let channel = match (&from, &backfill.subscribed) {
            (Queue::Backfill, Some((channel, _))) => channel,
            _ => &channel,
        };
        match apply_batch(processor, pool, &batch, stats, config.lanes).await {
            Ok(()) => {
                stats.batch_seconds.observe(started.elapsed().as_secs_f64());
                channel
                    .basic_ack(last_tag, BasicAckOptions { multiple: true })
                    .await?;
                stats.batches.fetch_add(1, Ordering::Relaxed);
                if matches!(from, Queue::Backfill) {
                    stats
                        .backfill_applied
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
            }
            Err(error) => {
                processor.forget_cached();
                tracing::warn!(error = %error, batch = batch.len(), "Database failed; returning the batch to the queue");
                let requeue = BasicNackOptions {
                    multiple: true,
                    requeue: true,
                };
                channel.basic_nack(last_tag, requeue).await?;
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

/// Which queue a batch came from.
enum Queue {
    Live,
    Backfill,
}

/// The backfill queue's channel and consumer, once the queue exists.
#[derive(Default)]
struct Backfill {
    subscribed: Option<(lapin::Channel, lapin::Consumer)>,
    next_look: Option<std::time::Instant>,
}

impl Backfill {
    /// How long to wait before looking for a backfill queue that was not there.
    const LOOK_EVERY: Duration = Duration::from_secs(10);

    /// Subscribes to the backfill queue if it is configured, not yet subscribed and due a look.
    async fn look_for(&mut self, connection: &lapin::Connection, config: &ConsumerConfig) {
        let Some(queue) = &config.backfill_queue else {
            return;
        };
        if self.subscribed.is_some()
            || self
                .next_look
                .is_some_and(|t| t > std::time::Instant::now())
        {
            return;
        }
        self.next_look = Some(std::time::Instant::now() + Self::LOOK_EVERY);
        let prefetch = u16::try_from(config.backfill_batch_size.max(1)).unwrap_or(u16::MAX);
        let subscribed = match connection.create_channel().await {
            Ok(channel) => subscribe(&channel, queue, prefetch)
                .await
                .map(|consumer| (channel, consumer)),
            Err(e) => Err(e),
        };
        match subscribed {
            Ok(subscribed) => {
                tracing::info!(queue = %queue, "Consuming the backfill queue while the live one is empty");
                self.subscribed = Some(subscribed);
            }
            Err(e) => tracing::debug!(queue = %queue, error = %e, "No backfill queue yet"),
        }
    }
}

/// Consumes the queue, which the reader owns with its arguments: only checks that it exists.
async fn subscribe(
    channel: &lapin::Channel,
    queue: &str,
    prefetch: u16,
) -> Result<lapin::Consumer, lapin::Error> {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .basic_qos(prefetch.max(1), BasicQosOptions::default())
        .await?;
    channel
        .basic_consume(
            queue.into(),
            "ward-event-processor".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
}

/// The next batch: the first delivery, then whatever arrives within `batch_wait` of it from
/// the same queue, up to its batch size, with when the first came and which queue; `None` on
/// shutdown. A live delivery always wins; backfill is taken only when no live one is waiting.
async fn next_batch(
    live: &mut lapin::Consumer,
    backfill: &mut Backfill,
    config: &ConsumerConfig,
    shutdown: &CancellationToken,
) -> Result<Option<(std::time::Instant, Queue, Vec<Delivery>)>, lapin::Error> {
    let closed = || {
        lapin::Error::from(lapin::ErrorKind::InvalidChannelState(
            lapin::ChannelState::Closed,
            "the consumer was cancelled",
        ))
    };
    let look_again = tokio::time::sleep(Backfill::LOOK_EVERY);
    let (from, first) = match &mut backfill.subscribed {
        Some((_, backfill_consumer)) => tokio::select! {
            biased;
            _ = shutdown.cancelled() => return Ok(None),
            next = live.next() => (Queue::Live, next.ok_or_else(closed)??),
            next = backfill_consumer.next() => match next {
                Some(Ok(delivery)) => (Queue::Backfill, delivery),
                // The backfill queue went away (deleted, channel closed): live goes on alone.
                _ => {
                    tracing::warn!("Backfill consumer stopped; looking for the queue again later");
                    backfill.subscribed = None;
                    return Ok(Some((std::time::Instant::now(), Queue::Live, Vec::new())));
                }
            },
        },
        None => tokio::select! {
            _ = shutdown.cancelled() => return Ok(None),
            next = live.next() => (Queue::Live, next.ok_or_else(closed)??),
            // Wake up to look for a backfill queue created meanwhile.
            () = look_again, if config.backfill_queue.is_some() => {
                return Ok(Some((std::time::Instant::now(), Queue::Live, Vec::new())));
            }
        },
    };
    let started = std::time::Instant::now();
    let mut batch = vec![first];
    // One deadline for the whole batch: waiting `batch_wait` for each next delivery would hold a
    // trickle of messages until the batch was full.
    let deadline = tokio::time::Instant::now() + config.batch_wait;
    let (consumer, limit) = match (&from, &mut backfill.subscribed) {
        (Queue::Backfill, Some((_, consumer))) => (consumer, config.backfill_batch_size),
        _ => (live, config.batch_size),
    };
    while batch.len() < limit.max(1) {
        match tokio::time::timeout_at(deadline, consumer.next()).await {
            Ok(Some(delivery)) => batch.push(delivery?),
            _ => break,
        }
    }
    Ok(Some((started, from, batch)))
}

/// Applies a batch: undecodable deliveries straight to the dead-letter table, the rest in lanes
/// ([`super::lanes`]), each lane one transaction.
async fn apply_batch(
    processor: &Processor,
    pool: &PgPool,
    batch: &[Delivery],
    stats: &ConsumerStats,
    lanes: usize,
) -> Result<(), sqlx::Error> {
    let mut messages = Vec::with_capacity(batch.len());
    let mut undecodable = Vec::new();
    for delivery in batch {
        match Message::from_json(&delivery.data) {
            Ok(message) => messages.push(message),
            Err(_) => undecodable.push(&delivery.data),
        }
    }
    if !undecodable.is_empty() {
        let mut tx = pool.begin().await?;
        for body in &undecodable {
            super::dead_letters::apply_one(processor, &mut tx, body).await?;
        }
        tx.commit().await?;
    }
    let done = super::lanes::apply_run(processor, pool, &messages, lanes).await?;
    let highest = batch
        .iter()
        .filter_map(|d| {
            d.properties
                .message_id()
                .as_ref()?
                .as_str()
                .parse::<u64>()
                .ok()
        })
        .max();
    if let Some(highest) = highest {
        stats
            .committed_source_id
            .fetch_max(highest, Ordering::Relaxed);
    }
    stats.applied.fetch_add(done.applied, Ordering::Relaxed);
    stats.dead_lettered.fetch_add(
        done.dead_lettered + undecodable.len() as u64,
        Ordering::Relaxed,
    );
    Ok(())
}
