//! `ward`: one binary that runs any part of the Ward clinical data warehouse.
//!
//! This crate is glue: it parses flags (each with a `WARD_…` environment twin and a default that
//! works on a local machine set up by `scripts/setup`), starts logging, opens the database and
//! calls into the stage crates. Stage logic lives in those crates, never here. Subcommands appear
//! as their stage is built; none pretends to work.

/// mimalloc instead of glibc's allocator: the stages allocate many small short-lived buffers
/// per message (rows, JSON, HL7 fields), where glibc's malloc and free were a sixth of the
/// processor's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod convert;
mod listen;
mod process;
mod read_ids;
mod read_tables;
mod replay;
mod simulate;
mod site;
mod summary;
mod up;

use std::process::ExitCode;
use std::str::FromStr;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio_util::sync::CancellationToken;

/// Ward, a live clinical data warehouse fed by HL7v2.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, env = "WARD_LOG_FORMAT", default_value = "text", global = true)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or update every schema Ward owns (idempotent; services also do this at start).
    Migrate(MigrateArgs),
    /// Run the listener, reader and processor together (migrating first); Ctrl-C stops all.
    Up(Box<up::UpArgs>),
    /// Send (or write) a seeded synthetic hospital feed: admissions, transfers, discharges,
    /// updates, merges, cancels, with late and resent messages.
    Simulate(Box<simulate::SimulateArgs>),
    /// Summarise what the warehouse holds, with example queries.
    Summary(Box<summary::SummaryArgs>),
    /// Give every patient not opted out of research a pseudonym in a project, for the research
    /// views (`star.research_*`); run again after new patients, opt-outs or a replay.
    Research(ResearchArgs),
    /// Print the data dictionary (every table, view, column and function, with its
    /// description) of a live database as Markdown.
    Dictionary(DictionaryArgs),
    /// Receive HL7v2 over MLLP and store every message in the IDS before acknowledging it.
    Listen(Box<listen::ListenArgs>),
    /// Follow the IDS and publish the interchange messages each HL7 message maps to.
    ReadIds(Box<read_ids::ReadIdsArgs>),
    /// Publish interchange messages built from source database tables (history, reference
    /// data) to the backfill queue.
    ReadTables(Box<read_tables::ReadTablesArgs>),
    /// Apply interchange messages from RabbitMQ to the star schema.
    Process(Box<process::ProcessArgs>),
    /// Rebuild a star schema from a range of the IDS (resumable; Ctrl-C stops cleanly).
    Replay(Box<replay::ReplayArgs>),
    /// Make a schema rebuilt by `ward replay` the live `star`, carrying its grants; the old one is
    /// kept closed (or dropped with --drop-old).
    Promote(Box<replay::PromoteArgs>),
    /// Print the interchange JSON each HL7 message in some files maps to (no database needed).
    Convert(Box<convert::ConvertArgs>),
    /// The interchange format between readers and processor.
    #[command(subcommand)]
    Interchange(InterchangeCommand),
    /// Measure a stage's throughput and latency on this machine.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// What `ward interchange` can do.
#[derive(Debug, Subcommand)]
enum InterchangeCommand {
    /// Print the JSON Schema of every interchange message class.
    Schema,
}

/// Flags of `ward migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    database: DatabaseArgs,

    #[command(flatten)]
    star: StarArgs,

    /// The site's time zone (IANA name), made the database's default so analysts' dates are
    /// the hospital's days.
    #[arg(long, env = "WARD_TIME_ZONE", default_value = "Europe/London")]
    time_zone: chrono_tz::Tz,
}

/// Flags of `ward research`.
#[derive(Debug, clap::Args)]
pub struct ResearchArgs {
    #[command(flatten)]
    database: DatabaseArgs,

    #[command(flatten)]
    star: StarArgs,

    /// The research project the pseudonyms are for (each project sees other pseudonyms).
    #[arg(long, env = "WARD_RESEARCH_PROJECT")]
    project: String,

    /// A file holding the pseudonymisation key (32 bytes or more, kept outside the database:
    /// the same key gives the same pseudonyms in a replay). Or the key itself in
    /// `WARD_RESEARCH_KEY`; never on the command line.
    #[arg(long, env = "WARD_RESEARCH_KEY_FILE")]
    key_file: Option<std::path::PathBuf>,

