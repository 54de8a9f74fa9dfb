//! The reader loop: IDS rows in id order → mapping → confirmed publishes → durable position.
//!
//! Each round reads a batch of rows after the position, takes the contiguous prefix the
//! [`Watermark`] allows, maps each row (duplicates flagged by the listener are skipped, rows
//! whose header could not be read and rows that fail to map are recorded in `reader.error`),
//! publishes everything derived from the batch, and only after the broker confirmed all of it
//! commits the error records and the new position in one transaction. A crash anywhere in
//! between republishes at most that batch. When there is nothing to read the reader waits for
//! the listener's NOTIFY, with a polling fallback since notifications can be lost.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use crate::mapping::{Mapped, SiteConfig, map_message};
use crate::watermark::{Snapshot, Watermark};
use broker::{Origin, Outgoing, PublishError, Publisher};

/// The version recorded with every error, so rows that failed in an old version can be found.
pub const READER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How the reader behaves; `ward read-ids` fills it from flags.
#[derive(Debug, Clone)]
pub struct Config {
    /// The reader's name in `reader.progress` and `reader.error`.
    pub name: String,
    /// Rows read per round.
    pub batch_size: i64,
    /// Longest wait for new rows when no NOTIFY arrives.
    pub poll_interval: Duration,
    /// How long a gap in the ids must persist before it is taken as permanent.
    pub gap_grace: Duration,
    /// Site conventions for the mapping.
    pub site: SiteConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            name: "hl7".to_owned(),
            batch_size: 500,
            poll_interval: Duration::from_secs(5),
            gap_grace: Duration::from_secs(2),
            site: SiteConfig::default(),
        }
    }
}

/// What the reader runs on.
pub struct Resources {
    /// The database holding the IDS and the reader's state.
    pub pool: PgPool,
    /// Where interchange messages go.
    pub publisher: Publisher,
    /// Where the reader counts.
    pub stats: Arc<Stats>,
}

/// What the reader has done, for metrics and tests. Never holds message content.
#[derive(Debug, Default)]
pub struct Stats {
    /// IDS rows handled.
    pub rows: AtomicU64,
    /// Interchange messages confirmed by the broker.
    pub published: AtomicU64,
    /// Rows skipped as duplicates of earlier messages.
    pub duplicates: AtomicU64,
    /// Rows recorded in `reader.error`.
    pub errors: AtomicU64,
    /// Ids declared permanently absent (rolled-back inserts).
    pub skipped_ids: AtomicU64,
    /// The last handled IDS id.
    pub position: AtomicI64,
    ignored: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    /// Rows ignored by design, per `TYPE^TRIGGER`.
    pub fn ignored(&self) -> BTreeMap<String, u64> {
        self.ignored.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The Prometheus text exposition of the counts.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(2048);
        let counters = [
            ("message_reader_rows_total", "IDS rows handled.", &self.rows),
            (
                "message_reader_published_total",
                "Interchange messages confirmed by RabbitMQ.",
                &self.published,
            ),
            (
                "message_reader_duplicates_total",
                "IDS rows skipped as resends of earlier messages.",
                &self.duplicates,
            ),
            (
                "message_reader_errors_total",
                "IDS rows recorded in reader.error.",
                &self.errors,
            ),
            (
                "message_reader_skipped_ids_total",
                "IDS ids passed as never committed.",
                &self.skipped_ids,
            ),
        ];
        for (name, help, counter) in counters {
            telemetry::render_counter(&mut out, name, help, counter.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP message_reader_ignored_total IDS rows ignored by design, by message type.\n# TYPE message_reader_ignored_total counter"
        );
        for (kind, count) in self.ignored() {
            let kind = kind.replace(['\\', '"', '\n'], "_");
            let _ = writeln!(
                out,
                "message_reader_ignored_total{{kind=\"{kind}\"}} {count}"
            );
        }
        telemetry::render_gauge(
            &mut out,
            "message_reader_position",
            "The last IDS id handled.",
            self.position.load(Ordering::Relaxed),
        );
        out
    }

    fn count_ignored(&self, kind: &str) {
        if let Ok(mut map) = self.ignored.lock() {
            *map.entry(kind.to_owned()).or_default() += 1;
        }
    }
}

/// The reader's exposition on its metrics port: its counts, and the IDS answering as health.
pub struct ReaderExposition {
    /// What is counted.
    pub stats: Arc<Stats>,
    /// The IDS.
    pub pool: PgPool,
}

impl telemetry::Exposition for ReaderExposition {
    fn render(&self) -> String {
        self.stats.render()
    }

