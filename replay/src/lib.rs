//! Replay: rebuilds a star schema from a range of the Immutable Data Store with the reader's
//! mapping and the processor's rules unchanged, so researchers can reproduce what the live
//! pipeline produced at any point.
//!
//! It bypasses RabbitMQ (the interchange message is the contract, not the queue): each IDS row
//! is mapped by [`message_reader::map_message`] and applied by
//! [`event_processor::lanes::apply_run`], exactly as the live reader and processor do, each
//! patient in IDS order, skipping the same resent duplicates. The next round is read and mapped
//! (on a blocking thread) while the current one is applied. After each round of rows the
//! target's `replay.last_ids_id` moves, so stopping (Ctrl-C) at any point leaves a schema that
//! resumes where it stopped (a round cut short is applied again, which changes nothing). The
//! target must be empty or a replay of the same range being resumed or extended; anything else
//! is refused unless the caller allows it. An empty target is loaded without its foreign keys
//! and audit indexes, re-created when the replay finishes (`deferred`). A full replay then
//! re-applies the table-reader's backfilled messages (`reader.table_message`), which are not
//! in the IDS, so a replay reproduces a star schema that history was backfilled into.

mod deferred;
mod patient;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use event_processor::{Processor, lanes};
use interchange::Message;
use message_reader::SiteConfig;
use message_reader::reader::{Row, Triage, triage};
use schema::StarSchema;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

/// One end of the replayed range: an IDS id, or a received time that PostgreSQL parses
/// (e.g. `2026-11-30 08:00`, `2026-11-30T08:00:00Z`; without an offset, the database's time zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// An IDS id (inclusive).
    Id(i64),
    /// A received time (inclusive).
    Received(String),
}

impl std::str::FromStr for Bound {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Bound, Self::Err> {
        Ok(match text.trim().parse::<i64>() {
            Ok(id) => Bound::Id(id),
            Err(_) => Bound::Received(text.trim().to_owned()),
        })
    }
}

/// What to replay, and where.
#[derive(Debug, Clone)]
pub struct Config {
    /// First message (default: the first in the IDS).
    pub from: Option<Bound>,
    /// Last message (default: the last committed when the replay starts).
    pub to: Option<Bound>,
    /// The schema to build; created and migrated when absent.
    pub target: StarSchema,
    /// Only this patient's messages (and those of every MRN merged with it in the range).
    pub mrn: Option<String>,
    /// The mapping's site conventions (as the live reader's).
    pub site: SiteConfig,
    /// The processor's conventions (as the live processor's).
    pub processor: event_processor::Config,
    /// IDS rows per round (each round is applied in lanes, then the position moves).
    pub batch_size: i64,
    /// Connections a round is applied on at once, patients split between them (the pool needs
    /// one more than this).
    pub lanes: usize,
    /// Write into a schema that holds other data (or another range).
    pub allow_existing: bool,
}

/// What replay needs: a pool whose `search_path` is the target schema (see
/// [`StarSchema::search_path`]); the IDS is read through the same pool.
pub struct Resources {
    /// The database.
    pub pool: PgPool,
}

/// Counts of a running replay, for progress display. Never holds message content.
#[derive(Debug, Default)]
pub struct Progress {
    /// IDS rows in the range.
    pub total: AtomicU64,
    /// IDS rows handled so far (including those already done before a resume).
    pub done: AtomicU64,
    /// Interchange messages applied.
    pub applied: AtomicU64,
    /// Interchange messages rejected into the target's dead-letter table.
    pub dead_lettered: AtomicU64,
    /// IDS rows ignored by design or skipped (resends, other patients).
    pub skipped: AtomicU64,
    /// IDS rows that could not be mapped (the live reader keeps them in `reader.error`).
    pub unmappable: AtomicU64,
}

