//! `ward bench replay`: replay alone, so its throughput can be studied without the live pipeline.
//!
//! The simulator's feed is pushed over MLLP (16 connections) into an in-process listener on a
//! scratch database, so the IDS holds what a live feed leaves there (resends marked as
//! duplicates, unparsable messages kept); then the whole range is replayed into a new schema
//! with the given lanes and round size, and the table gives messages/s and the whole machine's
//! CPU per message.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{ScratchDatabase, machine_cpu_busy};
use crate::DatabaseArgs;

/// Flags of `ward bench replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    database: DatabaseArgs,

    /// Simulated patients (about 2.4 messages each).
    #[arg(long, default_value_t = 20_000)]
    patients: usize,

    /// IDS rows per round.
    #[arg(long, default_value_t = 1000)]
    batch_size: i64,

    /// Connections a round is applied on at once.
    #[arg(long, default_value_t = 4)]
    lanes: usize,
}

/// Runs the benchmark on a scratch database and prints its table.
pub async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let scratch = ScratchDatabase::create(&args.database.database_url).await?;
    let result = run(&args, &scratch).await;
    scratch.drop_database().await;
    result
}

async fn run(args: &ReplayArgs, scratch: &ScratchDatabase) -> anyhow::Result<()> {
    let pool = scratch.migrated_pool().await?;
    let shutdown = CancellationToken::new();
    let mllp = TcpListener::bind("127.0.0.1:0").await?;
    let addr = mllp.local_addr()?;
    let listener = tokio::spawn(ids_listener::run(
        ids_listener::Config::default(),
        ids_listener::Resources {
            pool: pool.clone(),
            mllp,
            tls: None,
            http: None,
            metrics: Arc::new(ids_listener::Metrics::default()),
        },
        shutdown.clone(),
    ));
    let feed = simulator::generate(&simulator::Config {
        seed: 11,
        patients: args.patients,
        hours: 24 * 7,
        ..simulator::Config::default()
    });
    let sent = simulator::send::send(addr, &feed, 16, None)
        .await
        .context("Failed to send the feed")?;
    shutdown.cancel();
    let _ = listener.await;
    anyhow::ensure!(sent.refused == 0, "the listener refused messages");
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM ids.message")
        .fetch_one(&pool)
        .await?;
    drop(pool);

    let target = schema::StarSchema::new("star_replay_bench")?;
    let url = super::e2e::scratch_url(scratch);
    let (lanes, batch_size) = (args.lanes, args.batch_size);
    let started = Instant::now();
    let cpu_before = machine_cpu_busy();
    let progress = Arc::new(replay::Progress::default());
    let counts = Arc::clone(&progress);
    crate::on_own_thread("replay", move || async move {
        let pool = crate::connect(&url, &target, u32::try_from(lanes)? + 1).await?;
        replay::run(
            replay::Config {
                from: None,
                to: None,
                target,
                mrn: None,
                site: message_reader::SiteConfig::default(),
                processor: event_processor::Config::default(),
                batch_size,
                lanes,
                allow_existing: false,
            },
            replay::Resources { pool },
            counts,
            CancellationToken::new(),
        )
        .await?;
        anyhow::Ok(())
    })
    .await??;
    let elapsed = started.elapsed();
    let cpu = machine_cpu_busy().saturating_sub(cpu_before);
    let applied = progress.applied.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "replay: {total} IDS messages (simulated ADT feed, {} patients) into a new schema, {lanes} lanes, rounds of {batch_size}",
        args.patients
    );
    println!(
        "{:>9} {:>9} {:>9} {:>12} {:>17}",
        "IDS rows", "applied", "seconds", "IDS rows/s", "CPU µs/row (all)"
    );
    println!(
        "{:>9} {:>9} {:>9.2} {:>12.0} {:>17.0}",
        total,
        applied,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / total.max(1) as f64
    );
    Ok(())
}
