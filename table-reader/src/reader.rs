//! The loop: for each query in turn, read the page after its position, map each row, publish
//! the page with confirms, then commit the messages, the unmappable rows and the new position
//! together. Queries take turns a page at a time, so one long history does not hold the others
//! back. A lost source or broker is waited out with back-off; a query the reader cannot run as
//! written (a column it does not return, a type it cannot read, SQL the source refuses) stops
//! the reader with an error naming the source and query.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use broker::{Origin, Outgoing, PublishError, Publisher};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sqlx::PgPool;
use telemetry::Counter;
use tokio_util::sync::CancellationToken;

use crate::cell::Position;
use crate::config::{QueryConfig, SourceConfig, Sources};
use crate::mapping::{Mapped, Plan};
use crate::progress::{self, Kept, ProgressError, Slot};
use crate::source::{self, PageRequest, Source, SourceError};

/// What the reader reads and how.
#[derive(Debug, Clone)]
pub struct Config {
    /// The sources file.
    pub sources: Sources,
    /// The zone of timestamps without one, for sources that do not name theirs.
    pub site_zone: Tz,
    /// Only rows whose order value is at or after this.
    pub from: Option<DateTime<Utc>>,
    /// Only rows whose order value is before this; the reader stops once every query is there.
    pub until: Option<DateTime<Utc>>,
    /// How long to wait for new rows once a query has caught up.
    pub poll_interval: Duration,
    /// Stop once every query has caught up (a one-off backfill); always so with `until`.
    pub once: bool,
}

/// What the reader works with.
pub struct Resources {
    /// Ward's database (schema `reader`).
    pub pool: PgPool,
    /// The backfill queue's publisher.
    pub publisher: Publisher,
}

/// Counts per query, for `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    queries: BTreeMap<String, QueryStats>,
}

/// One query's counts.
#[derive(Debug, Default)]
pub struct QueryStats {
    /// Rows read from the source.
    pub rows_read: Counter,
    /// Messages published and confirmed.
    pub published: Counter,
    /// Rows recorded in `reader.table_error`.
    pub errors: Counter,
    /// Seconds between now and the last row's order value, when it is a time (-1 if not).
    pub lag_seconds: AtomicI64,
}

impl Stats {
    /// Counters for every query of `sources`.
    pub fn new(sources: &Sources) -> Stats {
        let mut queries = BTreeMap::new();
        for source in &sources.sources {
            for query in &source.queries {
                let stats = QueryStats::default();
                stats.lag_seconds.store(-1, Ordering::Relaxed);
                queries.insert(format!("{}/{}", source.name, query.name), stats);
            }
        }
        Stats { queries }
    }

    /// One query's counts.
    pub fn query(&self, source: &str, query: &str) -> Option<&QueryStats> {
        self.queries.get(&format!("{source}/{query}"))
    }

    /// Prometheus text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        type Family = (&'static str, &'static str, fn(&QueryStats) -> i64);
        let families: [Family; 4] = [
            (
                "table_reader_rows_read_total",
                "Rows read from the source query.",
                |s| i64::try_from(s.rows_read.get()).unwrap_or(i64::MAX),
            ),
            (
                "table_reader_published_total",
                "Messages published and confirmed.",
                |s| i64::try_from(s.published.get()).unwrap_or(i64::MAX),
            ),
            (
                "table_reader_errors_total",
                "Rows recorded in reader.table_error.",
                |s| i64::try_from(s.errors.get()).unwrap_or(i64::MAX),
            ),
            (
                "table_reader_lag_seconds",
                "Now minus the last row's order time (-1 when the order is not a time).",
                |s| s.lag_seconds.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, value) in families {
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (key, stats) in &self.queries {
                let (source, query) = key.split_once('/').unwrap_or((key, ""));
                out.push_str(&format!(
                    "{name}{{source=\"{source}\",query=\"{query}\"}} {}\n",
                    value(stats)
                ));
            }
        }
        out
    }
}

/// What the table-reader serves on its metrics port.
pub struct Exposition {
    /// The counts.
    pub stats: Arc<Stats>,
    /// Ward's database, for the health check.
    pub pool: PgPool,
}

impl telemetry::Exposition for Exposition {
    fn render(&self) -> String {
        self.stats.render()
    }

    fn healthy(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            sqlx::query("SELECT 1 FROM reader.table_progress LIMIT 1")
                .execute(&self.pool)
                .await
                .is_ok()
        })
    }
}