/// How a replay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The whole range is applied.
    Finished {
        /// First IDS id of the range.
        from: i64,
        /// Last IDS id of the range.
        to: i64,
    },
    /// Stopped by shutdown; running the same replay again resumes.
    Interrupted {
        /// The last IDS id applied.
        at: i64,
    },
}

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The target holds data that is not this replay's.
    #[error(
        "schema {0} is not empty and holds no resumable replay of this range; choose a new schema or allow writing into it"
    )]
    NotEmpty(String),
    /// The pool writes somewhere else.
    #[error("the connection's search_path puts {found} first, not the target {target}")]
    WrongSearchPath {
        /// The target.
        target: String,
        /// Where unqualified names would go.
        found: String,
    },
    /// The range is empty or inverted.
    #[error("nothing to replay: {0}")]
    EmptyRange(String),
    /// The target schema could not be migrated.
    #[error("migrating the target failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Mapping a round stopped unexpectedly (a bug: mapping never panics on any input).
    #[error("mapping IDS messages failed: {0}")]
    Mapping(String),
    /// The database failed; the replay can be resumed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// The state a target schema records, in `replay`.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Recorded {
    from_ids_id: i64,
    to_ids_id: i64,
    mrn: Option<String>,
    last_ids_id: i64,
}

/// Replays the configured range into the target until done or `shutdown`.
pub async fn run(
    config: Config,
    resources: Resources,
    progress: Arc<Progress>,
    shutdown: CancellationToken,
) -> Result<Outcome, ReplayError> {
    let pool = resources.pool;
    let target = config.target.name();
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(target)
            .fetch_one(&pool)
            .await?;
    let (from, to) = resolve_range(&pool, &config).await?;
    let recorded = if exists {
        recorded(&pool, target).await?
    } else {
        None
    };
    let resumable = recorded
        .as_ref()
        .filter(|r| r.from_ids_id == from && r.mrn == config.mrn && r.to_ids_id <= to);
    let empty = resumable.is_none() && !(exists && holds_data(&pool, target).await?);
    let start_after = match resumable {
        Some(r) => r.last_ids_id,
        None if !empty && !config.allow_existing => {
            return Err(ReplayError::NotEmpty(target.to_owned()));
        }
        None => from - 1,
    };
    schema::migrate_star(&pool, &config.target).await?;
    // Everything above names its schemas; from here on the star tables are unqualified.
    let found: Option<String> = sqlx::query_scalar("SELECT (current_schemas(false))[1]")
        .fetch_one(&pool)
        .await?;
    if found.as_deref() != Some(target) {
        return Err(ReplayError::WrongSearchPath {
            target: target.to_owned(),
            found: found.unwrap_or_default(),
        });
    }
    sqlx::query(
        "INSERT INTO replay (from_ids_id, to_ids_id, mrn, last_ids_id, ward_version)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (replay_id) DO UPDATE SET from_ids_id = $1, to_ids_id = $2, mrn = $3,
             last_ids_id = $4, ward_version = $5, finished_at = NULL, updated_at = now()",
    )
    .bind(from)
    .bind(to)
    .bind(&config.mrn)
    .bind(start_after)
    .bind(env!("CARGO_PKG_VERSION"))
    .execute(&pool)
    .await?;
    if empty {
        let deferred = deferred::defer(&pool).await?;
        tracing::info!(
            schema = target,
            deferred,
            "Loading without foreign keys and audit indexes; they are re-created at the end"
        );
    }

    let (total, done): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE id <= $3)
         FROM ids.message WHERE id BETWEEN $1 AND $2",
    )
    .bind(from)
    .bind(to)
    .bind(start_after)
    .fetch_one(&pool)
    .await?;
    progress.total.store(total as u64, Ordering::Relaxed);
    progress.done.store(done as u64, Ordering::Relaxed);
    tracing::info!(
        schema = target,
        from,
        to,
        resume_after = start_after,
        messages = total,
        "Replaying the IDS"
    );

    let selection = match &config.mrn {
        Some(mrn) => Some(Arc::new(
            patient::select(&pool, &config.site, mrn, from, to, &shutdown).await?,
        )),
        None => None,
    };
    let processor = Processor::new(config.processor.clone());
    let read = |after: i64| {
        read_round(
            &pool,
            after,
            to,
            config.batch_size.max(1),
            selection.clone(),
            config.site.clone(),
        )
    };
    let mut next = read(start_after).await?;
    let mut rounds: u64 = 0;
    while let Some(round) = next {
        if shutdown.is_cancelled() {
            tracing::info!(
                schema = target,
                at = round.after,
                "Replay stopped; run it again to resume"
            );
            return Ok(Outcome::Interrupted { at: round.after });
        }
        // The next round is read and mapped while this one is applied.
        let (done, following) = tokio::join!(
            lanes::apply_run(&processor, &pool, &round.messages, config.lanes),
            read(round.last)
        );
        let done = match done {
            Ok(done) => done,
            Err(error) => {
                processor.forget_cached();
                return Err(error.into());
            }
        };
        // After the rows: a crash in between applies the round again on resume, which changes
        // nothing (processing is idempotent).
        sqlx::query(
            "UPDATE replay SET last_ids_id = $1, messages = messages + $2, updated_at = now()",
        )
        .bind(round.last)
        .bind(round.rows as i64)
        .execute(&pool)
        .await?;
        progress
            .done
            .fetch_add(round.rows as u64, Ordering::Relaxed);
        progress.applied.fetch_add(done.applied, Ordering::Relaxed);
        progress
            .dead_lettered
            .fetch_add(done.dead_lettered, Ordering::Relaxed);
        progress.skipped.fetch_add(round.skipped, Ordering::Relaxed);
        progress
            .unmappable
            .fetch_add(round.unmappable, Ordering::Relaxed);
        next = following?;
        rounds += 1;
        if rounds.is_power_of_two() {
            analyze(&pool).await?;
        }
    }
    if config.mrn.is_none() {
        let to_time = config.to.is_some().then_some(to);
        let applied =
            apply_backfill(&pool, &processor, to_time, &config, &progress, &shutdown).await?;
        if shutdown.is_cancelled() {
            return Ok(Outcome::Interrupted { at: to });
        }
        if applied > 0 {
            tracing::info!(
                schema = target,
                messages = applied,
                "Backfilled history re-applied"
            );
        }
    }
    // The constraints and indexes come back with the finish, or neither does.
    let mut tx = pool.begin().await?;
    let restored = deferred::restore(&mut tx).await?;
    sqlx::query("UPDATE replay SET last_ids_id = $1, finished_at = now(), updated_at = now()")
        .bind(to)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(schema = target, from, to, restored, "Replay finished");
    Ok(Outcome::Finished { from, to })
}

