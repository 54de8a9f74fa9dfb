//! `ward bench`: measurements of Ward's stages on this machine, printed as a table.
//!
//! `ward bench ingest` starts an ids-listener in this process on a scratch database (created on
//! the server named by `--database-url`, dropped afterwards) and drives it over loopback MLLP
//! with N connections, each keeping one message in flight as an integration engine does. It
//! reports messages/s with ACK after commit, ACK latency percentiles and the whole machine's CPU
//! per message. `ward bench e2e` ([`e2e`]) runs the whole pipeline, `ward bench replay`
//! ([`replay`]) replay alone. Benchmarks measure; tests assert.

mod e2e;
mod replay;
mod tables;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bytes::Bytes;
use ids_listener::sender::Sender;
use ids_listener::{Config, Metrics, Resources};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Executor};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::DatabaseArgs;

/// Which benchmark to run.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// MLLP → IDS → ACK throughput and latency of the ids-listener over loopback.
    Ingest(IngestArgs),
    /// IDS → mapping → RabbitMQ (confirmed) throughput of the message-reader.
    Read(ReadArgs),
    /// RabbitMQ → star schema throughput of the event-processor alone.
    Process(ProcessArgs),
    /// The whole pipeline: sustained throughput, ACK → visible latency, replay throughput.
    E2e(e2e::E2eArgs),
    /// IDS → star schema throughput of replay alone.
    Replay(replay::ReplayArgs),
    /// Source table → RabbitMQ (confirmed) throughput of the table-reader.
    Tables(tables::TablesArgs),
}

/// Flags of `ward bench process`.
#[derive(Debug, clap::Args)]
pub struct ProcessArgs {
    #[command(flatten)]
    database: DatabaseArgs,

    #[command(flatten)]
    broker: crate::BrokerArgs,

    /// Most ADT interchange messages published, then processed.
    #[arg(long, default_value_t = 100_000)]
    messages: usize,

    /// Simulated patients (about 2.4 messages each).
    #[arg(long, default_value_t = 42_000)]
    patients: usize,

    /// Fraction of admissions with WinPath blood tests in the feed (0: the ADT mix alone).
    #[arg(long, default_value_t = 0.0)]
    labs: f64,

    /// Fraction of admissions with vital signs charted in the feed (0: none).
    #[arg(long, default_value_t = 0.0)]
    vitals: f64,

    /// Which of the feed's messages are published: `all`, `labs` (lab orders and results
    /// alone, every admission with blood tests: the lab processor's own throughput) or
    /// `vitals` (flowsheet rows alone, every admission charted) or `hospital` (a hospital's
    /// blend: vitals for every admission, labs, conditions and requests for half, and the
    /// ADT).
    #[arg(long, value_enum, default_value_t = Mix::All)]
    mix: Mix,
}

/// The messages `ward bench process` publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mix {
    /// The whole simulated feed.
    All,
    /// Its lab messages only.
    Labs,
    /// Its flowsheet rows only.
    Vitals,
    /// Every family, as a hospital sends them.
    Hospital,
}

/// Flags of `ward bench read`.
#[derive(Debug, clap::Args)]
pub struct ReadArgs {
    #[command(flatten)]
    database: DatabaseArgs,

    #[command(flatten)]
    broker: crate::BrokerArgs,

    /// ADT messages put in the IDS and read.
    #[arg(long, default_value_t = 50_000)]
    messages: usize,

    /// IDS rows read per round.
    #[arg(long, default_value_t = 500)]
    batch_size: i64,

    /// Messages published before waiting for their confirms.
    #[arg(long, default_value_t = 512)]
    publish_window: usize,
}

/// Flags of `ward bench ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    #[command(flatten)]
    database: DatabaseArgs,

    /// Concurrent connections per run, comma-separated; one run each.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 16])]
    connections: Vec<usize>,

    /// Measured time per run.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,

    /// Unmeasured time before each run.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    warmup: Duration,

    /// Size of each message in bytes.
    #[arg(long, default_value_t = 1500)]
    message_bytes: usize,
}

