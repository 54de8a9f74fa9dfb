//! One sender's connection: frames in, ACKs out, strictly one message at a time.
//!
//! Each frame is stored (and committed) before its ACK is written and before the next frame is
//! looked at, so a connection's ACKs, and its messages' IDS ids, follow the order it sent them.
//! A connection closes when the peer does, when it is idle too long, when a partial frame stalls
//! (slowloris), when the IDS stays unavailable (no ACK is ever sent for an unstored message), or
//! at shutdown, after the frames already received have been stored and acknowledged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use futures::{SinkExt, StreamExt};
use hl7::{Dtm, HeaderError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Decoder, Framed};
use tokio_util::sync::CancellationToken;

use crate::Config;
use crate::ack::{AckContext, ErrorCode, Outcome, ack_code, build_ack};
use crate::codec::{Inbound, MllpCodec};
use crate::metrics::Metrics;
use crate::store::{NewMessage, StoreError, StoreHandle};

/// What every connection shares.
pub(crate) struct Shared {
    pub config: Config,
    pub store: StoreHandle,
    pub metrics: Arc<Metrics>,
}

/// Why a connection ended, for the log line.
#[derive(Debug)]
enum CloseReason {
    ByPeer,
    Idle,
    StalledFrame,
    Shutdown,
    StoreUnavailable,
    Io(std::io::Error),
}

/// Where a connection comes from, stored with each of its messages.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    /// The sender's address.
    pub peer: String,
    /// `mllp` or `mllp+tls`.
    pub transport: &'static str,
    /// The subject of the client certificate the sender presented (mutual TLS).
    pub client_subject: Option<String>,
}

/// Serves one connection until it closes.
pub(crate) async fn serve<S>(
    stream: S,
    origin: Origin,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _open = shared.metrics.connection_opened();
    let mut framed = Framed::new(stream, MllpCodec::new(shared.config.max_frame_bytes));
    let closed = run(&mut framed, &origin, &shared, &shutdown).await;
    let peer = &origin.peer;
    if matches!(closed, CloseReason::Shutdown) {
        linger(framed.get_mut()).await;
    }
    let junk = framed.codec().junk_bytes();
    shared.metrics.junk_bytes.inc_by(junk);
    match &closed {
        CloseReason::Idle | CloseReason::StalledFrame => {
            shared.metrics.connection_timeouts.inc();
            tracing::info!(peer = %peer, reason = ?closed, "Connection closed");
        }
        CloseReason::Io(error) => tracing::info!(peer = %peer, error = %error, "Connection failed"),
        CloseReason::StoreUnavailable => {
            tracing::warn!(peer = %peer, "Connection closed without ACK: the IDS is unavailable")
        }
        _ => tracing::debug!(peer = %peer, reason = ?closed, "Connection closed"),
    }
}

async fn run<S>(
    framed: &mut Framed<S, MllpCodec>,
    origin: &Origin,
    shared: &Shared,
    shutdown: &CancellationToken,
) -> CloseReason
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = &shared.config;
    // Wake often enough to notice a stalled frame within a fraction of its timeout.
    let tick = (config.frame_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut idle_since = Instant::now();
    let mut partial_since: Option<Instant> = None;
    loop {
        let next = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return drain_on_shutdown(framed, origin, shared).await,
            next = tokio::time::timeout(tick, framed.next()) => next,
        };
        let inbound = match next {
            Err(_tick) => {
                if framed.read_buffer().is_empty() {
                    partial_since = None;
                    if idle_since.elapsed() >= config.idle_timeout {
                        return CloseReason::Idle;
                    }
                } else if partial_since.get_or_insert_with(Instant::now).elapsed()
                    >= config.frame_timeout
                {
                    return CloseReason::StalledFrame;
                }
                continue;
            }
            Ok(None) => return CloseReason::ByPeer,
            Ok(Some(Err(error))) => return CloseReason::Io(error),
            Ok(Some(Ok(inbound))) => inbound,
        };
        idle_since = Instant::now();
        partial_since = None;
        if let Err(closed) = handle(framed, inbound, origin, shared).await {
            return closed;
        }
    }
}

