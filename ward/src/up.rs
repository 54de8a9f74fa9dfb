//! `ward up`: the listener, the reader and the processor in one process, for a single machine
//! and for the quick start. Each stage is the same code `ward listen`, `ward read-ids` and
//! `ward process` run; they share one pool and one shutdown, and when one stops the others are
//! stopped too (in-flight messages are finished or left unacknowledged, never lost).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use broker::Publisher;
use event_processor::consumer::{ConsumerConfig, ConsumerStats};
use tokio::net::TcpListener;

use crate::read_ids::AmqpArgs;
use crate::site::SiteArgs;
use crate::{DatabaseArgs, Stage};

/// Flags of `ward up` (the stages' other settings keep their defaults; run a stage alone to
/// change them).
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    database: DatabaseArgs,

    #[command(flatten)]
    start: crate::StartArgs,

    /// The listener's PostgreSQL URL; by default `--database-url`'s server and database as
    /// `ward_listener` (password from `~/.pgpass` or `PGPASSWORD`).
    #[arg(long, env = "WARD_LISTENER_DATABASE_URL", hide_env_values = true)]
    listener_database_url: Option<String>,

    /// The reader's PostgreSQL URL; by default as `ward_reader`.
    #[arg(long, env = "WARD_READER_DATABASE_URL", hide_env_values = true)]
    reader_database_url: Option<String>,

    /// The processor's PostgreSQL URL; by default as `ward_processor`.
    #[arg(long, env = "WARD_PROCESSOR_DATABASE_URL", hide_env_values = true)]
    processor_database_url: Option<String>,

    #[command(flatten)]
    star: crate::StarArgs,

    #[command(flatten)]
    processor: crate::ProcessorArgs,

    #[command(flatten)]
    amqp: AmqpArgs,

    #[command(flatten)]
    site: SiteArgs,

    #[command(flatten)]
    ports: crate::listen::MllpArgs,

    /// A sources file: also run the table-reader, publishing to the backfill queue.
    #[arg(long, env = "WARD_SOURCES")]
    sources: Option<std::path::PathBuf>,

    /// Address serving the listener's Prometheus metrics and health check.
    #[arg(long, env = "WARD_METRICS_ADDR", default_value = "127.0.0.1:9464")]
    metrics_addr: SocketAddr,

    /// Address serving the reader's Prometheus metrics and health check.
    #[arg(
        long,
        env = "WARD_READER_METRICS_ADDR",
        default_value = "127.0.0.1:9465"
    )]
    reader_metrics_addr: SocketAddr,

    /// Address serving the processor's Prometheus metrics and health check.
    #[arg(
        long,
        env = "WARD_PROCESSOR_METRICS_ADDR",
        default_value = "127.0.0.1:9466"
    )]
    processor_metrics_addr: SocketAddr,
}