/// Runs a benchmark and prints its table.
pub async fn bench(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingest(args) => ingest(args).await,
        BenchCommand::Read(args) => read(args).await,
        BenchCommand::Process(args) => process(args).await,
        BenchCommand::E2e(args) => e2e::e2e(args).await,
        BenchCommand::Replay(args) => replay::replay(args).await,
        BenchCommand::Tables(args) => tables::tables(args).await,
    }
}

async fn process(args: ProcessArgs) -> anyhow::Result<()> {
    let scratch = ScratchDatabase::create(&args.database.database_url).await?;
    let result = process_run(&args, &scratch).await;
    scratch.drop_database().await;
    result
}

async fn process_run(args: &ProcessArgs, scratch: &ScratchDatabase) -> anyhow::Result<()> {
    use broker::{Outgoing, Publisher, Topology};
    use event_processor::consumer::ConsumerStats;
    use std::sync::atomic::Ordering;

    let pool = scratch.migrated_pool().await?;
    let topology = Topology {
        queue: format!("ward.bench.{}", scratch.name),
        dead_letter_exchange: format!("ward.bench.dlx.{}", scratch.name),
        dead_letter_queue: format!("ward.bench.dlq.{}", scratch.name),
        max_length: u32::try_from(args.messages)
            .unwrap_or(u32::MAX)
            .saturating_mul(2)
            .max(1000),
        quorum: true,
        expires_ms: Some(60_000),
    };
    // A realistic ADT mix: the simulator's hospital (registrations, admissions, transfers,
    // pending transfers, updates, discharges, merges, cancellations, some late or resent),
    // mapped by the reader's own mapping, as the live queue would carry it.
    let feed = simulator::generate(&simulator::Config {
        seed: 5,
        patients: args.patients,
        hours: 24 * 30,
        labs: match args.mix {
            Mix::All => args.labs,
            Mix::Labs => 1.0,
            Mix::Vitals => 0.0,
            Mix::Hospital => 0.5,
        },
        vitals: match args.mix {
            Mix::All => args.vitals,
            Mix::Labs => 0.0,
            Mix::Vitals | Mix::Hospital => 1.0,
        },
        conditions: match args.mix {
            Mix::Hospital => 0.5,
            _ => 0.0,
        },
        requests: match args.mix {
            Mix::Hospital => 0.5,
            _ => 0.0,
        },
        ..simulator::Config::default()
    });
    let site = message_reader::SiteConfig::default();
    let mut outgoing: Vec<Outgoing> = Vec::with_capacity(feed.len());
    // Per message: its results, if it is a lab order.
    let mut lab: Vec<Option<usize>> = Vec::with_capacity(feed.len());
    for (n, sim) in feed.iter().enumerate() {
        let ids_id = n as i64 + 1;
        if let Ok(message_reader::Mapped::Messages(messages)) =
            message_reader::map_message(&sim.bytes, &ids_id.to_string(), &site)
        {
            let messages: Vec<_> = messages
                .into_iter()
                .filter(|m| match args.mix {
                    Mix::All | Mix::Hospital => true,
                    Mix::Labs => matches!(m, interchange::Message::LabOrderMsg(_)),
                    Mix::Vitals => matches!(m, interchange::Message::Flowsheet(_)),
                })
                .collect();
            lab.extend(messages.iter().map(|message| match message {
                interchange::Message::LabOrderMsg(order) => Some(order.lab_result_msgs.len()),
                _ => None,
            }));
            outgoing.extend(messages.into_iter().map(|message| Outgoing {
                body: message.to_json(),
                class: message.class_name(),
                origin: broker::Origin::Ids(ids_id),
                partition: message.partition_key().routing_key().to_owned(),
            }));
        }
    }
    outgoing.truncate(args.messages);
    lab.truncate(args.messages);
    let messages = outgoing.len();
    let lab_orders = lab.iter().flatten().count();
    let lab_results: usize = lab.iter().flatten().sum();
    let flowsheet_rows = outgoing
        .iter()
        .filter(|o| o.class.ends_with(".Flowsheet"))
        .count();
    let mut publisher = Publisher::new(args.broker.amqp_url.clone(), topology.clone(), 512);
    publisher
        .publish_all(&outgoing, &CancellationToken::new())
        .await
        .map_err(|e| anyhow::anyhow!("Failed to publish the benchmark's messages: {e}"))?;

    let stats = Arc::new(ConsumerStats::default());
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let cpu_before = machine_cpu_busy();
    drop(pool);
    let consumer = spawn_processor(
        scratch,
        &args.broker.amqp_url,
        &topology.queue,
        None,
        Arc::clone(&stats),
        shutdown.clone(),
    );
    while stats.applied.load(Ordering::Relaxed) + stats.dead_lettered.load(Ordering::Relaxed)
        < messages as u64
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    let cpu = machine_cpu_busy().saturating_sub(cpu_before);
    shutdown.cancel();
    let _ = consumer.await;
    let applied = stats.applied.load(Ordering::Relaxed);
    let bound = |q| {
        stats
            .batch_seconds
            .quantile_bound(q)
            .map_or_else(|| "> 5000".to_owned(), |s| format!("≤ {:.0}", s * 1e3))
    };
    println!(
        "event-processor: {messages} simulated messages for {} patients from a quorum queue (all ADT rules; {lab_orders} WinPath lab orders with {lab_results} results; {flowsheet_rows} flowsheet rows)",
        args.patients
    );
    println!(
        "{:>9} {:>9} {:>9} {:>13} {:>20} {:>20} {:>17}",
        "applied",
        "seconds",
        "msg/s",
        "results/s",
        "batch p50 ms",
        "batch p99 ms",
        "CPU µs/msg (all)"
    );
    println!(
        "{:>9} {:>9.2} {:>9.0} {:>13.0} {:>20} {:>20} {:>17.0}",
        applied,
        elapsed.as_secs_f64(),
        applied as f64 / elapsed.as_secs_f64(),
        lab_results as f64 / elapsed.as_secs_f64(),
        bound(0.5),
        bound(0.99),
        cpu.as_secs_f64() * 1e6 / applied.max(1) as f64
    );
    Ok(())
}

