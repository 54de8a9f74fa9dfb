//! The database going away, shutdown, stalled senders.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use testkit::{Proxy, TestDb};

use crate::harness::{Options, TestListener, adt, test_config};

/// A listener whose database connections pass through a proxy the test can cut.
async fn listener_behind_proxy(retry_for: Duration) -> (TestListener, Proxy) {
    let db = TestDb::migrated().await;
    let proxy = Proxy::start(db.server_addr()).await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(1))
        .connect_with(db.options_via(proxy.addr()))
        .await
        .unwrap();
    let mut config = test_config();
    config.store.retry_for = retry_for;
    let listener = TestListener::start_with(
        db,
        Options {
            config,
            pool: Some(pool),
            ..Default::default()
        },
    )
    .await;
    (listener, proxy)
}

#[tokio::test]
async fn no_ack_while_the_database_is_down_and_nothing_lost_when_it_returns() {
    let (listener, proxy) = listener_behind_proxy(Duration::from_secs(30)).await;
    let mut client = listener.client().await;
    assert_eq!(client.send(&adt("BEFORE", "2.4")).await.code(), "AA");
    proxy.cut();
    client
        .send_raw(&{
            let mut f = vec![0x0B];
            f.extend(adt("DURING", "2.4"));
            f.extend([0x1C, 0x0D]);
            f
        })
        .await;
    assert!(
        client
            .recv_within(Duration::from_millis(1500))
            .await
            .is_none(),
        "no ACK may be sent while the IDS is unreachable"
    );
    proxy.restore();
    let ack = client
        .recv_within(Duration::from_secs(15))
        .await
        .expect("ACK once the IDS is back");
    assert_eq!(
        (ack.code().as_str(), ack.acked_control_id().as_str()),
        ("AA", "DURING")
    );
    let controls: Vec<_> = listener
        .rows()
        .await
        .into_iter()
        .map(|r| r.control_id.unwrap())
        .collect();
    assert_eq!(controls, ["BEFORE", "DURING"]);
    assert!(listener.metrics.store_retries.get() > 0);
}

#[tokio::test]
async fn a_long_outage_closes_the_connection_without_ack_and_the_resend_is_stored() {
    let (listener, proxy) = listener_behind_proxy(Duration::from_millis(500)).await;
    proxy.cut();
    let mut client = listener.client().await;
    client
        .send_raw(&{
            let mut f = vec![0x0B];
            f.extend(adt("OUTAGE", "2.4"));
            f.extend([0x1C, 0x0D]);
            f
        })
        .await;
    assert!(client.closed_by_listener().await, "closed, with no ACK");
    proxy.restore();
    // The sender resends on a new connection; the listener recovered without a restart.
    let mut client = listener.client().await;
    let ack = tokio::time::timeout(Duration::from_secs(15), client.send(&adt("OUTAGE", "2.4")))
        .await
        .unwrap();
    assert_eq!(ack.code(), "AA");
    let rows = listener.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].duplicate_of, None);
}

#[tokio::test]
async fn graceful_shutdown_acks_only_what_is_stored_and_stores_what_was_received() {
    let mut listener = TestListener::start().await;
    let mut client = listener.client().await;
    // Many frames in one write: they are received together, then shutdown begins.
    let mut burst = Vec::new();
    for n in 0..200 {
        burst.push(0x0B);
        burst.extend(adt(&format!("S{n}"), "2.4"));
        burst.extend([0x1C, 0x0D]);
    }
    client.send_raw(&burst).await;
    let first = client.recv().await.expect("first ACK");
    listener.stop().await;
    let mut acked = vec![first.acked_control_id()];
    while let Some(ack) = client.recv_within(Duration::from_millis(500)).await {
        acked.push(ack.acked_control_id());
    }
    let stored: Vec<_> = listener
        .rows()
        .await
        .into_iter()
        .map(|r| r.control_id.unwrap())
        .collect();
    assert!(!stored.is_empty());
    // Every ACK names a stored message, in order, and every stored message was acknowledged.
    assert_eq!(acked, stored);
}

#[tokio::test]
async fn a_stalled_partial_frame_closes_the_connection() {
    let listener = TestListener::start().await;
    let mut idle = listener.client().await;
    let mut slow = listener.client().await;
    slow.send_raw(b"\x0bMSH|^~\\&|SLOW").await;
    assert!(slow.closed_by_listener().await);
    assert_eq!(listener.metrics.connection_timeouts.get(), 1);
    // An idle connection (no partial frame) is kept much longer.
    assert_eq!(idle.send(&adt("IDLE-OK", "2.4")).await.code(), "AA");
    assert!(
        listener
            .rows()
            .await
            .iter()
            .all(|r| r.control_id.as_deref() == Some("IDLE-OK"))
    );
}
