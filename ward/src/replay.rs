//! `ward replay` and `ward promote`: flags, the progress display, and the glue that runs them.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use replay::{Bound, Outcome, Progress};
use schema::StarSchema;
use tokio_util::sync::CancellationToken;

use crate::site::SiteArgs;

/// Flags of `ward replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    database: crate::DatabaseArgs,

    /// The schema to build (created and migrated when absent), e.g. `star_rebuild`.
    #[arg(long)]
    into: StarSchema,

    /// First message: an IDS id or a received time (`2026-11-30 08:00`); default the first.
    #[arg(long)]
    from: Option<Bound>,

    /// Last message: an IDS id or a received time; default the last committed now.
    #[arg(long)]
    to: Option<Bound>,

    /// Replay only this patient's messages (with every MRN merged with it in the range).
    #[arg(long)]
    mrn: Option<String>,

    /// Write into a schema that already holds other data or another range.
    #[arg(long)]
    allow_existing: bool,

    /// IDS rows per round.
    #[arg(long, env = "WARD_REPLAY_BATCH", default_value_t = 1000)]
    batch_size: i64,

    /// Connections a round is applied on at once (each patient stays on one).
    #[arg(long, env = "WARD_REPLAY_LANES", default_value_t = 4)]
    lanes: usize,

    #[command(flatten)]
    processor: crate::ProcessorArgs,

    #[command(flatten)]
    site: SiteArgs,
}

/// Flags of `ward promote`.
#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    #[command(flatten)]
    database: crate::DatabaseArgs,

    /// The rebuilt schema to make live (a finished `ward replay --into` target).
    schema: StarSchema,

    /// Drop the previous star once the new one has caught up, instead of keeping it as
    /// `star_before_<time>` (closed to every role but its owner either way).
    #[arg(long, env = "WARD_PROMOTE_DROP_OLD")]
    drop_old: bool,

    #[command(flatten)]
    processor: crate::ProcessorArgs,

    #[command(flatten)]
    site: SiteArgs,
}

/// Replays until finished or Ctrl-C; `Ok(false)` when interrupted.
pub async fn replay(args: ReplayArgs) -> anyhow::Result<bool> {
    let config = replay::Config {
        from: args.from,
        to: args.to,
        target: args.into,
        mrn: args.mrn,
        site: args.site.site_config()?,
        processor: args.processor.config(),
        batch_size: args.batch_size,
        lanes: args.lanes,
        allow_existing: args.allow_existing,
    };
    let outcome = run_with_progress(
        &args.database.database_url,
        config,
        crate::shutdown_on_signal(),
    )
    .await?;
    Ok(matches!(outcome, Outcome::Finished { .. }))
}

/// Catches the rebuilt schema up with the IDS, swaps it in as `star`, then applies what arrived
/// meanwhile (processing is idempotent, so what the live processor also applied changes nothing).
pub async fn promote(args: PromoteArgs) -> anyhow::Result<()> {
    let admin = crate::connect(&args.database.database_url, &StarSchema::live(), 2).await?;
    let from: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT from_ids_id FROM {}.replay WHERE mrn IS NULL",
        args.schema
    )))
    .fetch_optional(&admin)
    .await
    .ok()
    .flatten();
    let Some(from) = from else {
        anyhow::bail!(
            "{} is not a full replay (ward replay --into {} first)",
            args.schema,
            args.schema
        );
    };
    let site = args.site.site_config()?;
    let processor = args.processor.config();
    let catch_up = |target: StarSchema| replay::Config {
        from: Some(Bound::Id(from)),
        to: None,
        target,
        mrn: None,
        site: site.clone(),
        processor: processor.clone(),
        batch_size: 1000,
        lanes: 4,
        allow_existing: false,
    };
    let shutdown = crate::shutdown_on_signal();
    let before = run_with_progress(
        &args.database.database_url,
        catch_up(args.schema.clone()),
        shutdown.clone(),
    )
    .await?;
    if !matches!(before, Outcome::Finished { .. }) {
        anyhow::bail!("Interrupted before promoting; nothing was switched");
    }
    let retired = replay::promote(&admin, &args.schema).await?;
    println!(
        "{} is now star, with star's grants; the previous star is kept as {retired}, closed to every role but its owner",
        args.schema
    );
    run_with_progress(
        &args.database.database_url,
        catch_up(StarSchema::live()),
        CancellationToken::new(),
    )
    .await?;
    if args.drop_old {
        replay::drop_retired(&admin, &retired).await?;
        println!("{retired} dropped");
    }
    Ok(())
}

/// Runs a replay with a pool writing into its target, showing progress on stderr.
async fn run_with_progress(
    url: &str,
    config: replay::Config,
    shutdown: CancellationToken,
) -> anyhow::Result<Outcome> {
    let connections = u32::try_from(config.lanes).unwrap_or(8).clamp(1, 32) + 1;
    let pool = crate::connect(url, &config.target, connections).await?;
    let progress = Arc::new(Progress::default());
    let display = tokio::spawn(show_progress(progress.clone()));
    let outcome = replay::run(
        config,
        replay::Resources { pool },
        progress.clone(),
        shutdown,
    )
    .await;
    display.abort();
    let _ = display.await;
    finish_line(&progress);
    Ok(outcome?)
}

/// Every 200 ms a bar with rate and ETA on a terminal; every 10 s a log line otherwise.
async fn show_progress(progress: Arc<Progress>) {
    let terminal = std::io::stderr().is_terminal();
    let started = Instant::now();
    let first = progress.done.load(Ordering::Relaxed);
    let every = if terminal {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(10)
    };
    loop {
        tokio::time::sleep(every).await;
        let done = progress.done.load(Ordering::Relaxed);
        let total = progress.total.load(Ordering::Relaxed).max(1);
        let rate = (done - first.min(done)) as f64 / started.elapsed().as_secs_f64().max(0.001);
        let eta = if rate > 0.0 {
            (total.saturating_sub(done)) as f64 / rate
        } else {
            f64::NAN
        };
        if terminal {
            let width = 30;
            let filled = ((done as f64 / total as f64) * width as f64) as usize;
            let bar: String =
                "#".repeat(filled.min(width)) + &".".repeat(width - filled.min(width));
            let mut err = std::io::stderr();
            let _ = write!(
                err,
                "\r[{bar}] {done}/{total} messages  {rate:.0} msg/s  ETA {}  ",
                format_eta(eta)
            );
            let _ = err.flush();
        } else {
            tracing::info!(
                done,
                total,
                rate = rate.round() as u64,
                eta_seconds = eta.round() as i64,
                "Replay progress"
            );
        }
    }
}

fn format_eta(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "--:--".to_owned();
    }
    let s = seconds.round() as u64;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn finish_line(progress: &Progress) {
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    eprintln!(
        "replayed {} of {} IDS messages: {} interchange messages applied, {} dead-lettered, {} skipped (resends, ignored, other patients), {} unmappable",
        progress.done.load(Ordering::Relaxed),
        progress.total.load(Ordering::Relaxed),
        progress.applied.load(Ordering::Relaxed),
        progress.dead_lettered.load(Ordering::Relaxed),
        progress.skipped.load(Ordering::Relaxed),
        progress.unmappable.load(Ordering::Relaxed),
    );
}