async fn read(args: ReadArgs) -> anyhow::Result<()> {
    let scratch = ScratchDatabase::create(&args.database.database_url).await?;
    let result = read_run(&args, &scratch).await;
    scratch.drop_database().await;
    result
}

async fn read_run(args: &ReadArgs, scratch: &ScratchDatabase) -> anyhow::Result<()> {
    use broker::{Publisher, Topology};
    use std::sync::atomic::Ordering;

    let pool = scratch.migrated_pool().await?;
    // A realistic ADT mix over 10,000 patients, written the way the listener writes.
    let mut last_id = 0;
    for chunk_start in (0..args.messages).step_by(5_000) {
        let payloads: Vec<Vec<u8>> = (chunk_start..(chunk_start + 5_000).min(args.messages))
            .map(|n| {
                let message = sample_adt(&format!("R{n}"), 1_000);
                let patient = format!("{:08}", 40_000_000 + n % 10_000);
                String::from_utf8_lossy(&message)
                    .replacen("40800000", &patient, 1)
                    .into_bytes()
            })
            .collect();
        last_id = sqlx::query_scalar(
            "INSERT INTO ids.message (payload, payload_sha256, transport, message_type)
             SELECT p, sha256(p), 'bench', 'ADT' FROM unnest($1::bytea[]) AS t(p)
             RETURNING id",
        )
        .bind(&payloads)
        .fetch_all(&pool)
        .await?
        .into_iter()
        .max()
        .unwrap_or(last_id);
    }
    let topology = Topology {
        queue: format!("ward.bench.{}", scratch.name),
        dead_letter_exchange: format!("ward.bench.dlx.{}", scratch.name),
        dead_letter_queue: format!("ward.bench.dlq.{}", scratch.name),
        max_length: u32::try_from(args.messages)
            .unwrap_or(u32::MAX)
            .saturating_mul(2)
            .max(1000),
        quorum: true,
        expires_ms: Some(60_000),
    };
    let stats = Arc::new(message_reader::Stats::default());
    let shutdown = CancellationToken::new();
    let config = message_reader::Config {
        batch_size: args.batch_size,
        ..message_reader::Config::default()
    };
    let resources = message_reader::Resources {
        pool: pool.clone(),
        publisher: Publisher::new(args.broker.amqp_url.clone(), topology, args.publish_window),
        stats: Arc::clone(&stats),
    };
    let started = Instant::now();
    let cpu_before = machine_cpu_busy();
    let reader = tokio::spawn(message_reader::run(config, resources, shutdown.clone()));
    while stats.position.load(Ordering::Relaxed) < last_id {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    let cpu = machine_cpu_busy().saturating_sub(cpu_before);
    shutdown.cancel();
    let _ = reader.await;
    let published = stats.published.load(Ordering::Relaxed);
    println!(
        "message-reader: {} ADT messages (~1 KB) from the IDS to a quorum queue, confirmed",
        args.messages
    );
    println!(
        "{:>9} {:>9} {:>9} {:>17}",
        "messages", "seconds", "msg/s", "CPU µs/msg (all)"
    );
    println!(
        "{:>9} {:>9.2} {:>9.0} {:>17.0}",
        published,
        elapsed.as_secs_f64(),
        published as f64 / elapsed.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / published.max(1) as f64
    );
    Ok(())
}

async fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    let scratch = ScratchDatabase::create(&args.database.database_url).await?;
    let result = ingest_runs(&args, &scratch).await;
    scratch.drop_database().await;
    result
}

