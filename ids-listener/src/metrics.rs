//! The listener's counters, served by `telemetry` on the metrics port with the IDS answering a
//! query as its health check. Nothing here carries message content or patient identifiers.

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use sqlx::PgPool;
pub use telemetry::{Counter, Histogram};

use crate::ack::AckCode;

const ACK_CODES: [AckCode; 6] = [
    AckCode::AA,
    AckCode::AE,
    AckCode::AR,
    AckCode::CA,
    AckCode::CE,
    AckCode::CR,
];

/// Everything the listener counts.
#[derive(Debug)]
pub struct Metrics {
    /// Complete frames received (including oversized ones).
    pub frames_received: Counter,
    /// Payload bytes received in complete frames.
    pub bytes_received: Counter,
    /// Messages committed to the IDS.
    pub messages_stored: Counter,
    /// Stored messages that resend an earlier one.
    pub duplicates: Counter,
    /// Frames over the size limit (not stored).
    pub oversized_frames: Counter,
    /// Stored messages whose header could not be read.
    pub header_errors: Counter,
    /// Bytes discarded outside MLLP frames.
    pub junk_bytes: Counter,
    /// Messages deliberately not acknowledged (ACKs, enhanced-mode NE/ER/SU).
    pub acks_withheld: Counter,
    /// Failed commit attempts that were retried.
    pub store_retries: Counter,
    /// Messages given up on after the retry period (connection closed, sender resends).
    pub store_failures: Counter,
    /// Connections accepted.
    pub connections_total: Counter,
    /// Connections closed for a stalled partial frame or idleness.
    pub connection_timeouts: Counter,
    acks: [Counter; 6],
    open_connections: AtomicI64,
    commit_batch_size: Histogram,
    commit_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            frames_received: Counter::default(),
            bytes_received: Counter::default(),
            messages_stored: Counter::default(),
            duplicates: Counter::default(),
            oversized_frames: Counter::default(),
            header_errors: Counter::default(),
            junk_bytes: Counter::default(),
            acks_withheld: Counter::default(),
            store_retries: Counter::default(),
            store_failures: Counter::default(),
            connections_total: Counter::default(),
            connection_timeouts: Counter::default(),
            acks: Default::default(),
            open_connections: AtomicI64::new(0),
            commit_batch_size: Histogram::new(&[
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
            ]),
            commit_seconds: Histogram::new(&[
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            ]),
        }
    }
}

impl Metrics {
    /// Counts an ACK sent with `code`.
    pub fn ack_sent(&self, code: AckCode) {
        if let Some(i) = ACK_CODES.iter().position(|c| *c == code) {
            self.acks[i].inc();
        }
    }

    /// ACKs sent with `code` so far.
    pub fn acks(&self, code: AckCode) -> u64 {
        ACK_CODES
            .iter()
            .position(|c| *c == code)
            .map(|i| self.acks[i].get())
            .unwrap_or(0)
    }

    /// Records a committed batch.
    pub fn observe_commit(&self, batch: usize, took: Duration) {
        self.commit_batch_size.observe(batch as f64);
        self.commit_seconds.observe(took.as_secs_f64());
    }

    /// Commits so far.
    pub fn commits(&self) -> u64 {
        self.commit_batch_size.count()
    }

    /// Time spent writing and committing batches so far.
    pub fn commit_time(&self) -> Duration {
        Duration::from_secs_f64(self.commit_seconds.sum())
    }

    /// Marks a connection open until the guard is dropped.
    pub fn connection_opened(self: &Arc<Self>) -> ConnectionGuard {
        self.connections_total.inc();
        self.open_connections.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(Arc::clone(self))
    }

    /// Connections open now.
    pub fn open_connections(&self) -> i64 {
        self.open_connections.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let counters: [(&str, &str, &Counter); 12] = [
            (
                "frames_received_total",
                "Complete MLLP frames received.",
                &self.frames_received,
            ),
            (
                "bytes_received_total",
                "Payload bytes received in complete frames.",
                &self.bytes_received,
            ),
            (
                "messages_stored_total",
                "Messages committed to the IDS.",
                &self.messages_stored,
            ),
            (
                "duplicates_total",
                "Stored messages that resend an earlier one.",
                &self.duplicates,
            ),
            (
                "oversized_frames_total",
                "Frames over the size limit, refused and not stored.",
                &self.oversized_frames,
            ),
            (
                "header_errors_total",
                "Stored messages whose MSH could not be read.",
                &self.header_errors,
            ),
            (
                "junk_bytes_total",
                "Bytes discarded outside MLLP frames.",
                &self.junk_bytes,
            ),
            (
                "acks_withheld_total",
                "Messages not acknowledged by design (ACKs, NE/ER/SU).",
                &self.acks_withheld,
            ),
            (
                "store_retries_total",
                "Failed IDS commits that were retried.",
                &self.store_retries,
            ),
            (
                "store_failures_total",
                "Messages not stored after the retry period; sender must resend.",
                &self.store_failures,
            ),
            (
                "connections_total",
                "Connections accepted.",
                &self.connections_total,
            ),
            (
                "connection_timeouts_total",
                "Connections closed for a stalled frame or idleness.",
                &self.connection_timeouts,
            ),
        ];
        for (name, help, counter) in counters {
            let _ = writeln!(
                out,
                "# HELP ids_listener_{name} {help}\n# TYPE ids_listener_{name} counter\nids_listener_{name} {}",
                counter.get()
            );
        }
        let _ = writeln!(
            out,
            "# HELP ids_listener_acks_total ACKs sent, by MSA-1 code.\n# TYPE ids_listener_acks_total counter"
        );
        for (code, counter) in ACK_CODES.iter().zip(&self.acks) {
            let _ = writeln!(
                out,
                "ids_listener_acks_total{{code=\"{}\"}} {}",
                code.as_str(),
                counter.get()
            );
        }
        let _ = writeln!(
            out,
            "# HELP ids_listener_open_connections Connections open now.\n# TYPE ids_listener_open_connections gauge\nids_listener_open_connections {}",
            self.open_connections()
        );
        self.commit_batch_size.render(
            &mut out,
            "ids_listener_commit_batch_size",
            "Messages per IDS transaction.",
        );
        self.commit_seconds.render(
            &mut out,
            "ids_listener_commit_seconds",
            "Time to write and commit one batch.",
        );
        out
    }
}

/// Keeps a connection counted as open.
#[derive(Debug)]
pub struct ConnectionGuard(Arc<Metrics>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The listener's exposition: its counters, and the IDS answering as health.
pub struct ListenerExposition {
    /// What is counted.
    pub metrics: Arc<Metrics>,
    /// The IDS.
    pub pool: PgPool,
}

impl telemetry::Exposition for ListenerExposition {
    fn render(&self) -> String {
        self.metrics.render()
    }

    fn healthy(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            sqlx::query("SELECT 1 FROM ids.message LIMIT 1")
                .execute(&self.pool)
                .await
                .is_ok()
        })
    }
}