    fn healthy(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            sqlx::query("SELECT 1 FROM reader.progress LIMIT 1")
                .execute(&self.pool)
                .await
                .is_ok()
        })
    }
}

/// Why the reader stopped other than by shutdown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReaderError {
    /// The database failed where retrying makes no sense (e.g. at start).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

#[derive(sqlx::FromRow)]
pub struct Row {
    /// The IDS id.
    pub id: i64,
    /// The message as received.
    pub payload: Vec<u8>,
    /// The earlier copy, when this is a resend.
    pub duplicate_of: Option<i64>,
    /// Why the listener could not read the header, if it could not.
    pub header_error: Option<String>,
}

/// What an IDS row is to a reader. The live reader and replay sort rows the same way, so that
/// replay gives what the live pipeline gave.
pub enum Triage {
    /// A resend of an earlier message: skipped, the original counts.
    Resend,
    /// The listener could not read its header: recorded, not mapped.
    Unreadable(String),
    /// Mapped to interchange messages (none, one or several).
    Mapped(Vec<interchange::Message>),
    /// Not for the warehouse, by design.
    Ignored(crate::Ignored),
    /// Could not be mapped.
    Unmappable(crate::MapError),
}

/// Sorts one IDS row ([`Triage`]).
pub fn triage(row: &Row, site: &SiteConfig) -> Triage {
    if row.duplicate_of.is_some() {
        return Triage::Resend;
    }
    if let Some(error) = &row.header_error {
        return Triage::Unreadable(error.clone());
    }
    match map_message(&row.payload, &row.id.to_string(), site) {
        Ok(Mapped::Messages(messages)) => Triage::Mapped(messages),
        Ok(Mapped::Ignored(ignored)) => Triage::Ignored(ignored),
        Err(error) => Triage::Unmappable(error),
    }
}

/// What one batch turned into.
struct Batch {
    outgoing: Vec<Outgoing>,
    errors: Vec<(i64, String)>,
    /// Rows left out by design: (IDS id, kind, reason).
    ignored: Vec<(i64, String, String)>,
}

/// Maps rows, counting what is skipped and ignored.
fn map_rows(rows: &[Row], config: &Config, stats: &Stats) -> Batch {
    let mut batch = Batch {
        outgoing: Vec::new(),
        errors: Vec::new(),
        ignored: Vec::new(),
    };
    for row in rows {
        stats.rows.fetch_add(1, Ordering::Relaxed);
        match triage(row, &config.site) {
            Triage::Resend => {
                stats.duplicates.fetch_add(1, Ordering::Relaxed);
            }
            Triage::Unreadable(error) => {
                batch
                    .errors
                    .push((row.id, format!("unreadable header: {error}")));
            }
            Triage::Mapped(messages) => {
                for message in messages {
                    batch.outgoing.push(Outgoing {
                        body: message.to_json(),
                        class: message.class_name(),
                        origin: Origin::Ids(row.id),
                        partition: message.partition_key().routing_key().to_owned(),
                    });
                }
            }
            Triage::Ignored(ignored) => {
                tracing::debug!(ids_id = row.id, kind = %ignored.kind, reason = %ignored.reason, "Ignored by design");
                stats.count_ignored(&ignored.kind);
                batch.ignored.push((row.id, ignored.kind, ignored.reason));
            }
            Triage::Unmappable(error) => {
                tracing::warn!(ids_id = row.id, error = %error, "Could not map an IDS message; recorded in reader.error");
                batch.errors.push((row.id, error.to_string()));
            }
        }
    }
    batch
}

