//! What lands in the IDS: exact bytes, duplicates, concurrency and order.

use std::collections::HashMap;
use std::path::Path;

use crate::harness::{TestListener, adt};

/// Files from `testdata/` covering every segment terminator, a BOM and non-UTF-8 bytes.
const EXACT_BYTES_FIXTURES: &[&str] = &[
    "UCLH-DHCT__emap/hl7-reader/src/test/resources/Adt/generic/A01.txt", // LF
    "CDCgov__trusted-intermediary/examples/CA/003_CA_ORU_R01_CDPH_produced_0_initial_message.hl7", // CRLF
    "crs4__hl7apy/tests/test_parser.py.extracted/msg_o33__L74.hl7", // CR
    "microsoft__FHIR-Converter/data/SampleData/Hl7v2/ADT01-23.hl7", // UTF-8 BOM
    "nHapiNET__nHapi/tests/NHapi.NUnit/TestData/BadInputs/PipeParser/NoException/id_000168,sig_02,src_002426+002144,op_splice,rep_8", // Latin-1
];

#[tokio::test]
async fn payloads_are_stored_as_the_exact_bytes_received() {
    let listener = TestListener::start().await;
    let mut client = listener.client().await;
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let mut sent = Vec::new();
    for fixture in EXACT_BYTES_FIXTURES {
        let bytes = std::fs::read(testdata.join(fixture)).unwrap();
        assert!(
            !bytes.contains(&0x0B) && !bytes.contains(&0x1C),
            "{fixture} must be frameable"
        );
        client.send(&bytes).await;
        sent.push(bytes);
    }
    assert!(
        std::str::from_utf8(sent.last().unwrap()).is_err(),
        "one payload is not UTF-8"
    );
    let stored: Vec<Vec<u8>> = listener
        .rows()
        .await
        .into_iter()
        .map(|r| r.payload)
        .collect();
    assert_eq!(stored, sent);
}

#[tokio::test]
async fn a_resent_message_is_stored_as_a_duplicate_and_answered_like_the_original() {
    let listener = TestListener::start().await;
    let mut first = listener.client().await;
    let mut second = listener.client().await;
    let original = first.send(&adt("DUP-1", "2.5.1")).await;
    let resent = second.send(&adt("DUP-1", "2.5.1")).await;
    assert_eq!(original.code(), "AA");
    assert_eq!(resent.code(), original.code());
    assert_eq!(resent.acked_control_id(), "DUP-1");
    // The same control id with different content is not a duplicate.
    let mut changed = adt("DUP-1", "2.5.1");
    changed.extend_from_slice(b"NTE|1||changed\r");
    first.send(&changed).await;
    let rows = listener.rows().await;
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].duplicate_of, None);
    assert_eq!(rows[1].duplicate_of, Some(rows[0].id));
    assert_eq!(rows[2].duplicate_of, None);
    assert_eq!(listener.metrics.duplicates.get(), 1);
}

#[tokio::test]
async fn duplicates_within_one_batch_name_the_first_copy() {
    let listener = TestListener::start().await;
    // Send the same message on several connections at once, so copies share a commit.
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let mut client = listener.client().await;
        tasks.push(tokio::spawn(async move {
            client.send(&adt("SAME", "2.4")).await.code()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), "AA");
    }
    let rows = listener.rows().await;
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[0].duplicate_of, None);
    assert!(rows[1..].iter().all(|r| r.duplicate_of == Some(rows[0].id)));
}

#[tokio::test]
async fn eight_connections_of_a_thousand_messages_each() {
    const CONNECTIONS: usize = 8;
    const PER_CONNECTION: usize = 1000;
    let listener = TestListener::start().await;
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        let mut client = listener.client().await;
        tasks.push(tokio::spawn(async move {
            for m in 0..PER_CONNECTION {
                let control = format!("C{c}-M{m}");
                let ack = client.send(&adt(&control, "2.4")).await;
                assert_eq!(ack.code(), "AA");
                assert_eq!(
                    ack.acked_control_id(),
                    control,
                    "MSA-2 names the message acked"
                );
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let rows = listener.rows().await;
    assert_eq!(
        rows.len(),
        CONNECTIONS * PER_CONNECTION,
        "each message stored once"
    );
    let mut last_per_connection: HashMap<String, usize> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for row in &rows {
        let control = row.control_id.clone().unwrap();
        assert!(seen.insert(control.clone()), "{control} stored twice");
        let (conn, m) = control.split_once("-M").unwrap();
        let m: usize = m.parse().unwrap();
        if let Some(previous) = last_per_connection.insert(conn.to_owned(), m) {
            assert!(previous < m, "{conn}: message {m} stored before {previous}");
        }
    }
    assert!(
        listener.metrics.commits() < rows.len() as u64,
        "concurrent messages share commits ({} commits)",
        listener.metrics.commits()
    );
}