/// Re-applies what the table-reader published (`reader.table_message`), in publication order:
/// backfilled history is not in the IDS. With an upper bound, only what was published by the
/// time the range's last IDS message was received; without one, all of it. Applied after the
/// IDS range — the order live processing saw them in is not kept, and need not be: processing
/// is order-tolerant, each message's valid-from decides. Returns how many were applied.
async fn apply_backfill(
    pool: &PgPool,
    processor: &Processor,
    to: Option<i64>,
    config: &Config,
    progress: &Progress,
    shutdown: &CancellationToken,
) -> Result<u64, ReplayError> {
    let mut after: i64 = 0;
    let mut applied = 0;
    loop {
        if shutdown.is_cancelled() {
            return Ok(applied);
        }
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT t.id, t.body::text FROM reader.table_message t
             WHERE t.id > $1
               AND ($2::bigint IS NULL
                    OR t.published_at <= (SELECT received_at FROM ids.message WHERE id = $2))
             ORDER BY t.id LIMIT $3",
        )
        .bind(after)
        .bind(to)
        .bind(config.batch_size.max(1))
        .fetch_all(pool)
        .await?;
        let Some((last, _)) = rows.last() else {
            return Ok(applied);
        };
        after = *last;
        let mut messages = Vec::with_capacity(rows.len());
        for (id, body) in &rows {
            match Message::from_json(body.as_bytes()) {
                Ok(message) => messages.push(message),
                Err(error) => {
                    tracing::warn!(table_message_id = id, error = %error, "Published table message unreadable; skipped");
                    progress.unmappable.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let done = match lanes::apply_run(processor, pool, &messages, config.lanes).await {
            Ok(done) => done,
            Err(error) => {
                processor.forget_cached();
                return Err(error.into());
            }
        };
        progress.applied.fetch_add(done.applied, Ordering::Relaxed);
        progress
            .dead_lettered
            .fetch_add(done.dead_lettered, Ordering::Relaxed);
        applied += done.applied + done.dead_lettered;
    }
}

/// Refreshes the target's statistics. A schema being loaded grows from nothing, and the plans
/// every connection caches for its statements were made while its tables were nearly empty;
/// autovacuum refreshes them a minute or more later, by when a plan that scans a table whole
/// costs dearly. New statistics invalidate the cached plans. Run after rounds 1, 2, 4, 8, …, so
/// no plan is older than the last doubling of the schema and the cost stays a small share.
async fn analyze(pool: &PgPool) -> Result<(), sqlx::Error> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
         WHERE schemaname = current_schema() AND tablename <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await?;
    if tables.is_empty() {
        return Ok(());
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ANALYZE {}",
        tables.join(", ")
    )))
    .execute(pool)
    .await?;
    Ok(())
}

