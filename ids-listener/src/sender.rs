//! The sending side of MLLP: one connection that sends a message and waits for its ACK.
//!
//! Used by `ward bench ingest` (and the simulator to come) to drive a listener the way an
//! integration engine does: one message in flight per connection, ACK awaited with a timeout.

use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio_util::codec::Framed;

use crate::codec::{Inbound, MllpCodec};

/// Why a send did not get an ACK.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The connection failed.
    #[error("MLLP connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed the connection before acknowledging.
    #[error("the peer closed the connection without an ACK")]
    Closed,
    /// No ACK within the timeout.
    #[error("no ACK within {0:?}")]
    Timeout(Duration),
    /// The peer sent a frame over the size limit.
    #[error("the peer's ACK exceeded the frame size limit")]
    Oversized,
}

/// An MLLP client connection.
pub struct Sender<S> {
    framed: Framed<S, MllpCodec>,
    timeout: Duration,
}

impl Sender<TcpStream> {
    /// Connects to a listener; ACKs are awaited for at most `timeout`.
    pub async fn connect(addr: impl ToSocketAddrs, timeout: Duration) -> Result<Self, SendError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Sender::new(stream, timeout))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sender<S> {
    /// Wraps an established stream.
    pub fn new(stream: S, timeout: Duration) -> Self {
        Sender {
            framed: Framed::new(stream, MllpCodec::new(1 << 20)),
            timeout,
        }
    }

    /// Sends one message and returns the ACK's payload.
    pub async fn send(&mut self, payload: Bytes) -> Result<Bytes, SendError> {
        self.framed.send(payload).await?;
        match tokio::time::timeout(self.timeout, self.framed.next()).await {
            Err(_) => Err(SendError::Timeout(self.timeout)),
            Ok(None) => Err(SendError::Closed),
            Ok(Some(Err(error))) => Err(SendError::Io(error)),
            Ok(Some(Ok(Inbound::Oversized))) => Err(SendError::Oversized),
            Ok(Some(Ok(Inbound::Frame(ack)))) => Ok(ack),
        }
    }
}
