//! The IDS writer: group-commits messages from every connection into `ids.message`.
//!
//! One writer task owns all inserts, on one connection of its own. Connections hand it a message and wait for the committed
//! row's id; the writer takes whatever has queued up since its last commit (up to a maximum) and
//! writes it in one transaction, so throughput does not hinge on one fsync per message while each
//! connection still gets its answers in its own order. Natural batching adds no latency when
//! traffic is light: a lone message is committed at once.
//!
//! Duplicates (same sending application and facility, control id and payload SHA-256 as an
//! earlier original) are detected in the same statement, against the store and within the batch,
//! and stored with `duplicate_of` set. Because a single task writes, two copies arriving together
//! cannot both be taken for originals.
//!
//! When PostgreSQL fails, the writer retries the same batch with capped exponential back-off for
//! a bounded time; only then does it report the batch as not stored, and the connections close
//! without an ACK so that senders resend. It never reports success for anything not committed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use hl7::{Header, HeaderError};
use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;

/// A received message on its way into the store.
#[derive(Debug)]
pub struct NewMessage {
    /// The exact bytes between the MLLP start and end blocks.
    pub payload: Bytes,
    /// `mllp` or `mllp+tls`.
    pub transport: &'static str,
    /// The sender's address.
    pub peer: String,
    /// The subject of the sender's client certificate, under mutual TLS.
    pub client_subject: Option<String>,
    /// The header, or why it could not be read.
    pub header: Result<Header, HeaderError>,
    /// MSH-7 as an instant, when it parses.
    pub message_datetime: Option<DateTime<Utc>>,
}

/// Where a message was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Its IDS id.
    pub id: i64,
    /// The original it duplicates, if it is a resend.
    pub duplicate_of: Option<i64>,
}

/// Why a message was not stored.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// PostgreSQL did not accept the batch within the retry period.
    #[error("the Immutable Data Store is unavailable: {0}")]
    Unavailable(String),
    /// The writer has stopped (shutdown).
    #[error("the IDS writer has stopped")]
    Closed,
}

/// Tuning of the writer.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Most messages per transaction.
    pub max_batch: usize,
    /// How long to keep retrying a failed batch before giving up on it.
    pub retry_for: Duration,
}

struct Request {
    message: NewMessage,
    reply: oneshot::Sender<Result<Stored, StoreError>>,
}

/// A connection's way to the writer. Cloneable; the writer stops when every handle is dropped
/// and the queue is drained.
#[derive(Clone)]
pub struct StoreHandle {
    tx: mpsc::Sender<Request>,
}

