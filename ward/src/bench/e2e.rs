//! `ward bench e2e`: the whole pipeline on this machine, as the integration engine sees it.
//!
//! In this process, on a scratch database and private queues: the listener, the reader and the
//! processor as `ward up` runs them. The simulator pushes a synthetic feed over 16 MLLP
//! connections (a) as fast as ACKs return, timing MLLP receipt to the last message committed in
//! the star schema; (b) at a fixed offered rate, timing each message from its ACK to the moment
//! the processor committed it (the processor applies messages in IDS order, so its highest
//! committed IDS id says which messages are visible), with `--backfill N` while N backfilled
//! messages (problem-list entries, as the table-reader sends them) wait on the backfill queue;
//! then (c) replays the whole IDS range into a new schema. One table.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use broker::{Publisher, Topology};
use event_processor::consumer::ConsumerStats;
use tokio_util::sync::CancellationToken;

use super::ScratchDatabase;
use crate::DatabaseArgs;

/// Flags of `ward bench e2e`.
#[derive(Debug, clap::Args)]
pub struct E2eArgs {
    #[command(flatten)]
    database: DatabaseArgs,

    #[command(flatten)]
    broker: crate::BrokerArgs,

    /// Simulated patients in the throughput run (about 2.4 messages each).
    #[arg(long, default_value_t = 8_000)]
    patients: usize,

    /// MLLP connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,

    /// Offered rate of the latency run, messages/s.
    #[arg(long, default_value_t = 1_000.0)]
    rate: f64,

    /// Length of the latency run.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    latency_for: Duration,

    /// Fraction of admissions with WinPath blood tests (and some blood cultures) in the
    /// throughput run's feed (0: the ADT feed alone).
    #[arg(long, default_value_t = 0.0)]
    labs: f64,

    /// Backfilled messages queued before the latency run, which the processor takes while the
    /// live queue leaves it room (0: none).
    #[arg(long, default_value_t = 0)]
    backfill: usize,

    /// Both runs send a hospital's blend instead: vital signs for every admission, and labs,
    /// conditions and consults for half of them, with the ADT.
    #[arg(long)]
    hospital: bool,
}

impl E2eArgs {
    /// The simulator's settings for the throughput run or the latency run (no resends, so
    /// each message is applied once; labs only in the hospital blend).
    fn feed(&self, seed: u64, patients: usize, latency: bool) -> simulator::Config {
        let default = simulator::Config::default();
        let base = simulator::Config {
            seed,
            patients,
            hours: 24 * 7,
            labs: if latency { 0.0 } else { self.labs },
            duplicates: if latency { 0.0 } else { default.duplicates },
            ..default
        };
        match self.hospital {
            false => base,
            true => simulator::Config {
                labs: 0.5,
                vitals: 1.0,
                conditions: 0.5,
                requests: 0.5,
                ..base
            },
        }
    }
}

/// Runs the benchmark on a scratch database and prints its table.
pub async fn e2e(args: E2eArgs) -> anyhow::Result<()> {
    let scratch = ScratchDatabase::create(&args.database.database_url).await?;
    let result = run(&args, &scratch).await;
    scratch.drop_database().await;
    result
}

