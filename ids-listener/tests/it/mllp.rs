//! MLLP framing and ACK content as a sender sees them.

use std::time::Duration;

use crate::harness::{TestListener, adt};

const VT: u8 = 0x0B;
const FS_CR: &[u8] = &[0x1C, 0x0D];

fn framed(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![VT];
    out.extend_from_slice(payload);
    out.extend_from_slice(FS_CR);
    out
}

#[tokio::test]
async fn original_mode_acks_for_several_versions() {
    let listener = TestListener::start().await;
    let mut client = listener.client().await;
    for (n, version) in ["2.3", "2.4", "2.5.1"].iter().enumerate() {
        let control = format!("ORIG{n}");
        let ack = client.send(&adt(&control, version)).await;
        assert_eq!(ack.code(), "AA", "{}", ack.text);
        assert_eq!(ack.acked_control_id(), control);
        // Sender and receiver swapped, ACK^trigger^ACK, same version, own control id.
        assert_eq!(ack.field("MSH", 3), "WARD");
        assert_eq!(ack.field("MSH", 4), "UCLH");
        assert_eq!(ack.field("MSH", 5), "EPIC");
        assert_eq!(ack.field("MSH", 9), "ACK^A01^ACK");
        assert_eq!(ack.field("MSH", 12), *version);
        assert!(ack.field("MSH", 10).starts_with("WARD"));
        assert!(!ack.text.contains("\rERR"));
    }
    assert_eq!(listener.metrics.acks(ids_listener::ack::AckCode::AA), 3);
}

#[tokio::test]
async fn enhanced_mode_commit_acks_follow_msh15() {
    let listener = TestListener::start().await;
    let mut client = listener.client().await;
    let enhanced = |control: &str, msh15: &str| {
        format!(
            "MSH|^~\\&|LAB|UCLH|WARD|UCLH|20240102||ORU^R01|{control}|P|2.5.1|||{msh15}|NE\rPID|1\r"
        )
        .into_bytes()
    };
    let ack = client.send(&enhanced("E1", "AL")).await;
    assert_eq!(ack.code(), "CA");
    assert_eq!(ack.acked_control_id(), "E1");
    // NE and ER (on success) ask for no commit ACK: the next message's ACK comes first.
    client.send_raw(&framed(&enhanced("E2", "NE"))).await;
    client.send_raw(&framed(&enhanced("E3", "ER"))).await;
    let ack = client.send(&enhanced("E4", "SU")).await;
    assert_eq!(ack.code(), "CA");
    assert_eq!(ack.acked_control_id(), "E4");
    let rows = listener.rows().await;
    let ids: Vec<_> = rows.iter().map(|r| r.control_id.clone().unwrap()).collect();
    assert_eq!(ids, ["E1", "E2", "E3", "E4"]);
}

