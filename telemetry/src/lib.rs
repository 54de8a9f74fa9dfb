//! Counters, histograms and the HTTP endpoint every Ward service serves its metrics from.
//!
//! Metrics are plain atomics rendered in the Prometheus text format; [`serve`] answers
//! `GET /metrics` (the service's exposition) and `GET /health` (200 when the service's own check
//! passes, 503 otherwise) and nothing else. Services own what they count; this crate only
//! carries numbers, never message content or patient identifiers.

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds `n`.
    pub fn inc_by(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A histogram with fixed upper bounds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    /// Sum in millionths, to keep it an integer atomic.
    sum_micros: AtomicU64,
}

impl Histogram {
    /// A histogram with these bucket upper bounds.
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, value: f64) {
        for (bound, bucket) in self.bounds.iter().zip(&self.buckets) {
            if value <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((value * 1e6) as u64, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The smallest bucket bound at or below which at least `q` of the observations fall
    /// (`None` when they fall beyond the last bound, or there are none).
    pub fn quantile_bound(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let wanted = (count as f64 * q).ceil() as u64;
        self.bounds
            .iter()
            .zip(&self.buckets)
            .find(|(_, bucket)| bucket.load(Ordering::Relaxed) >= wanted)
            .map(|(bound, _)| *bound)
    }

    /// Sum of the observations so far.
    pub fn sum(&self) -> f64 {
        self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    }

    /// Appends the Prometheus text exposition of this histogram.
    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, bucket) in self.bounds.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}\n{name}_count {count}", self.sum());
    }
}

/// What a service exposes on its metrics port.
pub trait Exposition: Send + Sync + 'static {
    /// The Prometheus text exposition of every metric.
    fn render(&self) -> String;

    /// Whether the service can do its job (e.g. its database answers).
    fn healthy(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>>;
}

/// Serves `/metrics` and `/health` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    exposition: Arc<dyn Exposition>,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let exposition = Arc::clone(&exposition);
        tokio::spawn(async move {
            let _ =
                tokio::time::timeout(Duration::from_secs(10), answer(stream, exposition.as_ref()))
                    .await;
        });
    }
}

async fn answer(
    mut stream: tokio::net::TcpStream,
    exposition: &dyn Exposition,
) -> std::io::Result<()> {
    let mut request = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&chunk[..n]);
    }
    let line = request.split(|b| *b == b'\r').next().unwrap_or_default();
    let (status, content_type, body) = match line {
        l if l.starts_with(b"GET /metrics ") => {
            ("200 OK", "text/plain; version=0.0.4", exposition.render())
        }
        l if l.starts_with(b"GET /health ") => {
            let healthy = tokio::time::timeout(Duration::from_secs(2), exposition.healthy())
                .await
                .unwrap_or(false);
            if healthy {
                ("200 OK", "text/plain", "ok\n".to_owned())
            } else {
                (
                    "503 Service Unavailable",
                    "text/plain",
                    "unhealthy\n".to_owned(),
                )
            }
        }
        _ => ("404 Not Found", "text/plain", "not found\n".to_owned()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Appends one counter in the Prometheus text format.
pub fn render_counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

/// Appends one gauge in the Prometheus text format.
pub fn render_gauge(out: &mut String, name: &str, help: &str, value: i64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_bucket_bounds() {
        let h = Histogram::new(&[0.001, 0.01, 0.1]);
        assert_eq!(h.quantile_bound(0.5), None);
        for _ in 0..98 {
            h.observe(0.0005);
        }
        h.observe(0.05);
        h.observe(5.0);
        assert_eq!(h.quantile_bound(0.5), Some(0.001));
        assert_eq!(h.quantile_bound(0.99), Some(0.1));
        assert_eq!(h.quantile_bound(1.0), None, "beyond the last bound");
        assert_eq!(h.count(), 100);
    }
}
