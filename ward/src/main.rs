//! `ward`: one binary that runs any part of the Ward clinical data warehouse.
//!
//! This crate is glue: it parses flags (each with a `WARD_…` environment twin and a default that
//! works on a local machine set up by `scripts/setup`), starts logging, opens the database and
//! calls into the stage crates. Stage logic lives in those crates, never here. Subcommands appear
//! as their stage is built; none pretends to work.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sqlx::postgres::PgPoolOptions;

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
    Migrate(DatabaseArgs),
}

/// How to reach PostgreSQL.
#[derive(Debug, clap::Args)]
struct DatabaseArgs {
    /// PostgreSQL URL of Ward's database.
    #[arg(
        long,
        env = "WARD_DATABASE_URL",
        default_value = "postgres://ward:ward@127.0.0.1:5432/ward",
        hide_env_values = true
    )]
    database_url: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("Error: failed to start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Migrate(db) => {
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(std::time::Duration::from_secs(5))
                .connect(&db.database_url)
                .await
                .context("Failed to connect to PostgreSQL (is it running? try scripts/setup)")?;
            schema::migrate(&pool)
                .await
                .context("Failed to apply migrations")?;
            Ok(())
        }
    }
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
