//! `ward process`: flags for the event-processor, and the glue that connects and runs it.

use std::sync::Arc;

use crate::Stage;
use anyhow::Context;
use event_processor::Processor;
use event_processor::consumer::{ConsumerConfig, ConsumerStats, ProcessorExposition};

/// Flags of `ward process`.
#[derive(Debug, clap::Args)]
pub struct ProcessArgs {
    /// PostgreSQL URL of Ward's database, as the processor's login (its password from `~/.pgpass` or
    /// `PGPASSWORD` when the URL has none). It checks the schemas are current; `ward migrate`
    /// changes them.
    #[arg(
        long,
        env = "WARD_PROCESSOR_DATABASE_URL",
        default_value = "postgres://ward_processor@127.0.0.1:5432/ward",
        hide_env_values = true
    )]
    database_url: String,

    #[command(flatten)]
    star: crate::StarArgs,

    #[command(flatten)]
    processor: crate::ProcessorArgs,

    #[command(flatten)]
    broker: crate::BrokerArgs,

    /// Queue of interchange messages to apply.
    #[arg(long, env = "WARD_LIVE_QUEUE", default_value = "ward.interchange.live")]
    queue: String,

    /// Unacknowledged deliveries the broker may send ahead.
    #[arg(long, env = "WARD_PREFETCH", default_value_t = ConsumerConfig::DEFAULT_PREFETCH)]
    prefetch: u16,

    /// Most messages per transaction.
    #[arg(long, env = "WARD_PROCESS_BATCH", default_value_t = ConsumerConfig::DEFAULT_BATCH_SIZE)]
    batch_size: usize,

    /// Connections a batch is applied on at once (each patient stays on one).
    #[arg(long, env = "WARD_PROCESS_LANES", default_value_t = ConsumerConfig::DEFAULT_LANES)]
    lanes: usize,

    /// Address serving the processor's Prometheus metrics and health check.
    #[arg(
        long,
        env = "WARD_PROCESSOR_METRICS_ADDR",
        default_value = "127.0.0.1:9466"
    )]
    metrics_addr: std::net::SocketAddr,

    /// Reprocess the pending rows of star.dead_letter, then exit.
    #[arg(long)]
    retry_dead_letters: bool,
}

/// Runs the processor until Ctrl-C or SIGTERM (or, with `--retry-dead-letters`, once).
pub async fn process(args: ProcessArgs) -> anyhow::Result<()> {
    let star = &args.star.star_schema;
    let connections = args.lanes.max(1) as u32 + 1;
    let pool =
        crate::connect_stage(&args.database_url, Stage::Processor, star, connections).await?;
    let processor = Processor::new(args.processor.config());
    if args.retry_dead_letters {
        let applied = event_processor::consumer::retry_dead_letters(&processor, &pool).await?;
        println!("{applied} dead letters applied");
        return Ok(());
    }
    let config = ConsumerConfig {
        prefetch: args.prefetch,
        batch_size: args.batch_size,
        lanes: args.lanes,
        ..args
            .processor
            .with_backfill(ConsumerConfig::new(args.broker.endpoint()?, args.queue))
    };
    let http = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("Failed to bind the metrics port {}", args.metrics_addr))?;
    let stats = Arc::new(ConsumerStats::default());
    let shutdown = crate::shutdown_on_signal();
    let exposition = Arc::new(ProcessorExposition {
        stats: Arc::clone(&stats),
        pool: pool.clone(),
    });
    let metrics = telemetry::serve(http, exposition, shutdown.clone());
    let consumer = event_processor::consumer::run(config, processor, pool, stats, shutdown);
    tokio::join!(consumer, metrics);
    Ok(())
}