impl StoreHandle {
    /// Stores `message`, returning once it has committed (or definitely has not).
    pub async fn store(&self, message: NewMessage) -> Result<Stored, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request { message, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// Starts the writer task on `pool`.
pub fn spawn_writer(
    pool: PgPool,
    config: StoreConfig,
    metrics: Arc<Metrics>,
) -> (StoreHandle, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(config.max_batch.max(1) * 4);
    let task = tokio::spawn(writer(pool, config, metrics, rx));
    (StoreHandle { tx }, task)
}

async fn writer(
    pool: PgPool,
    config: StoreConfig,
    metrics: Arc<Metrics>,
    mut rx: mpsc::Receiver<Request>,
) {
    let max_batch = config.max_batch.max(1);
    let mut batch: Vec<Request> = Vec::with_capacity(max_batch);
    let mut connection = None;
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        let rows: Vec<Row<'_>> = batch.iter().map(|r| Row::new(&r.message)).collect();
        let result = write_with_retry(&pool, &mut connection, &rows, &config, &metrics).await;
        drop(rows);
        match result {
            Ok(stored) => {
                for (request, stored) in batch.drain(..).zip(stored) {
                    let _ = request.reply.send(Ok(stored));
                }
            }
            Err(error) => {
                for request in batch.drain(..) {
                    let _ = request.reply.send(Err(error.clone()));
                }
            }
        }
    }
    tracing::debug!("IDS writer stopped");
}

async fn write_with_retry(
    pool: &PgPool,
    connection: &mut Option<PoolConnection<Postgres>>,
    rows: &[Row<'_>],
    config: &StoreConfig,
    metrics: &Metrics,
) -> Result<Vec<Stored>, StoreError> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(20);
    loop {
        let attempt = Instant::now();
        match write_on(pool, connection, rows).await {
            Ok(stored) => {
                metrics.observe_commit(rows.len(), attempt.elapsed());
                return Ok(stored);
            }
            Err(error) if started.elapsed() + delay < config.retry_for => {
                // The connection may be broken: take a fresh one next time.
                *connection = None;
                metrics.store_retries.inc();
                tracing::warn!(
                    error = %error,
                    batch = rows.len(),
                    retry_in_ms = delay.as_millis() as u64,
                    "Failed to commit to the IDS; retrying"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(error) => {
                *connection = None;
                metrics.store_failures.inc_by(rows.len() as u64);
                tracing::error!(
                    error = %error,
                    batch = rows.len(),
                    "Gave up committing to the IDS; connections close without ACK so senders resend"
                );
                return Err(StoreError::Unavailable(error.to_string()));
            }
        }
    }
}

/// Writes on the writer's own connection, acquiring (and preparing) one when it has none.
async fn write_on(
    pool: &PgPool,
    connection: &mut Option<PoolConnection<Postgres>>,
    rows: &[Row<'_>],
) -> Result<Vec<Stored>, sqlx::Error> {
    let conn = match connection {
        Some(conn) => conn,
        None => {
            let mut fresh = pool.acquire().await?;
            // The insert's plan does not depend on its arrays' contents; planning it afresh for
            // every batch would cost more than executing it.
            sqlx::query("SET plan_cache_mode = force_generic_plan")
                .execute(&mut *fresh)
                .await?;
            connection.insert(fresh)
        }
    };
    write_batch(conn, rows).await
}

/// The columns of one row, borrowed from its request.
struct Row<'a> {
    message: &'a NewMessage,
    header: Option<&'a Header>,
    sha256: Vec<u8>,
}

impl<'a> Row<'a> {
    fn new(message: &'a NewMessage) -> Row<'a> {
        Row {
            message,
            header: message.header.as_ref().ok(),
            sha256: Sha256::digest(&message.payload).to_vec(),
        }
    }

    fn text(&self, field: impl Fn(&Header) -> &Option<String>) -> Option<String> {
        self.header.and_then(|h| field(h).clone())
    }
}

/// Writes a batch in one statement, which PostgreSQL runs (and commits) as one transaction: a
/// single round trip per batch. Ids are taken from the sequence inside that statement in arrival
/// order; a row resending a message is pointed at the earliest original, whether that is already
/// in the store or earlier in this batch.
async fn write_batch(
    conn: &mut PgConnection,
    rows: &[Row<'_>],
) -> Result<Vec<Stored>, sqlx::Error> {
    let col = |f: fn(&Header) -> &Option<String>| -> Vec<Option<String>> {
        rows.iter().map(|r| r.text(f)).collect()
    };
    let stored: Vec<(i64, Option<i64>)> = sqlx::query_as(
        "WITH input AS (
            SELECT * FROM unnest(
                $1::bytea[], $2::bytea[], $3::text[], $4::text[],
                $5::text[], $6::text[], $7::text[], $8::text[],
                $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
                $15::text[], $16::text[], $17::text[], $18::timestamptz[],
                $19::text[], $20::text[], $21::text[])
            WITH ORDINALITY AS t(payload, sha, transport, peer, app, fac, rapp, rfac,
                                 type, trigger, structure, control, processing, version,
                                 accept_ack, app_ack, dt_text, dt, charset, header_error,
                                 client_subject, ord)
         ), numbered AS (
            SELECT s.*, nextval('ids.message_id_seq'::regclass) AS id
            FROM (SELECT * FROM input ORDER BY ord) s
         ), classified AS (
            SELECT n.*, CASE WHEN n.control IS NULL THEN NULL ELSE coalesce(
                (SELECT m.id FROM ids.message m
                 WHERE m.control_id = n.control
                   AND m.sending_application IS NOT DISTINCT FROM n.app
                   AND m.sending_facility IS NOT DISTINCT FROM n.fac
                   AND m.payload_sha256 = n.sha
                   AND m.duplicate_of IS NULL
                 ORDER BY m.id LIMIT 1),
                nullif(first_value(n.id) OVER (
                    PARTITION BY n.control, n.app, n.fac, n.sha ORDER BY n.ord), n.id))
            END AS duplicate_of
            FROM numbered n
         ), inserted AS (
            INSERT INTO ids.message (
                id, payload, payload_sha256, transport, peer_address,
                sending_application, sending_facility, receiving_application, receiving_facility,
                message_type, trigger_event, message_structure, control_id, processing_id,
                version_id, accept_ack_type, application_ack_type, message_datetime_text,
                message_datetime, character_set, duplicate_of, header_error,
                client_certificate_subject)
            OVERRIDING SYSTEM VALUE
            SELECT id, payload, sha, transport, peer, app, fac, rapp, rfac, type, trigger,
                   structure, control, processing, version, accept_ack, app_ack, dt_text, dt,
                   charset, duplicate_of, header_error, client_subject
            FROM classified
            RETURNING id
         )
         SELECT c.id, c.duplicate_of FROM classified c JOIN inserted i USING (id) ORDER BY c.ord",
    )
    .bind(
        rows.iter()
            .map(|r| r.message.payload.as_ref())
            .collect::<Vec<&[u8]>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.sha256.as_slice())
            .collect::<Vec<&[u8]>>(),
    )
    .bind(rows.iter().map(|r| r.message.transport).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.message.peer.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(col(|h| &h.sending_application))
    .bind(col(|h| &h.sending_facility))
    .bind(col(|h| &h.receiving_application))
    .bind(col(|h| &h.receiving_facility))
    .bind(col(|h| &h.message_type))
    .bind(col(|h| &h.trigger_event))
    .bind(col(|h| &h.message_structure))
    .bind(col(|h| &h.control_id))
    .bind(col(|h| &h.processing_id))
    .bind(col(|h| &h.version_id))
    .bind(col(|h| &h.accept_ack_type))
    .bind(col(|h| &h.application_ack_type))
    .bind(col(|h| &h.message_datetime))
    .bind(
        rows.iter()
            .map(|r| r.message.message_datetime)
            .collect::<Vec<_>>(),
    )
    .bind(col(|h| &h.character_set))
    .bind(
        rows.iter()
            .map(|r| r.message.header.as_ref().err().map(ToString::to_string))
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.message.client_subject.as_deref())
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *conn)
    .await?;
    if stored.len() != rows.len() {
        return Err(sqlx::Error::Protocol(format!(
            "the IDS insert returned {} rows for {} messages",
            stored.len(),
            rows.len()
        )));
    }
    Ok(stored
        .into_iter()
        .map(|(id, duplicate_of)| Stored { id, duplicate_of })
        .collect())
}
