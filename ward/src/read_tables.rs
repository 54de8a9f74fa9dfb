//! `ward read-tables`: flags for the table-reader, and the glue that connects and runs it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use broker::{Publisher, Topology};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use table_reader::{Config, Resources, Sources, Stats};

use crate::Stage;

/// Flags of `ward read-tables`.
#[derive(Debug, clap::Args)]
pub struct ReadTablesArgs {
    /// The sources file (TOML): each source database and its queries
    /// (`docs/table-reader.md`; `examples/clarity-sources.toml`).
    #[arg(long, env = "WARD_SOURCES")]
    pub sources: PathBuf,

    /// PostgreSQL URL of Ward's database, as the reader's login (the table-reader keeps its
    /// positions in schema `reader`).
    #[arg(
        long,
        env = "WARD_READER_DATABASE_URL",
        default_value = "postgres://ward_reader@127.0.0.1:5432/ward",
        hide_env_values = true
    )]
    pub database_url: String,

    #[command(flatten)]
    pub broker: crate::BrokerArgs,

    /// Queue for backfilled messages, which the processor takes only while the live queue
    /// leaves it room.
    #[arg(
        long,
        env = "WARD_BACKFILL_QUEUE",
        default_value = "ward.interchange.backfill"
    )]
    pub queue: String,

    /// Most messages the backfill queue holds; beyond it the reader waits.
    #[arg(long, env = "WARD_BACKFILL_MAX_LENGTH", default_value_t = 100_000)]
    pub max_length: u32,

    /// Declare a classic rather than a quorum queue.
    #[arg(long, env = "WARD_CLASSIC_QUEUES")]
    pub classic_queues: bool,

    /// Zone of source timestamps without one (a source's `time_zone` overrides it), and of
    /// `--from`/`--until` given as dates.
    #[arg(long, env = "WARD_TIME_ZONE", default_value = "Europe/London")]
    pub time_zone: chrono_tz::Tz,

    /// Only rows whose order value is at or after this (a date or an RFC 3339 time). A window
    /// keeps its own position, apart from the continuous read's.
    #[arg(long)]
    pub from: Option<String>,

    /// Only rows whose order value is before this; the reader stops once every query is there.
    #[arg(long)]
    pub until: Option<String>,

    /// Stop once every query has caught up, rather than waiting for new rows.
    #[arg(long)]
    pub once: bool,

    /// How long to wait for new rows once a query has caught up.
    #[arg(long, env = "WARD_TABLE_POLL_INTERVAL", default_value = "60s", value_parser = humantime::parse_duration)]
    pub poll_interval: Duration,

    /// Print the interchange JSON of the first N rows of `--query` (and why any row cannot be
    /// mapped, on stderr), publishing and recording nothing.
    #[arg(long, value_name = "N", requires = "query")]
    pub dry_run: Option<usize>,

    /// `SOURCE/QUERY` for `--dry-run`.
    #[arg(long)]
    pub query: Option<String>,

    /// Messages published before waiting for their confirms.
    #[arg(long, env = "WARD_PUBLISH_WINDOW", default_value_t = 512)]
    pub publish_window: usize,

    /// Address serving Prometheus metrics at /metrics and a health check at /health.
    #[arg(
        long,
        env = "WARD_TABLE_READER_METRICS_ADDR",
        default_value = "127.0.0.1:9467"
    )]
    pub metrics_addr: SocketAddr,
}

impl ReadTablesArgs {
    /// The reader's configuration.
    pub fn config(&self) -> anyhow::Result<Config> {
        let sources = Sources::load(&self.sources)?;
        let instant =
            |text: &Option<String>, flag: &str| -> anyhow::Result<Option<DateTime<Utc>>> {
                text.as_deref()
                    .map(|t| {
                        parse_instant(t, self.time_zone).with_context(|| {
                            format!("Invalid {flag} {t:?}: a date (2024-01-31) or an RFC 3339 time")
                        })
                    })
                    .transpose()
            };
        Ok(Config {
            sources,
            site_zone: self.time_zone,
            from: instant(&self.from, "--from")?,
            until: instant(&self.until, "--until")?,
            poll_interval: self.poll_interval,
            once: self.once,
        })
    }

    /// The backfill queue.
    pub fn topology(&self) -> Topology {
        Topology {
            queue: self.queue.clone(),
            max_length: self.max_length,
            quorum: !self.classic_queues,
            ..Topology::backfill()
        }
    }
}

/// A date (midnight in `zone`) or an RFC 3339 time.
fn parse_instant(text: &str, zone: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    zone.from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Runs the table-reader until Ctrl-C or SIGTERM (or until caught up, with `--once`/`--until`).
pub async fn read_tables(args: ReadTablesArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    if let Some(rows) = args.dry_run {
        let (source, query) = args
            .query
            .as_deref()
            .and_then(|q| q.split_once('/'))
            .context("--query is SOURCE/QUERY")?;
        for row in table_reader::dry_run(&config, source, query, rows).await? {
            match row {
                Ok(mapped) => println!("{}", String::from_utf8_lossy(&mapped.message.to_json())),
                Err((id, why)) => eprintln!("{id}: {why}"),
            }
        }
        return Ok(());
    }
    let live = schema::StarSchema::live();
    let pool = crate::connect_stage(&args.database_url, Stage::Reader, &live, 2).await?;
    let mut publisher = Publisher::new(
        args.broker.endpoint()?,
        args.topology(),
        args.publish_window,
    );
    publisher.connect().await.map_err(|e| {
        anyhow::anyhow!("Failed to connect to RabbitMQ and declare the backfill queue: {e}")
    })?;
    let stats = Arc::new(Stats::new(&config.sources));
    let shutdown = crate::shutdown_on_signal();
    let http = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("Failed to bind the metrics port {}", args.metrics_addr))?;
    let exposition = Arc::new(table_reader::reader::Exposition {
        stats: Arc::clone(&stats),
        pool: pool.clone(),
    });
    let metrics = tokio::spawn(telemetry::serve(http, exposition, shutdown.clone()));
    let resources = Resources { pool, publisher };
    let result = table_reader::run(config, resources, stats, shutdown.clone()).await;
    shutdown.cancel();
    let _ = metrics.await;
    Ok(result?)
}
