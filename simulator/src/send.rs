//! Sending a feed over MLLP as an integration engine does: several connections, each sending
//! one message and waiting for its ACK before the next. One person's messages always go on the
//! same connection, so the only reordering is the feed's own (its out-of-order rate), not a race
//! between connections.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ids_listener::sender::{SendError, Sender};

use crate::SimMessage;

/// What sending achieved.
#[derive(Debug, Default)]
pub struct Sent {
    /// Messages acknowledged with AA (or CA).
    pub accepted: u64,
    /// Messages acknowledged with an error or reject code.
    pub refused: u64,
    /// For each message of the feed (by index), when its ACK arrived and how long it took.
    pub acks: Vec<Option<(Instant, Duration)>>,
}

/// Sends `feed` to `addr` on `connections` connections; with `rate` (messages per second over
/// all connections) each message waits for its slot, otherwise they go as fast as ACKs return.
pub async fn send(
    addr: SocketAddr,
    feed: &[SimMessage],
    connections: usize,
    rate: Option<f64>,
) -> Result<Sent, SendError> {
    let connections = connections.max(1);
    let started = Instant::now();
    let mut lanes: Vec<Vec<(usize, SimMessage)>> = vec![Vec::new(); connections];
    for (index, message) in feed.iter().enumerate() {
        lanes[message.person % connections].push((index, message.clone()));
    }
    let mut tasks = Vec::with_capacity(connections);
    for lane in lanes {
        let mut sender = Sender::connect(addr, Duration::from_secs(60)).await?;
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::with_capacity(lane.len());
            for (index, message) in lane {
                if let Some(rate) = rate {
                    let slot = started + Duration::from_secs_f64(index as f64 / rate);
                    tokio::time::sleep_until(slot.into()).await;
                }
                let sent_at = Instant::now();
                let ack = sender.send(message.bytes).await?;
                let acked_at = Instant::now();
                results.push((index, accepted(&ack), acked_at, acked_at - sent_at));
            }
            Ok::<_, SendError>(results)
        }));
    }
    let mut sent = Sent {
        acks: vec![None; feed.len()],
        ..Sent::default()
    };
    for task in tasks {
        let results = task
            .await
            .map_err(|e| SendError::Io(std::io::Error::other(e)))??;
        for (index, ok, at, took) in results {
            if ok {
                sent.accepted += 1;
            } else {
                sent.refused += 1;
            }
            sent.acks[index] = Some((at, took));
        }
    }
    Ok(sent)
}

/// Whether an ACK's MSA-1 is AA or CA.
fn accepted(ack: &[u8]) -> bool {
    let text = String::from_utf8_lossy(ack);
    text.split(['\r', '\n'])
        .find(|segment| segment.starts_with("MSA|"))
        .and_then(|msa| msa.split('|').nth(1))
        .is_some_and(|code| code == "AA" || code == "CA")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_aa_and_ca_are_accepted() {
        assert!(accepted(b"MSH|^~\\&|WARD\rMSA|AA|1\r"));
        assert!(accepted(b"MSH|^~\\&|WARD\rMSA|CA|1\r"));
        assert!(!accepted(b"MSH|^~\\&|WARD\rMSA|AE|1|bad\r"));
        assert!(!accepted(b"MSH|^~\\&|WARD\r"));
    }
}