/// The inclusive IDS id range the bounds name.
async fn resolve_range(pool: &PgPool, config: &Config) -> Result<(i64, i64), ReplayError> {
    // Within the ids there are, so that rounds walk no empty stretch before or after them.
    let (first, last): (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT min(id), max(id) FROM ids.message")
            .fetch_one(pool)
            .await?;
    let from: Option<i64> = match &config.from {
        None => first,
        Some(Bound::Id(id)) => Some(*id),
        Some(Bound::Received(time)) => {
            sqlx::query_scalar(
                "SELECT min(id) FROM ids.message WHERE received_at >= $1::timestamptz",
            )
            .bind(time)
            .fetch_one(pool)
            .await?
        }
    };
    let to: Option<i64> = match &config.to {
        None => Some(committed_head(pool).await?),
        Some(Bound::Id(id)) => Some(*id),
        Some(Bound::Received(time)) => {
            sqlx::query_scalar(
                "SELECT max(id) FROM ids.message WHERE received_at <= $1::timestamptz",
            )
            .bind(time)
            .fetch_one(pool)
            .await?
        }
    };
    let from = from.zip(first).map(|(from, first)| from.max(first));
    let to = to.zip(last).map(|(to, last)| to.min(last));
    match (from, to) {
        (Some(from), Some(to)) if from <= to && to > 0 => Ok((from.max(1), to)),
        _ => Err(ReplayError::EmptyRange(format!(
            "no IDS message between {:?} and {:?}",
            config.from, config.to
        ))),
    }
}

/// The highest IDS id below which every message has committed: the highest id now, once every
/// transaction that might still insert a lower id has ended (ids are taken before commit).
async fn committed_head(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let (head, snapshot): (Option<i64>, String) =
        sqlx::query_as("SELECT (SELECT max(id) FROM ids.message), pg_current_snapshot()::text")
            .fetch_one(pool)
            .await?;
    for _ in 0..200 {
        let settled: bool = sqlx::query_scalar(
            "SELECT pg_snapshot_xmin(pg_current_snapshot()) >= pg_snapshot_xmax($1::pg_snapshot)",
        )
        .bind(&snapshot)
        .fetch_one(pool)
        .await?;
        if settled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(head.unwrap_or(0))
}

async fn recorded(pool: &PgPool, target: &str) -> Result<Option<Recorded>, sqlx::Error> {
    let has_table: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(format!("{target}.replay"))
        .fetch_one(pool)
        .await?;
    if !has_table {
        return Ok(None);
    }
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT from_ids_id, to_ids_id, mrn, last_ids_id FROM {target}.replay"
    )))
    .fetch_optional(pool)
    .await
}