async fn run(args: &E2eArgs, scratch: &ScratchDatabase) -> anyhow::Result<()> {
    let pool = scratch.migrated_pool().await?;
    let shutdown = CancellationToken::new();
    let (addr, listener) =
        super::spawn_listener(pool.clone(), Default::default(), &shutdown).await?;
    let topology = Topology {
        queue: format!("ward.bench.{}", scratch.name),
        dead_letter_exchange: format!("ward.bench.dlx.{}", scratch.name),
        dead_letter_queue: format!("ward.bench.dlq.{}", scratch.name),
        expires_ms: Some(60_000),
        ..Topology::live()
    };
    let mut publisher = Publisher::new(args.broker.amqp_url.clone(), topology.clone(), 512);
    publisher
        .connect()
        .await
        .map_err(|e| anyhow::anyhow!("Failed to connect to RabbitMQ: {e}"))?;
    let reader_stats = Arc::new(message_reader::Stats::default());
    let reader = tokio::spawn(message_reader::run(
        message_reader::Config::default(),
        message_reader::Resources {
            pool: pool.clone(),
            publisher,
            stats: Arc::clone(&reader_stats),
        },
        shutdown.clone(),
    ));
    let backfill = Topology {
        queue: format!("ward.bench.backfill.{}", scratch.name),
        ..topology.clone()
    };
    let stats = Arc::new(ConsumerStats::default());
    let processor = super::spawn_processor(
        scratch,
        &args.broker.amqp_url,
        &topology.queue,
        (args.backfill > 0).then(|| backfill.queue.clone()),
        Arc::clone(&stats),
        shutdown.clone(),
    );

    // (a) Sustained throughput.
    let feed = simulator::generate(&args.feed(11, args.patients, false));
    let started = Instant::now();
    let sent = simulator::send::send(addr, &feed, args.connections, None)
        .await
        .context("Failed to send the feed")?;
    let acked = started.elapsed();
    let originals = count_originals(&pool).await?;
    wait_for(&stats, originals).await;
    let sustained = started.elapsed();
    let throughput_messages = feed.len();

    // (b) Latency at a fixed rate: a feed without resends, so each message is applied once;
    // with a backfill waiting, if asked.
    if args.backfill > 0 {
        let mut history = Publisher::new(args.broker.amqp_url.clone(), backfill.clone(), 2048);
        let messages: Vec<broker::Outgoing> = (0..args.backfill).map(problem).collect();
        history
            .publish_all(&messages, &CancellationToken::new())
            .await
            .map_err(|e| anyhow::anyhow!("Failed to queue the backfill: {e}"))?;
    }
    let backfilled_before = stats.backfill_applied.load(Ordering::Relaxed);
    let messages = (args.rate * args.latency_for.as_secs_f64()) as usize;
    let mut latency_feed = simulator::generate(&args.feed(12, messages, true));
    latency_feed.truncate(messages);
    let first_id: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM ids.message")
        .fetch_one(&pool)
        .await?;
    let sampler_stop = CancellationToken::new();
    let sampler = tokio::spawn(sample_progress(
        Arc::clone(&reader_stats),
        Arc::clone(&stats),
        sampler_stop.clone(),
    ));
    let latency_sent =
        simulator::send::send(addr, &latency_feed, args.connections, Some(args.rate))
            .await
            .context("Failed to send the latency feed")?;
    let originals = count_originals(&pool).await?;
    wait_for(&stats, originals).await;
    let backfilled_during = stats.backfill_applied.load(Ordering::Relaxed) - backfilled_before;
    sampler_stop.cancel();
    let samples = sampler.await?;
    let ids: Vec<(String, i64)> =
        sqlx::query_as("SELECT control_id, id FROM ids.message WHERE id > $1")
            .bind(first_id)
            .fetch_all(&pool)
            .await?;
    let ids: std::collections::HashMap<String, i64> = ids.into_iter().collect();
    let mut latencies: Vec<Duration> = Vec::new();
    let mut published: Vec<Duration> = Vec::new();
    for (message, ack) in latency_feed.iter().zip(&latency_sent.acks) {
        let (Some((acked_at, _)), Some(id)) = (ack, ids.get(&message.control_id)) else {
            continue;
        };
        let id = u64::try_from(*id).unwrap_or_default();
        // The first samples at which the reader had published and the processor committed it.
        if let Some(at) = first_reaching(&samples.committed, id) {
            latencies.push(at.saturating_duration_since(*acked_at));
        }
        if let Some(at) = first_reaching(&samples.published, id) {
            published.push(at.saturating_duration_since(*acked_at));
        }
    }
    latencies.sort_unstable();
    published.sort_unstable();

    shutdown.cancel();
    let _ = tokio::join!(listener, reader, processor);

    // (c) Replay of the same IDS range.
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM ids.message")
        .fetch_one(&pool)
        .await?;
    super::settle_ids(&pool).await?;
    let replay_started = Instant::now();
    super::replay_whole_ids(scratch, 4, 1000).await?;
    let replay_seconds = replay_started.elapsed().as_secs_f64();

    let quantile = |q: f64| quantile_ms(&latencies, q);
    println!(
        "Ward end to end on this machine: MLLP ({} connections) → IDS → reader → RabbitMQ → processor → star",
        args.connections
    );
    println!("{:<58} {:>14}", "measure", "value");
    println!(
        "{:<58} {:>14.0}",
        format!("sustained msg/s, MLLP receipt → star commit ({throughput_messages} msgs)"),
        throughput_messages as f64 / sustained.as_secs_f64()
    );
    println!(
        "{:<58} {:>14.0}",
        "  of which MLLP ACK rate (listener), msg/s",
        throughput_messages as f64 / acked.as_secs_f64()
    );
    println!(
        "{:<58} {:>14}",
        format!(
            "ACK → visible p50 ms at {:.0} msg/s ({} msgs)",
            args.rate,
            latencies.len()
        ),
        quantile(0.5)
    );
    println!("{:<58} {:>14}", "ACK → visible p99 ms", quantile(0.99));
    println!(
        "{:<58} {:>14}",
        "  of which ACK → published by the reader, p50 / p99 ms",
        format!(
            "{} / {}",
            quantile_ms(&published, 0.5),
            quantile_ms(&published, 0.99)
        )
    );
    if args.backfill > 0 {
        println!(
            "{:<58} {:>14}",
            format!("  backfill applied during it (of {} queued)", args.backfill),
            backfilled_during
        );
    }
    println!(
        "{:<58} {:>14.0}",
        format!("replay msg/s ({total} IDS messages)"),
        total as f64 / replay_seconds
    );
    anyhow::ensure!(
        sent.refused == 0 && latency_sent.refused == 0,
        "the listener refused messages"
    );
    Ok(())
}