async fn load_position(pool: &PgPool, name: &str) -> Result<i64, sqlx::Error> {
    let position: Option<i64> =
        sqlx::query_scalar("SELECT last_ids_id FROM reader.progress WHERE reader = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?;
    Ok(position.unwrap_or(0))
}

async fn fetch(
    pool: &PgPool,
    after: i64,
    limit: i64,
) -> Result<(Vec<Row>, Option<Snapshot>), sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Fetched {
        #[sqlx(flatten)]
        row: Row,
        snapshot: String,
    }
    let fetched: Vec<Fetched> = sqlx::query_as(
        "SELECT id, payload, duplicate_of, header_error, pg_current_snapshot()::text AS snapshot
         FROM ids.message WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let snapshot = fetched.first().and_then(|f| Snapshot::parse(&f.snapshot));
    let rows = fetched.into_iter().map(|f| f.row).collect();
    Ok((rows, snapshot))
}

/// Records errors and ignored rows and, when `position` is given, moves the reader's position,
/// in one commit.
async fn commit(
    pool: &PgPool,
    name: &str,
    batch: &Batch,
    position: Option<i64>,
) -> Result<(), sqlx::Error> {
    let errors = &batch.errors;
    let mut tx = pool.begin().await?;
    if !batch.ignored.is_empty() {
        let column = |f: fn(&(i64, String, String)) -> &str| -> Vec<&str> {
            batch.ignored.iter().map(f).collect()
        };
        sqlx::query(
            "INSERT INTO reader.ignored (ids_id, reader, reader_version, kind, reason)
             SELECT id, $4, $5, kind, reason
             FROM unnest($1::bigint[], $2::text[], $3::text[]) AS i(id, kind, reason)
             ON CONFLICT (ids_id, reader, reader_version) DO NOTHING",
        )
        .bind(batch.ignored.iter().map(|i| i.0).collect::<Vec<_>>())
        .bind(column(|i| &i.1))
        .bind(column(|i| &i.2))
        .bind(name)
        .bind(READER_VERSION)
        .execute(&mut *tx)
        .await?;
    }
    if !errors.is_empty() {
        sqlx::query(
            "INSERT INTO reader.error (ids_id, reader, reader_version, error)
             SELECT id, $3, $4, error FROM unnest($1::bigint[], $2::text[]) AS e(id, error)",
        )
        .bind(errors.iter().map(|e| e.0).collect::<Vec<_>>())
        .bind(errors.iter().map(|e| e.1.as_str()).collect::<Vec<_>>())
        .bind(name)
        .bind(READER_VERSION)
        .execute(&mut *tx)
        .await?;
    }
    if let Some(position) = position {
        sqlx::query(
            "INSERT INTO reader.progress (reader, last_ids_id) VALUES ($1, $2)
             ON CONFLICT (reader) DO UPDATE SET last_ids_id = excluded.last_ids_id, updated_at = now()
             WHERE reader.progress.last_ids_id < excluded.last_ids_id",
        )
        .bind(name)
        .bind(position)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Retries a database step with capped back-off until it succeeds or shutdown.
async fn with_retry<T, F, Fut>(what: &str, shutdown: &CancellationToken, mut step: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut delay = Duration::from_millis(100);
    loop {
        match step().await {
            Ok(value) => return Some(value),
            Err(error) => {
                tracing::warn!(error = %error, step = what, retry_in_ms = delay.as_millis() as u64, "Database step failed; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Follows the IDS until `shutdown`, publishing what each row maps to.
pub async fn run(
    config: Config,
    resources: Resources,
    shutdown: CancellationToken,
) -> Result<(), ReaderError> {
    let Resources {
        pool,
        mut publisher,
        stats,
    } = resources;
    let Some(position) = with_retry("load position", &shutdown, || {
        load_position(&pool, &config.name)
    })
    .await
    else {
        return Ok(());
    };
    let mut watermark = Watermark::new(position, config.gap_grace);
    stats.position.store(position, Ordering::Relaxed);
    tracing::info!(reader = %config.name, position, "Reading the IDS");
    let mut listener = listen(&pool).await;
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        let Some((rows, snapshot)) = with_retry("read the IDS", &shutdown, || {
            fetch(&pool, watermark.position(), config.batch_size)
        })
        .await
        else {
            break;
        };
        let accepted = match snapshot {
            Some(snapshot) => watermark.accept(
                &rows.iter().map(|r| r.id).collect::<Vec<_>>(),
                snapshot,
                Instant::now(),
            ),
            None => crate::watermark::Accepted {
                rows: 0,
                skipped_ids: 0,
                waiting_on_gap: false,
            },
        };
        stats
            .skipped_ids
            .fetch_add(accepted.skipped_ids.max(0) as u64, Ordering::Relaxed);
        if accepted.rows == 0 {
            let wait = if accepted.waiting_on_gap {
                Duration::from_millis(20)
            } else {
                config.poll_interval
            };
            wait_for_rows(&mut listener, &pool, wait, &shutdown).await;
            continue;
        }
        let rows = &rows[..accepted.rows];
        let last = rows.last().map_or(watermark.position(), |r| r.id);
        let batch = map_rows(rows, &config, &stats);
        match publisher.publish_all(&batch.outgoing, &shutdown).await {
            Ok(()) => {}
            Err(PublishError::Shutdown) => break,
        }
        stats
            .published
            .fetch_add(batch.outgoing.len() as u64, Ordering::Relaxed);
        if with_retry("commit the position", &shutdown, || {
            commit(&pool, &config.name, &batch, Some(last))
        })
        .await
        .is_none()
        {
            break;
        }
        stats
            .errors
            .fetch_add(batch.errors.len() as u64, Ordering::Relaxed);
        watermark.advance(last);
        stats.position.store(last, Ordering::Relaxed);
        tracing::debug!(
            position = last,
            published = batch.outgoing.len(),
            "Batch confirmed"
        );
    }
    tracing::info!(reader = %config.name, position = watermark.position(), "Reader stopped");
    Ok(())
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut listener = PgListener::connect_with(pool).await.ok()?;
    listener.listen("ward_ids_new").await.ok()?;
    Some(listener)
}

/// Waits for a NOTIFY, the poll interval, or shutdown, whichever comes first.
async fn wait_for_rows(
    listener: &mut Option<PgListener>,
    pool: &PgPool,
    wait: Duration,
    shutdown: &CancellationToken,
) {
    match listener {
        Some(l) => {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(wait) => {}
                notified = l.recv() => {
                    if notified.is_err() {
                        // The listener reconnects on its next recv; meanwhile poll.
                        *listener = None;
                    }
                }
            }
        }
        None => {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            *listener = listen(pool).await;
        }
    }
}

/// Re-reads chosen IDS rows (e.g. after a mapping fix) and publishes what they map to, without
/// moving the position. Errors are recorded again.
pub async fn reprocess(
    config: &Config,
    resources: Resources,
    ids: &[i64],
    shutdown: &CancellationToken,
) -> Result<(), ReaderError> {
    let Resources {
        pool,
        mut publisher,
        stats,
    } = resources;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, payload, duplicate_of, header_error FROM ids.message WHERE id = ANY($1) ORDER BY id",
    )
    .bind(ids)
    .fetch_all(&pool)
    .await?;
    let batch = map_rows(&rows, config, &stats);
    if publisher
        .publish_all(&batch.outgoing, shutdown)
        .await
        .is_err()
    {
        return Ok(());
    }
    stats
        .published
        .fetch_add(batch.outgoing.len() as u64, Ordering::Relaxed);
    commit(&pool, &config.name, &batch, None).await?;
    stats
        .errors
        .fetch_add(batch.errors.len() as u64, Ordering::Relaxed);
    Ok(())
}