    /// Shift each patient's dates by a fixed number of days (within half a year, from the key).
    #[arg(long, env = "WARD_RESEARCH_SHIFT_DATES")]
    shift_dates: bool,
}

/// Flags of `ward dictionary`.
#[derive(Debug, clap::Args)]
pub struct DictionaryArgs {
    #[command(flatten)]
    database: DatabaseArgs,

    #[command(flatten)]
    star: StarArgs,
}

/// Whether a service brings the database up to date when it starts.
#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// Do not migrate at start (for a login that may not run DDL): check that `ward migrate`
    /// has applied this build's migrations and refuse to start otherwise.
    #[arg(long, env = "WARD_NO_MIGRATE")]
    no_migrate: bool,
}

/// How to reach RabbitMQ.
#[derive(Debug, clap::Args)]
pub struct BrokerArgs {
    /// RabbitMQ URL.
    #[arg(
        long,
        env = "WARD_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        hide_env_values = true
    )]
    pub amqp_url: String,
    /// CA certificates (PEM) to verify an `amqps://` broker against: the site's own CA. Without
    /// it an `amqps://` broker must have a certificate from a public CA.
    #[arg(long, env = "WARD_AMQP_CA_FILE")]
    pub amqp_ca_file: Option<std::path::PathBuf>,
}

impl BrokerArgs {
    /// The broker these flags name (reads the CA file, so a wrong path fails at start).
    pub fn endpoint(&self) -> anyhow::Result<broker::Endpoint> {
        Ok(broker::Endpoint::new(
            self.amqp_url.clone(),
            self.amqp_ca_file.as_deref(),
        )?)
    }
}

/// How to reach PostgreSQL.
#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL of Ward's database.
    #[arg(
        long,
        env = "WARD_DATABASE_URL",
        default_value = "postgres://ward:ward@127.0.0.1:5432/ward",
        hide_env_values = true
    )]
    database_url: String,
}

/// Each stage's own login (least privilege): `scripts/setup` creates them, with passwords in
/// `~/.pgpass`; a stage's URL without a password takes it from there (or `PGPASSWORD`).
#[derive(Debug, Clone, Copy)]
pub enum Stage {
    /// `ward_listener`: inserts into the IDS.
    Listener,
    /// `ward_reader`: reads the IDS, keeps its position.
    Reader,
    /// `ward_processor`: writes the star schema.
    Processor,
}

impl Stage {
    /// The stage's role.
    pub fn role(self) -> &'static str {
        match self {
            Stage::Listener => "ward_listener",
            Stage::Reader => "ward_reader",
            Stage::Processor => "ward_processor",
        }
    }

    /// The schemas the stage uses (what it checks is current at start).
    pub fn uses(self, star: &schema::StarSchema) -> Vec<schema::Owned<'_>> {
        match self {
            Stage::Listener => vec![schema::Owned::Ids],
            Stage::Reader => vec![schema::Owned::Ids, schema::Owned::Reader],
            Stage::Processor => vec![schema::Owned::Star(star)],
        }
    }
}

/// `url` with its user replaced by `role` and no password: the same server and database as
/// the administrator's URL, as a stage's login.
pub fn as_login(url: &str, role: &str) -> anyhow::Result<String> {
    let (scheme, rest) = url
        .split_once("://")
        .context("Invalid PostgreSQL URL: no scheme")?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    Ok(format!("{scheme}://{role}@{host}{path}"))
}

/// Connects a stage started alone with its own login, checking (not changing) the schemas it
/// uses: only `ward migrate` (or `ward up`) runs DDL.
pub async fn connect_stage(
    url: &str,
    stage: Stage,
    star: &schema::StarSchema,
    connections: u32,
) -> anyhow::Result<PgPool> {
    let pool = connect(url, star, connections).await.with_context(|| {
        format!(
            "as {} (scripts/setup creates the stage logins; or pass this stage's --database-url)",
            stage.role()
        )
    })?;
    schema::check_current(&pool, &stage.uses(star)).await?;
    Ok(pool)
}