async fn ingest_runs(args: &IngestArgs, scratch: &ScratchDatabase) -> anyhow::Result<()> {
    let pool = scratch.migrated_pool().await?;
    let metrics = Arc::new(Metrics::default());
    let shutdown = CancellationToken::new();
    let (addr, listener) = spawn_listener(pool, Arc::clone(&metrics), &shutdown).await?;

    println!(
        "ids-listener ingest: {} B messages, ACK after commit, {:?} per run after {:?} warm-up",
        args.message_bytes, args.duration, args.warmup
    );
    println!(
        "{:>11} {:>9} {:>9} {:>11} {:>11} {:>12} {:>15} {:>17}",
        "connections",
        "messages",
        "msg/s",
        "ACK p50 ms",
        "ACK p99 ms",
        "msgs/commit",
        "commit mean ms",
        "CPU µs/msg (all)"
    );
    for &connections in &args.connections {
        let commits_before = metrics.commits();
        let stored_before = metrics.messages_stored.get();
        let commit_time_before = metrics.commit_time();
        let run = run_ingest(addr, connections.max(1), args).await?;
        let commits = metrics.commits() - commits_before;
        let stored = metrics.messages_stored.get() - stored_before;
        let commit_time = metrics.commit_time().saturating_sub(commit_time_before);
        println!(
            "{:>11} {:>9} {:>9.0} {:>11.3} {:>11.3} {:>12.1} {:>15.3} {:>17.0}",
            connections,
            run.messages,
            run.messages as f64 / run.elapsed.as_secs_f64(),
            run.percentile(0.50),
            run.percentile(0.99),
            stored as f64 / commits.max(1) as f64,
            commit_time.as_secs_f64() * 1e3 / commits.max(1) as f64,
            run.cpu_busy.as_secs_f64() * 1e6 / run.messages.max(1) as f64,
        );
    }
    shutdown.cancel();
    let _ = listener.await;
    Ok(())
}

struct Run {
    messages: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    cpu_busy: Duration,
}

