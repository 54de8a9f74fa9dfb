//! `ward read-ids`: flags for the message-reader, and the glue that connects and runs it.

use std::sync::Arc;

use crate::Stage;
use anyhow::Context;
use std::time::Duration;

use broker::{Publisher, Topology};
use message_reader::{Config, Resources, Stats};
use tokio_util::sync::CancellationToken;

use crate::site::SiteArgs;

/// How to reach RabbitMQ and where messages go.
#[derive(Debug, clap::Args)]
pub struct AmqpArgs {
    #[command(flatten)]
    pub broker: crate::BrokerArgs,

    /// Queue for live HL7-derived interchange messages (the table-reader uses a backfill queue,
    /// which the processor drains only when this one is empty).
    #[arg(long, env = "WARD_LIVE_QUEUE", default_value = "ward.interchange.live")]
    pub queue: String,

    /// Exchange that the queue's rejected messages are dead-lettered to.
    #[arg(
        long,
        env = "WARD_DEAD_LETTER_EXCHANGE",
        default_value = "ward.dead-letter"
    )]
    pub dead_letter_exchange: String,

    /// Queue bound to the dead-letter exchange.
    #[arg(
        long,
        env = "WARD_DEAD_LETTER_QUEUE",
        default_value = "ward.interchange.dead-letter"
    )]
    pub dead_letter_queue: String,

    /// Most messages the queue holds; beyond it the broker refuses publishes and the reader
    /// backs off (nothing is dropped).
    #[arg(long, env = "WARD_QUEUE_MAX_LENGTH", default_value_t = 100_000)]
    pub max_length: u32,

    /// Declare classic rather than quorum queues.
    #[arg(long, env = "WARD_CLASSIC_QUEUES")]
    pub classic_queues: bool,
}

impl AmqpArgs {
    /// The queues these flags name.
    pub fn topology(&self) -> Topology {
        Topology {
            queue: self.queue.clone(),
            dead_letter_exchange: self.dead_letter_exchange.clone(),
            dead_letter_queue: self.dead_letter_queue.clone(),
            max_length: self.max_length,
            quorum: !self.classic_queues,
            expires_ms: None,
        }
    }
}

/// Flags of `ward read-ids`.
#[derive(Debug, clap::Args)]
pub struct ReadIdsArgs {
    /// PostgreSQL URL of Ward's database, as the reader's login (its password from `~/.pgpass` or
    /// `PGPASSWORD` when the URL has none). It checks the schemas are current; `ward migrate`
    /// changes them.
    #[arg(
        long,
        env = "WARD_READER_DATABASE_URL",
        default_value = "postgres://ward_reader@127.0.0.1:5432/ward",
        hide_env_values = true
    )]
    database_url: String,

    #[command(flatten)]
    amqp: AmqpArgs,

    #[command(flatten)]
    site: SiteArgs,

    /// IDS rows read per round.
    #[arg(long, env = "WARD_READ_BATCH", default_value_t = 500)]
    batch_size: i64,

    /// Messages published before waiting for their confirms.
    #[arg(long, env = "WARD_PUBLISH_WINDOW", default_value_t = 512)]
    publish_window: usize,

    /// Longest wait for new rows when no notification arrives.
    #[arg(long, env = "WARD_POLL_INTERVAL", default_value = "5s", value_parser = humantime::parse_duration)]
    poll_interval: Duration,

    /// How long a gap in IDS ids must persist (after its transactions ended) to be passed.
    #[arg(long, env = "WARD_GAP_GRACE", default_value = "2s", value_parser = humantime::parse_duration)]
    gap_grace: Duration,

    /// Address serving Prometheus metrics at /metrics and a health check at /health.
    #[arg(
        long,
        env = "WARD_READER_METRICS_ADDR",
        default_value = "127.0.0.1:9465"
    )]
    metrics_addr: std::net::SocketAddr,

    /// Re-read these IDS ids (comma-separated) and publish what they map to, then exit; the
    /// position does not move.
    #[arg(long, value_delimiter = ',')]
    reprocess: Vec<i64>,
}

/// Runs the reader until Ctrl-C or SIGTERM (or, with `--reprocess`, once).
pub async fn read_ids(args: ReadIdsArgs) -> anyhow::Result<()> {
    let live = schema::StarSchema::live();
    let pool = crate::connect_stage(&args.database_url, Stage::Reader, &live, 4).await?;
    let config = Config {
        batch_size: args.batch_size.max(1),
        poll_interval: args.poll_interval,
        gap_grace: args.gap_grace,
        site: args.site.site_config()?,
        ..Config::default()
    };
    let mut publisher = Publisher::new(
        args.amqp.broker.endpoint()?,
        args.amqp.topology(),
        args.publish_window,
    );
    publisher.connect().await.map_err(|e| {
        anyhow::anyhow!("Failed to connect to RabbitMQ and declare the queues: {e}")
    })?;
    let stats = Arc::new(Stats::default());
    let resources = Resources {
        pool: pool.clone(),
        publisher,
        stats: Arc::clone(&stats),
    };
    if !args.reprocess.is_empty() {
        message_reader::reprocess(
            &config,
            resources,
            &args.reprocess,
            &CancellationToken::new(),
        )
        .await?;
        return Ok(());
    }
    let shutdown = crate::shutdown_on_signal();
    let http = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("Failed to bind the metrics port {}", args.metrics_addr))?;
    let exposition = Arc::new(message_reader::ReaderExposition { stats, pool });
    let metrics = tokio::spawn(telemetry::serve(http, exposition, shutdown.clone()));
    message_reader::run(config, resources, shutdown).await?;
    let _ = metrics.await;
    Ok(())
}