/// Which star schema a command keeps current or reads.
#[derive(Debug, clap::Args)]
pub struct StarArgs {
    /// The star schema (a schema `ward replay` rebuilt can be made live by `ward promote`, or
    /// written to directly with this flag).
    #[arg(long, env = "WARD_STAR_SCHEMA", default_value = "star")]
    star_schema: schema::StarSchema,
}

/// The processor's site conventions.
#[derive(Debug, clap::Args)]
pub struct ProcessorArgs {
    /// Source systems trusted to overwrite identity, demographics and visits.
    #[arg(
        long,
        env = "WARD_TRUSTED_SOURCES",
        value_delimiter = ',',
        default_value = "EPIC"
    )]
    trusted_sources: Vec<String>,

    /// The table-reader's backfill queue, taken from only while the live queue is empty;
    /// `none` for live only.
    #[arg(
        long,
        env = "WARD_BACKFILL_QUEUE",
        default_value = "ward.interchange.backfill"
    )]
    backfill_queue: String,

    /// Most backfill messages per transaction: what a live message may wait behind.
    #[arg(long, env = "WARD_BACKFILL_BATCH", default_value_t = event_processor::consumer::ConsumerConfig::DEFAULT_BACKFILL_BATCH_SIZE)]
    backfill_batch_size: usize,
}

impl ProcessorArgs {
    /// The processor configuration these flags describe.
    pub fn config(&self) -> event_processor::Config {
        event_processor::Config {
            trusted_sources: self.trusted_sources.clone(),
        }
    }

    /// The backfill queue's name, unless it is `none`.
    pub fn backfill_queue(&self) -> Option<&str> {
        (self.backfill_queue != "none").then_some(self.backfill_queue.as_str())
    }