/// The `n`th backfilled problem-list entry, as the table-reader would publish it.
fn problem(n: usize) -> broker::Outgoing {
    let json = serde_json::json!({
        "@class": "uk.ac.ucl.rits.inform.interchange.PatientProblem",
        "sourceSystem": "clarity",
        "sourceMessageId": format!("bench/problems/{n}"),
        "updatedDateTime": "2020-01-01T00:00:00Z",
        "mrn": format!("BACKFILL{}", n % 20_000),
        "conditionCode": format!("C{}", n % 90),
        "epicConditionId": {"status": "SAVE", "value": n},
        "addedDate": "2019-12-01",
    });
    // Built from a literal the interchange reads; a failure here is a bug in this bench.
    let message = interchange::Message::from_value(&json).unwrap_or_else(|e| panic!("{e}"));
    broker::Outgoing {
        body: message.to_json(),
        class: message.class_name(),
        origin: broker::Origin::Table(format!("bench/problems/{n}")),
        partition: message.partition_key().routing_key().to_owned(),
    }
}

/// How many interchange messages the reader publishes for the IDS as it stands: each original
/// mapped as the reader maps it (a lab message also carries its implied ADT, an ignored one
/// none), so the wait ends when the processor has handled all of them.
async fn count_originals(pool: &sqlx::PgPool) -> anyhow::Result<u64> {
    let payloads: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT payload FROM ids.message WHERE duplicate_of IS NULL AND header_error IS NULL",
    )
    .fetch_all(pool)
    .await?;
    let site = message_reader::SiteConfig::default();
    Ok(payloads
        .iter()
        .map(
            |payload| match message_reader::map_message(payload, "0", &site) {
                Ok(message_reader::Mapped::Messages(messages)) => messages.len() as u64,
                _ => 0,
            },
        )
        .sum())
}

/// Waits until the processor has handled `originals` messages in all.
async fn wait_for(stats: &ConsumerStats, originals: u64) {
    while stats.applied.load(Ordering::Relaxed) + stats.dead_lettered.load(Ordering::Relaxed)
        < originals
    {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// When the reader's position (everything up to it confirmed by the broker) and the
/// processor's highest committed IDS id changed, sampled every millisecond.
#[derive(Default)]
struct Progress {
    published: Vec<(Instant, u64)>,
    committed: Vec<(Instant, u64)>,
}

async fn sample_progress(
    reader: Arc<message_reader::Stats>,
    processor: Arc<ConsumerStats>,
    stop: CancellationToken,
) -> Progress {
    let mut progress = Progress::default();
    let mut last = (0, 0);
    while !stop.is_cancelled() {
        let now = (
            u64::try_from(reader.position.load(Ordering::Relaxed)).unwrap_or_default(),
            processor.committed_source_id.load(Ordering::Relaxed),
        );
        if now.0 != last.0 {
            progress.published.push((Instant::now(), now.0));
        }
        if now.1 != last.1 {
            progress.committed.push((Instant::now(), now.1));
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    progress
}

/// The first sampled moment at which a stage had reached IDS id `id`.
fn first_reaching(samples: &[(Instant, u64)], id: u64) -> Option<Instant> {
    let at = samples.partition_point(|(_, reached)| *reached < id);
    samples.get(at).map(|(when, _)| *when)
}

/// The `q` quantile of sorted durations, in milliseconds.
fn quantile_ms(sorted: &[Duration], q: f64) -> String {
    if sorted.is_empty() {
        return "-".to_owned();
    }
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    format!("{:.1}", sorted[index].as_secs_f64() * 1e3)
}