/// Whether the schema holds any table with a row (other than the migration history).
async fn holds_data(pool: &PgPool, target: &str) -> Result<bool, sqlx::Error> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(table_name) FROM information_schema.tables
         WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'",
    )
    .bind(target)
    .fetch_all(pool)
    .await?;
    for table in tables {
        let any: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM {target}.{table})"
        )))
        .fetch_one(pool)
        .await?;
        if any {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A round of IDS rows read and mapped, ready to apply.
struct Round {
    /// The position before the round.
    after: i64,
    /// The last IDS id read.
    last: i64,
    rows: usize,
    messages: Vec<Message>,
    skipped: u64,
    unmappable: u64,
}

/// Reads the next round after `after` (none when the range is done) and maps it on a blocking
/// thread, so that mapping (CPU work) overlaps with applying the previous round.
async fn read_round(
    pool: &PgPool,
    after: i64,
    to: i64,
    limit: i64,
    selection: Option<Arc<HashSet<i64>>>,
    site: SiteConfig,
) -> Result<Option<Round>, ReplayError> {
    if after >= to {
        return Ok(None);
    }
    let Window { rows, end: last } = fetch(pool, after, to, limit).await?;
    let round = tokio::task::spawn_blocking(move || {
        let mut round = Round {
            after,
            last,
            rows: rows.len(),
            messages: Vec::with_capacity(rows.len()),
            skipped: 0,
            unmappable: 0,
        };
        for row in &rows {
            if selection.as_ref().is_some_and(|s| !s.contains(&row.id)) {
                round.skipped += 1;
                continue;
            }
            match triage(row, &site) {
                Triage::Mapped(mapped) => round.messages.extend(mapped),
                Triage::Resend | Triage::Ignored(_) => round.skipped += 1,
                Triage::Unreadable(_) => round.unmappable += 1,
                Triage::Unmappable(error) => {
                    tracing::debug!(ids_id = row.id, error = %error, "IDS message not mappable; skipped");
                    round.unmappable += 1;
                }
            }
        }
        round
    })
    .await
    .map_err(|error| ReplayError::Mapping(error.to_string()))?;
    Ok(Some(round))
}

/// The IDS rows of one window of ids, and the window's last id.
pub(crate) struct Window {
    pub rows: Vec<Row>,
    /// The last id the window covers (rows may stop short of it: ids have gaps).
    pub end: i64,
}

/// The rows with ids in `after + 1 ..= min(to, after + width)`, in id order. A window of ids
/// rather than `ORDER BY id LIMIT`: while a replay loads, the IDS's statistics may be stale and
/// the planner then reads the whole rest of the range to sort it, round after round.
pub(crate) async fn fetch(
    pool: &PgPool,
    after: i64,
    to: i64,
    width: i64,
) -> Result<Window, sqlx::Error> {
    let end = to.min(after.saturating_add(width.max(1)));
    let rows = sqlx::query_as(
        "SELECT id, payload, duplicate_of, header_error FROM ids.message
         WHERE id > $1 AND id <= $2 ORDER BY id",
    )
    .bind(after)
    .bind(end)
    .fetch_all(pool)
    .await?;
    if rows.is_empty() && end < to {
        // A gap in the ids: the next window starts at the next id there is.
        let next: Option<i64> =
            sqlx::query_scalar("SELECT min(id) FROM ids.message WHERE id > $1 AND id <= $2")
                .bind(end)
                .bind(to)
                .fetch_one(pool)
                .await?;
        return Ok(Window {
            rows,
            end: next.map_or(to, |next| next - 1),
        });
    }
    Ok(Window { rows, end })
}

/// Makes a rebuilt schema the live `star` in one transaction: `star` is renamed to
/// `star_before_<time>` (kept, for comparison or to switch back) and `candidate` to `star`.
/// Analysts' queries in flight finish on the old tables; the next see the new ones. Only a
/// finished full replay can be promoted. Returns the old schema's new name.
pub async fn promote(pool: &PgPool, candidate: &StarSchema) -> Result<String, PromoteError> {
    let name = candidate.name();
    if name == "star" {
        return Err(PromoteError::Refused(
            "star is already the live schema".to_owned(),
        ));
    }
    let recorded: Option<(Option<String>, bool)> = match recorded(pool, name).await? {
        Some(_) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT mrn, finished_at IS NOT NULL FROM {name}.replay"
            )))
            .fetch_optional(pool)
            .await?
        }
        None => None,
    };
    match recorded {
        None => {
            return Err(PromoteError::Refused(format!(
                "{name} was not built by ward replay"
            )));
        }
        Some((Some(_), _)) => {
            return Err(PromoteError::Refused(format!(
                "{name} holds one patient's replay, not the whole IDS"
            )));
        }
        Some((None, false)) => {
            return Err(PromoteError::Refused(format!(
                "{name}'s replay has not finished; run ward replay again to finish it"
            )));
        }
        Some((None, true)) => {}
    }
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL lock_timeout = '10s'")
        .execute(&mut *tx)
        .await?;
    let retired: String = sqlx::query_scalar(
        "SELECT 'star_before_' || to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYYMMDD_HH24MISS')",
    )
    .fetch_one(&mut *tx)
    .await?;
    let live_exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'star')")
            .fetch_one(&mut *tx)
            .await?;
    if live_exists {
        move_privileges(&mut tx, name).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER SCHEMA star RENAME TO {retired}"
        )))
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER SCHEMA {name} RENAME TO star"
    )))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(promoted = name, retired = %retired, "Schema promoted to star");
    Ok(retired)
}