    /// `consumer` taking the backfill queue these flags name.
    pub fn with_backfill(
        &self,
        consumer: event_processor::consumer::ConsumerConfig,
    ) -> event_processor::consumer::ConsumerConfig {
        event_processor::consumer::ConsumerConfig {
            backfill_queue: self.backfill_queue().map(str::to_owned),
            backfill_batch_size: self.backfill_batch_size.max(1),
            ..consumer
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format);

    // The processor and replay are chains of short database round trips: on one thread they
    // avoid a cross-thread wake-up per query, which measured 40% faster on 2 cores (see
    // `on_own_thread`). Commands that serve many connections use every core.
    let runtime = match &cli.command {
        Command::Process(_) | Command::Replay(_) | Command::Promote(_) => {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        _ => tokio::runtime::Runtime::new(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("Error: failed to start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one subcommand; `Ok` carries the exit code for outcomes that are not errors of `ward`
/// itself (e.g. `convert` finding messages it must reject).
async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Migrate(args) => {
            let start = StartArgs { no_migrate: false };
            let star = &args.star.star_schema;
            let zone = Some(args.time_zone);
            connect_and_migrate(&args.database, star, 2, &start, zone, &[]).await?;
        }
        Command::Up(args) => up::up(*args).await?,
        Command::Simulate(args) => simulate::simulate(*args).await?,
        Command::Summary(args) => summary::summary(*args).await?,
        Command::Research(args) => {
            let key = match (&args.key_file, std::env::var("WARD_RESEARCH_KEY")) {
                (Some(path), _) => std::fs::read(path).with_context(|| {
                    format!("Failed to read the research key from {}", path.display())
                })?,
                (None, Ok(key)) => key.into_bytes(),
                (None, Err(_)) => {
                    anyhow::bail!("give the research key in --key-file or WARD_RESEARCH_KEY")
                }
            };
            let pool = connect(&args.database.database_url, &args.star.star_schema, 1).await?;
            let done = schema::research::pseudonymise(&pool, &args.project, &key, args.shift_dates)
                .await?;
            println!(
                "{} patients pseudonymised in project {} ({} removed: opted out or merged)",
                done.patients, args.project, done.removed
            );
        }
        Command::Dictionary(args) => {
            let pool = connect(&args.database.database_url, &args.star.star_schema, 1).await?;
            let text = schema::dictionary(&pool, &args.star.star_schema)
                .await
                .context("Failed to read the schema's descriptions")?;
            print!("{text}");
        }
        Command::Listen(args) => listen::listen(*args).await?,
        Command::ReadIds(args) => read_ids::read_ids(*args).await?,
        Command::ReadTables(args) => read_tables::read_tables(*args).await?,
        Command::Process(args) => process::process(*args).await?,
        Command::Replay(args) => {
            if !replay::replay(*args).await? {
                return Ok(ExitCode::from(130));
            }
        }
        Command::Promote(args) => replay::promote(*args).await?,
        Command::Bench(which) => bench::bench(which).await?,
        Command::Convert(args) => {
            if !convert::convert(*args)? {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Interchange(InterchangeCommand::Schema) => {
            let schema = serde_json::to_string_pretty(&interchange::json_schema())
                .context("Failed to render the schema")?;
            println!("{schema}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Connects to Ward's database and brings its schemas up to date, and its default time zone
/// to the site's when one is given (every service does this at start unless `--no-migrate`;
/// the migrator's advisory lock makes concurrent starts safe). With `--no-migrate` it only
/// checks the schemas are current.
pub async fn connect_and_migrate(
    db: &DatabaseArgs,
    star: &schema::StarSchema,
    connections: u32,
    start: &StartArgs,
    time_zone: Option<chrono_tz::Tz>,
    uses: &[schema::Owned<'_>],
) -> anyhow::Result<PgPool> {
    let pool = connect(&db.database_url, star, connections).await?;
    if start.no_migrate {
        schema::check_current(&pool, uses).await?;
        return Ok(pool);
    }
    schema::migrate_with(&pool, star)
        .await
        .context("Failed to apply migrations")?;
    if let Some(zone) = time_zone {
        schema::set_time_zone(&pool, zone.name())
            .await
            .context("Failed to set the database's time zone (as its owner, run ward migrate)")?;
    }
    Ok(pool)
}

/// Connects with `search_path` set to a star schema: the processor's SQL names star tables
/// unqualified (everything else Ward runs is schema-qualified).
pub async fn connect(
    url: &str,
    star: &schema::StarSchema,
    connections: u32,
) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url)
        .context("Invalid PostgreSQL URL")?
        .options([("search_path", star.search_path())]);
    PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect_with(options)
        .await
        .context("Failed to connect to PostgreSQL (is it running? try scripts/setup)")
}

/// Runs a future on a thread of its own with a single-threaded runtime, for stages that are a
/// chain of database round trips (the processor): on a shared multi-threaded runtime each reply
/// wakes another thread first. Whatever the future connects must be connected inside it.
pub async fn on_own_thread<F, Fut, T>(name: &str, make: F) -> anyhow::Result<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
    T: Send + 'static,
{
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                let _ = done.send(runtime.block_on(make()));
            }
        })
        .with_context(|| format!("Failed to start the {name} thread"))?;
    result
        .await
        .with_context(|| format!("The {name} thread stopped unexpectedly"))
}

/// A token cancelled at the first Ctrl-C or SIGTERM. SIGTERM is caught from the moment this
/// returns (not when the task first runs), so a service stopped while it starts stops cleanly:
/// call it before binding ports.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = match term {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    cancel.cancel();
                    return;
                }
            };
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("Shutdown requested");
        cancel.cancel();
    });
    token
}

/// What is logged unless `WARD_LOG` says otherwise. lapin logs every channel the broker
/// closes at ERROR, including the processor's expected look for a backfill queue no
/// table-reader has declared yet; Ward logs the failures that matter itself.
const DEFAULT_LOG_FILTER: &str = "info,sqlx::postgres::notice=warn,lapin::channel=off";

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[cfg(test)]
mod tests {
    use super::as_login;

    #[test]
    fn a_stage_login_keeps_the_server_database_and_options_but_not_the_password() {
        let cases = [
            (
                "postgres://ward:secret@127.0.0.1:5432/ward",
                "postgres://ward_reader@127.0.0.1:5432/ward",
            ),
            (
                "postgresql://db.example.org/ward?sslmode=verify-full",
                "postgresql://ward_reader@db.example.org/ward?sslmode=verify-full",
            ),
            (
                "postgres://admin:p@ss@127.0.0.1/ward",
                "postgres://ward_reader@127.0.0.1/ward",
            ),
        ];
        for (admin, stage) in cases {
            assert_eq!(as_login(admin, "ward_reader").ok().as_deref(), Some(stage));
        }
        assert!(as_login("127.0.0.1:5432/ward", "ward_reader").is_err());
    }
}