/// Why the reader stopped other than by shutdown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableReaderError {
    /// A source's URL could not be found.
    #[error("{0}")]
    Url(String),
    /// A query cannot run as written.
    #[error("source {source_name:?} query {query:?}: {message}")]
    Query {
        /// The source.
        source_name: String,
        /// The query.
        query: String,
        /// What is wrong.
        message: String,
    },
    /// Ward's database failed where retrying makes no sense.
    #[error("Ward's database: {0}")]
    Progress(#[from] ProgressError),
}

struct Query<'a> {
    source: &'a SourceConfig,
    query: &'a QueryConfig,
    db: Arc<dyn Source>,
    zone: Tz,
    after: Option<Position>,
    done: bool,
}

impl Query<'_> {
    fn slot<'s>(&'s self, window: &'s str) -> Slot<'s> {
        Slot {
            source: &self.source.name,
            query: &self.query.name,
            window,
        }
    }

    fn request(&self, config: &Config) -> PageRequest<'_> {
        PageRequest {
            sql: &self.query.sql,
            order_by: &self.query.order_by,
            key: &self.query.key,
            after: self.after.as_ref(),
            from: config.from,
            until: config.until,
            limit: self.query.batch_size,
        }
    }

    fn fail(&self, message: impl Into<String>) -> TableReaderError {
        TableReaderError::Query {
            source_name: self.source.name.clone(),
            query: self.query.name.clone(),
            message: message.into(),
        }
    }
}

/// The key of a `--from`/`--until` window's own position (`""` for the continuous read).
pub fn window_name(from: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> String {
    match (from, until) {
        (None, None) => String::new(),
        (from, until) => format!(
            "{}..{}",
            from.map(|t| t.to_rfc3339()).unwrap_or_default(),
            until.map(|t| t.to_rfc3339()).unwrap_or_default()
        ),
    }
}

/// A source error that may pass (a lost connection) rather than one that will not.
fn transient(error: &SourceError) -> bool {
    matches!(
        error,
        SourceError::Database(
            sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Protocol(_)
                | sqlx::Error::Tls(_)
        )
    )
}

async fn connect_all(config: &Config) -> Result<Vec<Query<'_>>, TableReaderError> {
    let mut queries = Vec::new();
    for source in &config.sources.sources {
        let url = source.connection_url().map_err(TableReaderError::Url)?;
        let zone = source
            .time_zone
            .as_deref()
            .and_then(|z| z.parse().ok())
            .unwrap_or(config.site_zone);
        let db = source::connect(&url, zone)
            .await
            .map_err(|e| TableReaderError::Query {
                source_name: source.name.clone(),
                query: String::from("(connecting)"),
                message: e.to_string(),
            })?;
        for query in &source.queries {
            queries.push(Query {
                source,
                query,
                db: db.clone(),
                zone,
                after: None,
                done: false,
            });
        }
    }
    Ok(queries)
}

/// Reads every query until shutdown (or, with `once`/`until`, until each has caught up).
pub async fn run(
    config: Config,
    resources: Resources,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
) -> Result<(), TableReaderError> {
    let Resources {
        pool,
        mut publisher,
    } = resources;
    let window = window_name(config.from, config.until);
    let stop_when_caught_up = config.once || config.until.is_some();
    let mut queries = connect_all(&config).await?;
    for q in &mut queries {
        q.after = progress::load(&pool, q.slot(&window)).await?;
        if q.after.is_none() {
            warn_unorderable(q, &config).await;
        }
    }
    tracing::info!(queries = queries.len(), window = %window, "Table-reader started");
    let mut backoff = Duration::from_millis(200);
    loop {
        let mut any_full_page = false;
        for q in queries.iter_mut().filter(|q| !q.done) {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            match read_page(
                q,
                &config,
                &window,
                &pool,
                &mut publisher,
                &stats,
                &shutdown,
            )
            .await
            {
                Ok(Step::Full) => {
                    any_full_page = true;
                    backoff = Duration::from_millis(200);
                }
                Ok(Step::CaughtUp) => {
                    q.done = stop_when_caught_up;
                    backoff = Duration::from_millis(200);
                }
                Ok(Step::Shutdown) => return Ok(()),
                Err(PageError::Transient(e)) => {
                    tracing::warn!(source = %q.source.name, query = %q.query.name, error = %e,
                        retry_in_ms = backoff.as_millis() as u64, "Source unavailable; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(()),
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
                Err(PageError::Fatal(e)) => return Err(e),
            }
        }
        if queries.iter().all(|q| q.done) {
            tracing::info!("Every query has caught up; the table-reader stops");
            return Ok(());
        }
        if !any_full_page {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(config.poll_interval) => {}
            }
        }
    }
}

async fn warn_unorderable(q: &Query<'_>, config: &Config) {
    match q.db.count_unorderable(q.request(config)).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(source = %q.source.name, query = %q.query.name, rows = n,
            "Rows with a NULL order_by or key cannot be paged and are not read: coalesce them in the query"),
        Err(e) => tracing::warn!(source = %q.source.name, query = %q.query.name, error = %e,
            "Could not count rows with a NULL order_by or key"),
    }
}