/// Closes gently: sends FIN, then reads and discards what the peer still sends for a moment.
/// Closing a socket with unread input makes the kernel send a reset, which can destroy ACKs the
/// peer has not read yet; this gives them time to arrive.
async fn linger<S>(stream: &mut S)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// Stores and acknowledges the complete frames already buffered, then closes.
async fn drain_on_shutdown<S>(
    framed: &mut Framed<S, MllpCodec>,
    origin: &Origin,
    shared: &Shared,
) -> CloseReason
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let parts = framed.read_buffer_mut();
        let mut buffer = std::mem::take(parts);
        let decoded = framed.codec_mut().decode(&mut buffer);
        *framed.read_buffer_mut() = buffer;
        match decoded {
            Ok(Some(inbound)) => {
                if let Err(closed) = handle(framed, inbound, origin, shared).await {
                    return closed;
                }
            }
            Ok(None) | Err(_) => return CloseReason::Shutdown,
        }
    }
}

/// Stores one frame and writes its ACK.
async fn handle<S>(
    framed: &mut Framed<S, MllpCodec>,
    inbound: Inbound,
    origin: &Origin,
    shared: &Shared,
) -> Result<(), CloseReason>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = &shared.config;
    let metrics = &shared.metrics;
    let peer = &origin.peer;
    metrics.frames_received.inc();
    let payload = match inbound {
        Inbound::Frame(payload) => payload,
        Inbound::Oversized => {
            metrics.oversized_frames.inc();
            tracing::warn!(peer = %peer, max_bytes = config.max_frame_bytes, "Refused an oversized frame");
            return send_ack(
                framed,
                None,
                Outcome::RefusedUnstored(ErrorCode::ValueTooLong),
                None,
                shared,
            )
            .await;
        }
    };
    metrics.bytes_received.inc_by(payload.len() as u64);
    let header = hl7::read_header(&payload);
    let message_datetime = header
        .as_ref()
        .ok()
        .and_then(|h| h.message_datetime.as_deref())
        .and_then(|t| Dtm::parse(t).ok())
        .map(|t| t.to_instant(config.time_zone));
    let outcome = match &header {
        Ok(_) => Outcome::Accepted,
        Err(HeaderError::Empty | HeaderError::NoMsh) => {
            Outcome::Rejected(ErrorCode::SegmentSequence)
        }
        Err(_) => Outcome::Rejected(ErrorCode::DataType),
    };
    let message = NewMessage {
        payload,
        transport: origin.transport,
        peer: peer.to_owned(),
        client_subject: origin.client_subject.clone(),
        header,
        message_datetime,
    };
    let control_id = message
        .header
        .as_ref()
        .ok()
        .and_then(|h| h.control_id.clone());
    let header_error = message.header.as_ref().err().cloned();
    let header = message.header.clone().ok();
    let stored = match shared.store.store(message).await {
        Ok(stored) => stored,
        Err(StoreError::Unavailable(_) | StoreError::Closed) => {
            return Err(CloseReason::StoreUnavailable);
        }
    };
    metrics.messages_stored.inc();
    if stored.duplicate_of.is_some() {
        metrics.duplicates.inc();
    }
    match &header_error {
        Some(error) => {
            metrics.header_errors.inc();
            tracing::warn!(ids_id = stored.id, peer = %peer, error = %error, "Stored a message whose header cannot be read");
        }
        None => tracing::debug!(
            ids_id = stored.id,
            control_id = control_id.as_deref().unwrap_or(""),
            duplicate_of = stored.duplicate_of,
            "Stored message"
        ),
    }
    send_ack(framed, header.as_ref(), outcome, Some(stored.id), shared).await
}

async fn send_ack<S>(
    framed: &mut Framed<S, MllpCodec>,
    header: Option<&hl7::Header>,
    outcome: Outcome,
    ids_id: Option<i64>,
    shared: &Shared,
) -> Result<(), CloseReason>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(code) = ack_code(header, outcome, shared.config.ack_policy) else {
        shared.metrics.acks_withheld.inc();
        return Ok(());
    };
    let error = match outcome {
        Outcome::Accepted => None,
        Outcome::Rejected(e) | Outcome::RefusedUnstored(e) => Some(e),
    };
    let now = Utc::now();
    let ack_control_id = match ids_id {
        Some(id) => format!("WARD{id}"),
        None => format!("WARDX{}", now.timestamp_micros()),
    };
    let ack: Bytes = build_ack(&AckContext {
        header,
        code,
        error,
        ack_control_id: &ack_control_id,
        now,
        zone: shared.config.time_zone,
    });
    framed.send(ack).await.map_err(CloseReason::Io)?;
    shared.metrics.ack_sent(code);
    Ok(())
}
