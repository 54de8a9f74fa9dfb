//! `ward bench tables`: the table-reader alone, from a PostgreSQL source table of N rows (made
//! in a scratch database, indexed on its `(order_by, key)` as a reporting table would be) to a
//! scratch queue with confirms, a consumer draining it as the processor would; prints rows/s
//! and the whole machine's CPU per row.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::{ScratchDatabase, machine_cpu_busy};
use crate::DatabaseArgs;

/// Flags of `ward bench tables`.
#[derive(Debug, clap::Args)]
pub struct TablesArgs {
    #[command(flatten)]
    database: DatabaseArgs,

    #[command(flatten)]
    broker: crate::BrokerArgs,

    /// Rows in the source table.
    #[arg(long, default_value_t = 1_000_000)]
    rows: i64,

    /// Rows per page.
    #[arg(long, default_value_t = 5_000)]
    batch_size: usize,

    /// Messages published before waiting for their confirms.
    #[arg(long, default_value_t = 2_048)]
    publish_window: usize,

    /// A classic rather than a quorum queue (Ward declares quorum queues by default).
    #[arg(long)]
    classic_queues: bool,

    /// Leave the messages on the queue rather than drain them as the processor would (the
    /// broker then holds them all).
    #[arg(long)]
    no_drain: bool,
}

/// Runs the benchmark on scratch databases and prints its table.
pub async fn tables(args: TablesArgs) -> anyhow::Result<()> {
    let ward = ScratchDatabase::create(&args.database.database_url).await?;
    let source = ScratchDatabase::create(&args.database.database_url).await?;
    let result = run(&args, &ward, &source).await;
    ward.drop_database().await;
    source.drop_database().await;
    result
}

async fn run(
    args: &TablesArgs,
    ward: &ScratchDatabase,
    source: &ScratchDatabase,
) -> anyhow::Result<()> {
    let pool = ward.migrated_pool().await?;
    let source_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(source.options.clone())
        .await?;
    eprintln!("bench: making a source table of {} rows", args.rows);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE public.problem_list AS
         SELECT i AS problem_list_id, 'MRN' || (i % 200000) AS mrn, 'C' || (i % 90) AS dx_code,
                'Problem ' || (i % 500) AS dx_name, date '2015-01-01' + (i % 3000) AS noted,
                timestamp '2015-01-01' + (i / 3) * interval '1 minute' AS update_date
         FROM generate_series(1, {}) AS i;
         CREATE INDEX ON public.problem_list (update_date, problem_list_id);
         ANALYZE public.problem_list;",
        args.rows
    )))
    .execute(&source_pool)
    .await?;
    source_pool.close().await;

    let source_url = format!(
        "postgres://{}@{}:{}/{}?options=-csearch_path%3Dpublic",
        source.server.get_username(),
        source.server.get_host(),
        source.server.get_port(),
        source.name
    );
    let file = std::env::temp_dir().join(format!("ward-bench-sources-{}.toml", std::process::id()));
    std::fs::write(
        &file,
        format!(
            r#"[[source]]
name = "bench"
url = "{source_url}"
source_system = "clarity"

[[source.query]]
name = "problems"
class = "PatientProblem"
order_by = "update_date"
key = "problem_list_id"
batch_size = {}
sql = "SELECT problem_list_id, update_date, mrn, dx_code, dx_name, noted FROM problem_list"

[source.query.fields]
updatedDateTime = "update_date"
mrn = "mrn"
conditionCode = "dx_code"
conditionName = {{ iv = "dx_name" }}
epicConditionId = {{ iv = "problem_list_id" }}
addedDate = "noted"
"#,
            args.batch_size
        ),
    )?;
    let sources = table_reader::Sources::load(&file);
    let _ = std::fs::remove_file(&file);
    let config = table_reader::Config {
        sources: sources?,
        site_zone: chrono_tz::Europe::London,
        from: None,
        until: None,
        poll_interval: Duration::from_secs(1),
        once: true,
    };
    let topology = broker::Topology {
        queue: format!("ward.bench.backfill.{}", std::process::id()),
        dead_letter_exchange: format!("ward.bench.backfill.dlx.{}", std::process::id()),
        dead_letter_queue: format!("ward.bench.backfill.dlq.{}", std::process::id()),
        quorum: !args.classic_queues,
        expires_ms: Some(600_000),
        max_length: 2_000_000,
    };
    let mut publisher = broker::Publisher::new(
        args.broker.endpoint()?,
        topology.clone(),
        args.publish_window,
    );
    publisher
        .connect()
        .await
        .context("Failed to connect to RabbitMQ")?;

    // A consumer drains the queue as the processor would, so the broker's memory stays flat.
    let drained = Arc::new(AtomicU64::new(0));
    let stop = CancellationToken::new();
    let endpoint = args.broker.endpoint()?;
    let drainer = (!args.no_drain).then(|| {
        let (endpoint, queue, drained, stop) = (
            endpoint.clone(),
            topology.queue.clone(),
            Arc::clone(&drained),
            stop.clone(),
        );
        tokio::spawn(async move {
            let connection = endpoint.connect().await?;
            let channel = connection.create_channel().await?;
            let mut consumer = channel
                .basic_consume(
                    queue.as_str().into(),
                    "ward-bench".into(),
                    lapin::options::BasicConsumeOptions {
                        no_ack: true,
                        ..Default::default()
                    },
                    Default::default(),
                )
                .await?;
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    next = consumer.next() => match next {
                        Some(Ok(_)) => { drained.fetch_add(1, Ordering::Relaxed); }
                        _ => break,
                    },
                }
            }
            anyhow::Ok(())
        })
    });

    let stats = Arc::new(table_reader::Stats::new(&config.sources));
    let cpu_before = machine_cpu_busy();
    let started = Instant::now();
    table_reader::run(
        config,
        table_reader::Resources { pool, publisher },
        Arc::clone(&stats),
        CancellationToken::new(),
    )
    .await?;
    let elapsed = started.elapsed();
    let cpu = machine_cpu_busy().saturating_sub(cpu_before);
    let deadline = Instant::now() + Duration::from_secs(60);
    while drainer.is_some()
        && drained.load(Ordering::Relaxed) < args.rows as u64
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    if let Some(drainer) = drainer {
        let _ = drainer.await;
    }
    if let Ok(connection) = endpoint.connect().await
        && let Ok(channel) = connection.create_channel().await
    {
        for queue in [&topology.queue, &topology.dead_letter_queue] {
            let _ = channel
                .queue_delete(queue.as_str().into(), Default::default())
                .await;
        }
    }
    let q = stats
        .query("bench", "problems")
        .context("the bench query's counts")?;
    let rows = q.rows_read.get();
    println!(
        "ward bench tables: {} rows, pages of {}, publish window {}, {} queue, {}",
        args.rows,
        args.batch_size,
        args.publish_window,
        if args.classic_queues {
            "classic"
        } else {
            "quorum"
        },
        if args.no_drain {
            "not drained"
        } else {
            "drained as it fills"
        }
    );
    println!(
        "  read and published (confirmed)  {rows} rows in {:.1} s",
        elapsed.as_secs_f64()
    );
    println!(
        "  throughput                       {:.0} rows/s",
        rows as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  machine CPU per row              {:.1} µs",
        cpu.as_secs_f64() * 1e6 / rows.max(1) as f64
    );
    println!("  errors                           {}", q.errors.get());
    println!(
        "  drained by the consumer          {}",
        drained.load(Ordering::Relaxed)
    );
    Ok(())
}