enum Step {
    Full,
    CaughtUp,
    Shutdown,
}

enum PageError {
    Transient(SourceError),
    Fatal(TableReaderError),
}

#[allow(clippy::too_many_arguments)]
async fn read_page(
    q: &mut Query<'_>,
    config: &Config,
    window: &str,
    pool: &PgPool,
    publisher: &mut Publisher,
    stats: &Stats,
    shutdown: &CancellationToken,
) -> Result<Step, PageError> {
    let started = std::time::Instant::now();
    let page = match q.db.page(q.request(config)).await {
        Ok(page) => page,
        Err(e) if transient(&e) => return Err(PageError::Transient(e)),
        Err(e) => return Err(PageError::Fatal(q.fail(e.to_string()))),
    };
    let Some(last) = page.rows.last() else {
        return Ok(Step::CaughtUp);
    };
    let plan = Plan::new(&q.source.name, &q.source.source_system, q.query, &page)
        .map_err(|m| PageError::Fatal(q.fail(m)))?;
    let last = plan.position(last);
    let fetched = started.elapsed();
    let (mut outgoing, mut kept, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for row in &page.rows {
        match plan.map(row, q.zone) {
            Ok(Mapped {
                message,
                message_id,
            }) => {
                let body = message.to_json();
                outgoing.push(Outgoing {
                    body: body.clone(),
                    class: message.class_name(),
                    origin: Origin::Table(message_id.clone()),
                    partition: message.partition_key().routing_key().to_owned(),
                });
                kept.push(Kept {
                    message_id,
                    class: message.class_name(),
                    body,
                });
            }
            Err(reason) => errors.push((plan.message_id(row), reason)),
        }
    }
    let mapped = started.elapsed();
    match publisher.publish_all(&outgoing, shutdown).await {
        Ok(()) => {}
        Err(PublishError::Shutdown) => return Ok(Step::Shutdown),
    }
    let published = started.elapsed();
    progress::commit(pool, q.slot(window), &last, page.rows.len(), &kept, &errors)
        .await
        .map_err(|e| PageError::Fatal(e.into()))?;
    tracing::debug!(
        source = %q.source.name,
        query = %q.query.name,
        rows = page.rows.len(),
        fetch_ms = fetched.as_millis() as u64,
        map_ms = (mapped - fetched).as_millis() as u64,
        publish_ms = (published - mapped).as_millis() as u64,
        commit_ms = (started.elapsed() - published).as_millis() as u64,
        "Page read"
    );
    if let Some(s) = stats.query(&q.source.name, &q.query.name) {
        s.rows_read.inc_by(page.rows.len() as u64);
        s.published.inc_by(outgoing.len() as u64);
        s.errors.inc_by(errors.len() as u64);
        if let Some(at) = last.order.instant(q.zone) {
            s.lag_seconds
                .store((Utc::now() - at).num_seconds().max(0), Ordering::Relaxed);
        }
    }
    if !errors.is_empty() {
        tracing::warn!(source = %q.source.name, query = %q.query.name, rows = errors.len(),
            "Rows could not be mapped; recorded in reader.table_error");
    }
    let full = page.rows.len() >= q.query.batch_size;
    q.after = Some(last);
    Ok(if full { Step::Full } else { Step::CaughtUp })
}

/// The first `rows` rows of one query (after `--from`), mapped, without publishing or
/// recording anything: each a message, or the row's id and why it cannot be one.
pub async fn dry_run(
    config: &Config,
    source_name: &str,
    query_name: &str,
    rows: usize,
) -> Result<Vec<Result<Mapped, (String, String)>>, TableReaderError> {
    let queries = connect_all(config).await?;
    let q = queries
        .iter()
        .find(|q| q.source.name == source_name && q.query.name == query_name)
        .ok_or_else(|| TableReaderError::Query {
            source_name: source_name.to_owned(),
            query: query_name.to_owned(),
            message: "no such query in the sources file".into(),
        })?;
    let mut request = q.request(config);
    request.limit = rows;
    let page =
        q.db.page(request)
            .await
            .map_err(|e| q.fail(e.to_string()))?;
    if page.rows.is_empty() {
        return Ok(Vec::new());
    }
    let plan = Plan::new(&q.source.name, &q.source.source_system, q.query, &page)
        .map_err(|m| q.fail(m))?;
    Ok(page
        .rows
        .iter()
        .map(|row| plan.map(row, q.zone).map_err(|e| (plan.message_id(row), e)))
        .collect())
}
