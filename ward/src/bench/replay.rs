//! `ward bench replay`: replay alone, so its throughput can be studied without the live pipeline.
//!
//! The simulator's feed is pushed over MLLP (16 connections) into an in-process listener on a
//! scratch database, so the IDS holds what a live feed leaves there (resends marked as
//! duplicates, unparsable messages kept), vacuumed as history at rest is; then the whole range
//! is replayed into a new schema with the given lanes and round size, and the table gives
//! messages/s and the whole machine's CPU per message.

use std::time::Instant;

use anyhow::Context;
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

    /// Fraction of admissions with WinPath blood tests (and some blood cultures) in the feed
    /// (0: the ADT feed alone).
    #[arg(long, default_value_t = 0.0)]
    labs: f64,

    /// Fraction of admissions with vital signs charted (0: none).
    #[arg(long, default_value_t = 0.0)]
    vitals: f64,

    /// Fraction of admissions with allergies, problems or infection flags (0: none).
    #[arg(long, default_value_t = 0.0)]
    conditions: f64,

    /// Fraction of admissions with consultation requests or advance decisions (0: none).
    #[arg(long, default_value_t = 0.0)]
    requests: f64,
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
    let (addr, listener) =
        super::spawn_listener(pool.clone(), Default::default(), &shutdown).await?;
    let feed = simulator::generate(&simulator::Config {
        seed: 11,
        patients: args.patients,
        hours: 24 * 7,
        labs: args.labs,
        vitals: args.vitals,
        conditions: args.conditions,
        requests: args.requests,
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
    super::settle_ids(&pool).await?;
    drop(pool);

    let (lanes, batch_size) = (args.lanes, args.batch_size);
    let started = Instant::now();
    let cpu_before = machine_cpu_busy();
    let progress = super::replay_whole_ids(scratch, lanes, batch_size).await?;
    let elapsed = started.elapsed();
    let cpu = machine_cpu_busy().saturating_sub(cpu_before);
    let applied = progress.applied.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "replay: {total} IDS messages (simulated feed, {} patients, labs {}, vitals {}, conditions {}) into a new schema, {lanes} lanes, rounds of {batch_size}",
        args.patients, args.labs, args.vitals, args.conditions
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
