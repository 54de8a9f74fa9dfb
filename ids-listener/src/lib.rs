//! The ids-listener stage: the integration engine's only contact with Ward.
//!
//! It receives HL7v2 messages over MLLP (plain, and TLS on its own port), stores each one's exact
//! bytes with its header metadata in the Immutable Data Store, and acknowledges only after that
//! insert has committed. It reads nothing but the MSH header (with `hl7::read_header`) and knows
//! neither the interchange format nor the star schema.
//!
//! The parts, in the order a message meets them: [`codec`] (MLLP framing) → `connection` (one
//! sender, one message at a time) → [`store`] (group commit into `ids.message`, duplicate
//! detection, retry while PostgreSQL is away) → [`ack`] (which code, and the ACK's bytes).
//! [`metrics`] counts all of it and serves `/metrics` and `/health`. [`run`] wires them together
//! for `ward listen`. [`sender`] is the other end of MLLP, for benchmarks and the simulator.

pub mod ack;
pub mod codec;
mod connection;
pub mod metrics;
pub mod sender;
pub mod store;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use ack::AckPolicy;
pub use metrics::Metrics;
pub use store::StoreConfig;

use connection::{Origin, Shared};

/// How the listener behaves; `ward listen` fills it from flags.
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest payload accepted; a longer frame is answered AR/CR (code 104) and not stored.
    pub max_frame_bytes: usize,
    /// Connections served at once; more wait in the accept backlog.
    pub max_connections: usize,
    /// A connection with no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// A frame that has started but not finished within this long closes the connection.
    pub frame_timeout: Duration,
    /// Original or enhanced acknowledgement.
    pub ack_policy: AckPolicy,
    /// The site's time zone: MSH-7 without an offset is local time there; ACK times use it.
    pub time_zone: chrono_tz::Tz,
    /// Group commit and retry.
    pub store: StoreConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_bytes: 16 * 1024 * 1024,
            max_connections: 256,
            idle_timeout: Duration::from_secs(600),
            frame_timeout: Duration::from_secs(30),
            ack_policy: AckPolicy::AsRequested,
            time_zone: chrono_tz::Europe::London,
            store: StoreConfig {
                max_batch: 512,
                retry_for: Duration::from_secs(60),
            },
        }
    }
}

/// What the listener runs on, bound and connected by the caller.
pub struct Resources {
    /// The IDS database.
    pub pool: PgPool,
    /// The plain MLLP port, unless the site takes MLLP over TLS only.
    pub mllp: Option<TcpListener>,
    /// The MLLP-over-TLS port and its acceptor, when TLS is configured.
    pub tls: Option<(TcpListener, TlsAcceptor)>,
    /// The metrics and health port, when wanted.
    pub http: Option<TcpListener>,
    /// Where the listener counts; share it to read the counts.
    pub metrics: Arc<Metrics>,
}

/// Runs the listener until `shutdown`: then it stops accepting, stores and acknowledges the
/// frames already received, waits for every connection to close and for the last commit.
pub async fn run(config: Config, resources: Resources, shutdown: CancellationToken) {
    let Resources {
        pool,
        mllp,
        tls,
        http,
        metrics,
    } = resources;
    let (store, writer) =
        store::spawn_writer(pool.clone(), config.store.clone(), Arc::clone(&metrics));
    let connections = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let shared = Arc::new(Shared {
        config,
        store,
        metrics: Arc::clone(&metrics),
    });
    let tracker = TaskTracker::new();
    if let Some(http) = http {
        let exposition = Arc::new(metrics::ListenerExposition {
            metrics: Arc::clone(&metrics),
            pool,
        });
        tracker.spawn(telemetry::serve(http, exposition, shutdown.clone()));
    }
    if let Some(mllp) = mllp {
        if let Ok(addr) = mllp.local_addr() {
            tracing::info!(%addr, "Listening for MLLP");
        }
        tracker.spawn(accept_loop(
            mllp,
            None,
            Arc::clone(&shared),
            Arc::clone(&connections),
            tracker.clone(),
            shutdown.clone(),
        ));
    }
    if let Some((listener, acceptor)) = tls {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "Listening for MLLP over TLS");
        }
        tracker.spawn(accept_loop(
            listener,
            Some(acceptor),
            Arc::clone(&shared),
            connections,
            tracker.clone(),
            shutdown.clone(),
        ));
    }
    drop(shared);
    shutdown.cancelled().await;
    tracing::info!("Shutting down: finishing the messages already received");
    tracker.close();
    tracker.wait().await;
    let _ = writer.await;
    tracing::info!(stored = metrics.messages_stored.get(), "Listener stopped");
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    connections: Arc<Semaphore>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(10);
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => return,
            permit = Arc::clone(&connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff = Duration::from_millis(10);
                accepted
            }
            Err(error) => {
                // Usually out of file descriptors: wait rather than spin.
                tracing::warn!(error = %error, "Failed to accept a connection");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        tracker.spawn(async move {
            let _permit = permit;
            let peer = peer.to_string();
            tracing::debug!(peer = %peer, tls = tls.is_some(), "Connection accepted");
            match tls {
                None => {
                    let origin = Origin {
                        peer,
                        transport: "mllp",
                        client_subject: None,
                    };
                    connection::serve(stream, origin, shared, shutdown).await
                }
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                            .await;
                    match handshake {
                        Ok(Ok(stream)) => {
                            let origin = Origin {
                                client_subject: tls::client_subject(stream.get_ref().1),
                                peer,
                                transport: "mllp+tls",
                            };
                            connection::serve(stream, origin, shared, shutdown).await
                        }
                        Ok(Err(error)) => {
                            tracing::info!(peer = %peer, error = %error, "TLS handshake refused")
                        }
                        Err(_) => tracing::info!(peer = %peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
}