/// Runs every stage until Ctrl-C or SIGTERM, or until one of them fails.
pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    let shutdown = crate::shutdown_on_signal();
    let site = args.site.site_config()?;
    let star = &args.star.star_schema;
    let zone = Some(site.time_zone);
    // The administrator's login migrates (unless --no-migrate), then closes: each stage works
    // with its own login, as when run alone.
    let admin = crate::connect_and_migrate(
        &args.database,
        star,
        2,
        &args.start,
        zone,
        &[
            schema::Owned::Ids,
            schema::Owned::Reader,
            schema::Owned::Star(star),
        ],
    )
    .await?;
    admin.close().await;
    let url_of = |given: &Option<String>, stage: Stage| match given {
        Some(url) => Ok(url.clone()),
        None => crate::as_login(&args.database.database_url, stage.role()),
    };
    let listener_url = url_of(&args.listener_database_url, Stage::Listener)?;
    let reader_url = url_of(&args.reader_database_url, Stage::Reader)?;
    let processor_url = url_of(&args.processor_database_url, Stage::Processor)?;
    let listener_pool = crate::connect_stage(&listener_url, Stage::Listener, star, 8).await?;
    let reader_pool = crate::connect_stage(&reader_url, Stage::Reader, star, 4).await?;
    let (mllp, tls) = args.ports.bind().await?;
    let http = TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("Failed to bind the metrics port {}", args.metrics_addr))?;
    let reader_http = TcpListener::bind(args.reader_metrics_addr)
        .await
        .with_context(|| {
            format!(
                "Failed to bind the reader's metrics port {}",
                args.reader_metrics_addr
            )
        })?;
    let processor_http = TcpListener::bind(args.processor_metrics_addr)
        .await
        .with_context(|| {
            format!(
                "Failed to bind the processor's metrics port {}",
                args.processor_metrics_addr
            )
        })?;
    // The reader declares the queues the processor consumes: connect it first.
    let broker = args.amqp.broker.endpoint()?;
    let mut publisher = Publisher::new(broker.clone(), args.amqp.topology(), 512);
    publisher.connect().await.map_err(|e| {
        anyhow::anyhow!("Failed to connect to RabbitMQ and declare the queues: {e}")
    })?;

    let listener = ids_listener::run(
        ids_listener::Config {
            time_zone: site.time_zone,
            ..ids_listener::Config::default()
        },
        ids_listener::Resources {
            pool: listener_pool,
            mllp,
            tls,
            http: Some(http),
            metrics: Arc::new(ids_listener::Metrics::default()),
        },
        shutdown.clone(),
    );
    let stats = Arc::new(message_reader::Stats::default());
    let exposition = Arc::new(message_reader::ReaderExposition {
        stats: Arc::clone(&stats),
        pool: reader_pool.clone(),
    });
    let reader_metrics = telemetry::serve(reader_http, exposition, shutdown.clone());
    let (site_zone, table_reader_pool, table_reader_broker) =
        (site.time_zone, reader_pool.clone(), broker.clone());
    let reader = message_reader::run(
        message_reader::Config {
            site,
            ..message_reader::Config::default()
        },
        message_reader::Resources {
            pool: reader_pool,
            publisher,
            stats,
        },
        shutdown.clone(),
    );
    // The processor gets a thread and a pool of its own (see `on_own_thread`).
    let consumer = args
        .processor
        .with_backfill(ConsumerConfig::new(broker, args.amqp.queue.clone()));
    let processor_config = args.processor.config();
    let (url, star) = (processor_url.clone(), args.star.star_schema.clone());
    let processor_shutdown = shutdown.clone();
    let processor_stats = Arc::new(ConsumerStats::default());
    let processor_exposition = Arc::new(event_processor::consumer::ProcessorExposition {
        stats: Arc::clone(&processor_stats),
        pool: crate::connect_stage(&processor_url, Stage::Processor, &args.star.star_schema, 1)
            .await?,
    });
    let processor_metrics =
        telemetry::serve(processor_http, processor_exposition, shutdown.clone());
    let processor = crate::on_own_thread("processor", move || async move {
        let pool = crate::connect(&url, &star, 5).await?;
        event_processor::consumer::run(
            consumer,
            event_processor::Processor::new(processor_config),
            pool,
            processor_stats,
            processor_shutdown,
        )
        .await;
        anyhow::Ok(())
    });
    let table_reader = match &args.sources {
        None => None,
        Some(path) => {
            let queue = args
                .processor
                .backfill_queue()
                .context("--sources needs a backfill queue (not --backfill-queue none)")?;
            let config = table_reader::Config {
                sources: table_reader::Sources::load(path)?,
                site_zone,
                from: None,
                until: None,
                poll_interval: std::time::Duration::from_secs(60),
                once: false,
            };
            let topology = broker::Topology {
                queue: queue.to_owned(),
                ..broker::Topology::backfill()
            };
            let stats = Arc::new(table_reader::Stats::new(&config.sources));
            let resources = table_reader::Resources {
                pool: table_reader_pool.clone(),
                publisher: Publisher::new(table_reader_broker, topology, 512),
            };
            Some(table_reader::run(
                config,
                resources,
                stats,
                shutdown.clone(),
            ))
        }
    };
    let stop_all = shutdown.clone();
    let table_reader = async move {
        let Some(run) = table_reader else {
            return Ok(());
        };
        let outcome = run.await;
        stop_all.cancel();
        outcome
    };
    tracing::info!(
        table_reader = args.sources.is_some(),
        "Ward is up: listener, reader and processor running"
    );
    // When any stage ends, stop the others and wait for them to finish cleanly.
    let stop_all = shutdown.clone();
    let reader = async move {
        let outcome = reader.await;
        stop_all.cancel();
        outcome
    };
    let stop_all = shutdown.clone();
    let listener = async move {
        listener.await;
        stop_all.cancel();
    };
    let stop_all = shutdown.clone();
    let processor = async move {
        let outcome = processor.await;
        stop_all.cancel();
        outcome
    };
    let (_, read, processed, tabled, _, _) = tokio::join!(
        listener,
        reader,
        processor,
        table_reader,
        reader_metrics,
        processor_metrics
    );
    read.context("The reader failed")?;
    tabled.context("The table-reader failed")?;
    processed
        .and_then(|inner| inner)
        .context("The processor failed")?;
    tracing::info!("Ward stopped");
    Ok(())
}