#[tokio::test]
async fn split_and_coalesced_frames() {
    let listener = TestListener::start().await;
    let mut client = listener.client().await;
    // One frame written a few bytes at a time.
    let bytes = framed(&adt("SPLIT", "2.4"));
    for piece in bytes.chunks(7) {
        client.send_raw(piece).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(client.recv().await.unwrap().acked_control_id(), "SPLIT");
    // Three frames in one write: three ACKs, in order.
    let mut three = Vec::new();
    for c in ["C1", "C2", "C3"] {
        three.extend(framed(&adt(c, "2.4")));
    }
    client.send_raw(&three).await;
    for c in ["C1", "C2", "C3"] {
        assert_eq!(client.recv().await.unwrap().acked_control_id(), c);
    }
}

#[tokio::test]
async fn garbage_before_a_start_block_is_discarded_and_counted() {
    let listener = TestListener::start().await;
    let mut client = listener.client().await;
    let mut bytes = b"\r\nnoise".to_vec();
    bytes.extend(framed(&adt("AFTER-NOISE", "2.4")));
    client.send_raw(&bytes).await;
    assert_eq!(client.recv().await.unwrap().code(), "AA");
    drop(client);
    let rows = listener.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].payload, adt("AFTER-NOISE", "2.4"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(listener.metrics.junk_bytes.get(), 7);
}

#[tokio::test]
async fn oversized_frames_get_ar_104_and_the_stream_resynchronises() {
    let db = testkit::TestDb::migrated().await;
    let mut config = crate::harness::test_config();
    config.max_frame_bytes = 1000;
    let listener = TestListener::start_with(
        db,
        crate::harness::Options {
            config,
            ..Default::default()
        },
    )
    .await;
    let mut client = listener.client().await;
    let mut big = adt("BIG", "2.5.1");
    big.extend(std::iter::repeat_n(b'x', 5000));
    let ack = client.send(&big).await;
    assert_eq!(ack.code(), "AR");
    assert!(ack.text.contains("ERR|||104^"), "{}", ack.text);
    let ack = client.send(&adt("SMALL", "2.5.1")).await;
    assert_eq!(
        (ack.code().as_str(), ack.acked_control_id().as_str()),
        ("AA", "SMALL")
    );
    let rows = listener.rows().await;
    assert_eq!(rows.len(), 1, "the oversized frame is not stored");
    assert_eq!(listener.metrics.oversized_frames.get(), 1);
}

#[tokio::test]
async fn unreadable_headers_are_stored_and_answered_ar() {
    let listener = TestListener::start().await;
    let mut client = listener.client().await;
    let ack = client.send(b"this is not HL7").await;
    assert_eq!(ack.code(), "AR");
    assert!(ack.text.contains("ERR|||100^"), "{}", ack.text);
    let ack = client.send(b"MSH|0000|broken").await;
    assert_eq!(ack.code(), "AR");
    let rows = listener.rows().await;
    assert_eq!(rows.len(), 2, "unreadable messages are kept");
    assert!(rows.iter().all(|r| r.header_error.is_some()));
    assert_eq!(rows[0].payload, b"this is not HL7");
    // The connection is kept: a good message still works.
    assert_eq!(client.send(&adt("GOOD", "2.4")).await.code(), "AA");
}

#[tokio::test]
async fn an_ack_is_stored_but_never_acknowledged() {
    let listener = TestListener::start().await;
    let mut client = listener.client().await;
    client
        .send_raw(&framed(
            b"MSH|^~\\&|X|Y|WARD|UCLH|20240101||ACK^A01^ACK|K1|P|2.4\rMSA|AA|1\r",
        ))
        .await;
    assert!(
        client
            .recv_within(Duration::from_millis(500))
            .await
            .is_none()
    );
    let ack = client.send(&adt("NEXT", "2.4")).await;
    assert_eq!(ack.acked_control_id(), "NEXT");
    assert_eq!(listener.rows().await.len(), 2);
}

#[tokio::test]
async fn always_original_policy_overrides_enhanced_mode() {
    let db = testkit::TestDb::migrated().await;
    let mut config = crate::harness::test_config();
    config.ack_policy = ids_listener::AckPolicy::AlwaysOriginal;
    let listener = TestListener::start_with(
        db,
        crate::harness::Options {
            config,
            ..Default::default()
        },
    )
    .await;
    let mut client = listener.client().await;
    let msg = b"MSH|^~\\&|LAB|UCLH|WARD|UCLH|20240102||ORU^R01|O1|P|2.5.1|||NE|NE\rPID|1\r";
    assert_eq!(client.send(msg).await.code(), "AA");
}

#[tokio::test]
async fn metrics_and_health_endpoints() {
    let listener = TestListener::start().await;
    let mut client = listener.client().await;
    client.send(&adt("M1", "2.4")).await;
    let metrics = listener.http_get("/metrics").await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(
        metrics.contains("ids_listener_messages_stored_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("ids_listener_acks_total{code=\"AA\"} 1"));
    assert!(metrics.contains("ids_listener_open_connections 1"));
    assert!(metrics.contains("ids_listener_commit_seconds_count 1"));
    let health = listener.http_get("/health").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(
        listener
            .http_get("/other")
            .await
            .starts_with("HTTP/1.1 404")
    );
}