impl Run {
    /// The `q` quantile of ACK latency, in milliseconds.
    fn percentile(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
        self.latencies[index].as_secs_f64() * 1e3
    }
}

async fn run_ingest(
    addr: std::net::SocketAddr,
    connections: usize,
    args: &IngestArgs,
) -> anyhow::Result<Run> {
    let start = Instant::now();
    let measure_from = start + args.warmup;
    let end = measure_from + args.duration;
    let run_id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    let mut tasks = Vec::with_capacity(connections);
    for connection in 0..connections {
        let mut sender = Sender::connect(addr, Duration::from_secs(30))
            .await
            .context("Failed to connect to the listener")?;
        let size = args.message_bytes;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n: u64 = 0;
            loop {
                let sent_at = Instant::now();
                if sent_at >= end {
                    break;
                }
                let message = sample_adt(&format!("B{run_id}-{connection}-{n}"), size);
                sender.send(message).await?;
                let acked_at = Instant::now();
                if sent_at >= measure_from && acked_at <= end {
                    latencies.push(acked_at - sent_at);
                }
                n += 1;
            }
            Ok::<_, ids_listener::sender::SendError>(latencies)
        }));
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu_before = machine_cpu_busy();
    tokio::time::sleep_until(end.into()).await;
    let cpu_after = machine_cpu_busy();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.context("sender task")??);
    }
    latencies.sort_unstable();
    Ok(Run {
        messages: latencies.len() as u64,
        elapsed: args.duration,
        latencies,
        cpu_busy: cpu_after.saturating_sub(cpu_before),
    })
}

/// A realistic ADT^A01 of about `size` bytes (padded with an NTE), with a unique control id.
fn sample_adt(control_id: &str, size: usize) -> Bytes {
    let mut message = format!(
        "MSH|^~\\&|EPIC|UCLH|WARD|UCLH|20240102030405||ADT^A01^ADT_A01|{control_id}|P|2.4|||AL|NE\r\
         EVN|A01|20240102030405|||U123^SMITH^JANE\r\
         PID|1||40800000^^^UCLH^MRN~9999999999^^^NHS^NHSNMBR||SYNTHETIC^PATIENT^A^^MR||19800101|M|||\
         1 TEST STREET^^LONDON^^NW1 2BU^GBR^H||020 7946 0000^PRN^PH|||M|||||||||||||||\r\
         PD1|||UCLH GP PRACTICE^^12345|G1234567^GP^DOCTOR\r\
         NK1|1|SYNTHETIC^PARTNER|SPO|1 TEST STREET^^LONDON^^NW1 2BU\r\
         PV1|1|I|T42^T42S^T42S-32^UCLH^^BED^T42|E|||C1234^CONSULTANT^A|||MED||||19|||C1234^CONSULTANT^A|INP|1234567890|||||||||||||||||||||||||20240102030405\r\
         PV2|||^ADMITTED FOR OBSERVATION\r"
    );
    let pad = size.saturating_sub(message.len() + 8);
    message.push_str("NTE|1||");
    message.extend(std::iter::repeat_n('x', pad));
    message.push('\r');
    Bytes::from(message)
}

/// Busy CPU time of the whole machine so far (all cores), from /proc/stat.
fn machine_cpu_busy() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return Duration::ZERO;
    };
    let Some(line) = stat.lines().next() else {
        return Duration::ZERO;
    };
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...: busy is everything but idle and iowait.
    let busy: u64 = fields
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .take(8)
        .map(|(_, v)| v)
        .sum();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(busy * 10)
}

/// An ids-listener in this process on `pool`, on a loopback port of its own: its address and
/// task (which ends after `shutdown`).
async fn spawn_listener(
    pool: sqlx::PgPool,
    metrics: Arc<Metrics>,
    shutdown: &CancellationToken,
) -> anyhow::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let mllp = TcpListener::bind("127.0.0.1:0").await?;
    let addr = mllp.local_addr()?;
    let listener = tokio::spawn(ids_listener::run(
        Config::default(),
        Resources {
            pool,
            mllp: Some(mllp),
            tls: None,
            http: None,
            metrics,
        },
        shutdown.clone(),
    ));
    Ok((addr, listener))
}