/// Who may read the warehouse follows the live name: every privilege granted on `star` (the
/// schema, its tables, views, sequences and functions, and its default privileges for new
/// objects) is granted on `candidate`, and every role but the owner loses its access to the
/// retiring schema, so the copy kept for comparison (PHI included) is its owner's alone.
async fn move_privileges(tx: &mut PgConnection, candidate: &str) -> Result<(), sqlx::Error> {
    let grants: Vec<String> = sqlx::query_scalar(PRIVILEGES_TO_CARRY)
        .bind(candidate)
        .fetch_all(&mut *tx)
        .await?;
    let revokes: Vec<String> = sqlx::query_scalar(PRIVILEGES_TO_REVOKE)
        .fetch_all(&mut *tx)
        .await?;
    for statement in grants.into_iter().chain(revokes) {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// GRANT statements giving `$1` (the candidate) what `star` grants to roles other than the
/// objects' owners; relations and functions by name, as the candidate was built by the same
/// migrations.
const PRIVILEGES_TO_CARRY: &str = "
    SELECT format('GRANT %s ON SCHEMA %I TO %s%s', a.privilege_type, $1,
                  CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                       ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                  CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
    FROM pg_namespace n, aclexplode(n.nspacl) a
    WHERE n.nspname = 'star' AND a.grantee <> n.nspowner
    UNION ALL
    SELECT format('GRANT %s ON %s %I.%I TO %s%s', a.privilege_type,
                  CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, $1, c.relname,
                  CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                       ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                  CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
    WHERE n.nspname = 'star' AND a.grantee <> c.relowner
      AND EXISTS (SELECT 1 FROM pg_class t JOIN pg_namespace tn ON tn.oid = t.relnamespace
                  WHERE tn.nspname = $1 AND t.relname = c.relname)
    UNION ALL
    SELECT format('GRANT %s ON FUNCTION %I.%I(%s) TO %s%s', a.privilege_type, $1, p.proname,
                  pg_get_function_identity_arguments(p.oid),
                  CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                       ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                  CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) a
    WHERE n.nspname = 'star' AND a.grantee <> p.proowner
      AND EXISTS (SELECT 1 FROM pg_proc t JOIN pg_namespace tn ON tn.oid = t.pronamespace
                  WHERE tn.nspname = $1 AND t.proname = p.proname)
    UNION ALL
    SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT %s ON %s TO %s%s',
                  pg_get_userbyid(d.defaclrole), $1, a.privilege_type,
                  CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES'
                                       WHEN 'f' THEN 'FUNCTIONS' ELSE 'TYPES' END,
                  CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                       ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                  CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
    FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace,
         aclexplode(d.defaclacl) a
    WHERE n.nspname = 'star' AND d.defaclobjtype IN ('r', 'S', 'f', 'T')";

/// REVOKE statements taking from every role but the owner its access to `star` (about to be
/// retired): the schema, its tables and sequences, its functions.
const PRIVILEGES_TO_REVOKE: &str = "
    WITH granted AS (
        SELECT a.grantee FROM pg_namespace n, aclexplode(n.nspacl) a
        WHERE n.nspname = 'star' AND a.grantee <> n.nspowner
        UNION
        SELECT a.grantee FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
                              aclexplode(c.relacl) a
        WHERE n.nspname = 'star' AND a.grantee <> c.relowner
        UNION
        SELECT a.grantee FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,
                              aclexplode(p.proacl) a
        WHERE n.nspname = 'star' AND a.grantee <> p.proowner),
    who AS (
        SELECT CASE WHEN grantee = 0 THEN 'PUBLIC'
                    ELSE quote_ident(pg_get_userbyid(grantee)) END AS who FROM granted)
    SELECT format('REVOKE ALL ON SCHEMA star FROM %s', who) FROM who
    UNION ALL
    SELECT format('REVOKE ALL ON ALL TABLES IN SCHEMA star FROM %s', who) FROM who
    UNION ALL
    SELECT format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA star FROM %s', who) FROM who
    UNION ALL
    SELECT format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA star FROM %s', who) FROM who";

/// Drops a schema `promote` retired (`star_before_…`), with everything in it: for sites whose
/// governance allows one copy of the data only. Refuses any other schema.
pub async fn drop_retired(pool: &PgPool, retired: &str) -> Result<(), PromoteError> {
    let plain = retired.len() <= 63
        && retired
            .strip_prefix("star_before_")
            .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '_'));
    if !plain {
        return Err(PromoteError::Refused(format!(
            "{retired} is not a schema promote retired"
        )));
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {retired} CASCADE"
    )))
    .execute(pool)
    .await?;
    tracing::info!(retired, "Retired schema dropped");
    Ok(())
}

/// Why a schema was not promoted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PromoteError {
    /// The schema is not a finished full replay.
    #[error("cannot promote: {0}")]
    Refused(String),
    /// The database failed; nothing changed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}