/// Vacuums and analyzes the IDS, as history at rest is when researchers replay it. Just after
/// the feed was stored, autovacuum would do this in the middle of the measurement (and the
/// replay's reads would set the new rows' hint bits), charging replay for the ingest.
async fn settle_ids(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql("VACUUM (ANALYZE) ids.message")
        .execute(pool)
        .await
        .context("Failed to vacuum the IDS")?;
    Ok(())
}

/// Replays the scratch database's whole IDS into a new schema as `ward replay` does (on a
/// thread of its own, `lanes` lanes, rounds of `batch_size`); returns its counts.
async fn replay_whole_ids(
    scratch: &ScratchDatabase,
    lanes: usize,
    batch_size: i64,
) -> anyhow::Result<Arc<::replay::Progress>> {
    let target = schema::StarSchema::new("star_replay_bench")?;
    let url = scratch.options.to_url_lossy().to_string();
    let progress = Arc::new(::replay::Progress::default());
    let counts = Arc::clone(&progress);
    crate::on_own_thread("replay", move || async move {
        let pool = crate::connect(&url, &target, u32::try_from(lanes)? + 1).await?;
        ::replay::run(
            ::replay::Config {
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
            ::replay::Resources { pool },
            counts,
            CancellationToken::new(),
        )
        .await?;
        anyhow::Ok(())
    })
    .await??;
    Ok(progress)
}

/// Starts the processor on the scratch database as `ward up` runs it: on a thread of its own,
/// with its own pool, in four lanes, taking `backfill` (a queue) while the live one is empty.
fn spawn_processor(
    scratch: &ScratchDatabase,
    amqp_url: &str,
    queue: &str,
    backfill: Option<String>,
    stats: Arc<event_processor::consumer::ConsumerStats>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<anyhow::Result<anyhow::Result<()>>> {
    let (options, amqp_url, queue) = (
        scratch.options.clone(),
        amqp_url.to_owned(),
        queue.to_owned(),
    );
    tokio::spawn(crate::on_own_thread("processor", move || async move {
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .connect_with(options)
            .await?;
        event_processor::consumer::run(
            event_processor::consumer::ConsumerConfig {
                backfill_queue: backfill,
                ..event_processor::consumer::ConsumerConfig::new(amqp_url, queue)
            },
            event_processor::Processor::default(),
            pool,
            stats,
            shutdown,
        )
        .await;
        anyhow::Ok(())
    }))
}

/// A database made for one benchmark and dropped after it (the IDS cannot be emptied).
struct ScratchDatabase {
    server: PgConnectOptions,
    options: PgConnectOptions,
    name: String,
}

impl ScratchDatabase {
    async fn create(url: &str) -> anyhow::Result<ScratchDatabase> {
        let server: PgConnectOptions = url.parse().context("Invalid --database-url")?;
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        static MADE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let nth = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("ward_bench_{secs}_{}_{nth}", std::process::id());
        let mut admin = server
            .connect()
            .await
            .context("Failed to connect to PostgreSQL (is it running? try scripts/setup)")?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .context("Failed to create the scratch database")?;
        let options = server
            .clone()
            .database(&name)
            .options([("search_path", schema::StarSchema::live().search_path())]);
        Ok(ScratchDatabase {
            server,
            options,
            name,
        })
    }

    /// A pool on the scratch database with every schema migrated.
    async fn migrated_pool(&self) -> anyhow::Result<sqlx::PgPool> {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(self.options.clone())
            .await
            .context("Failed to connect to the scratch database")?;
        schema::migrate(&pool)
            .await
            .context("Failed to migrate the scratch database")?;
        Ok(pool)
    }

    async fn drop_database(&self) {
        if let Ok(mut admin) = self.server.connect().await {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                )))
                .await;
        }
    }
}
