//! The example sources file (`examples/table-reader/clarity.toml`) against its fixture schema
//! in a real PostgreSQL: every query runs, and its messages are those of EMAP's clarity and
//! caboodle interchange fixtures, field for field (but `sourceMessageId`, which is Ward's
//! `source/query/key`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::path::Path;
use std::time::Duration;

use interchange::Message;
use serde_json::Value;
use table_reader::{Config, Sources};
use testkit::TestDb;

const FIXTURES: &str = "../testdata/UCLH-DHCT__emap/emap-interchange/src/test/resources";

/// A message's JSON as Ward writes it, without its `sourceMessageId`.
fn canonical(message: &Message) -> Value {
    let mut json: Value = serde_json::from_slice(&message.to_json()).unwrap();
    if let Some(object) = json.as_object_mut() {
        object.remove("sourceMessageId");
    }
    json
}

/// EMAP's expected messages, read by the interchange as any message is.
fn expected(file: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(FIXTURES)
        .join(file);
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let json: Value = serde_json::to_value(yaml).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|m| canonical(&Message::from_value(m).unwrap()))
        .collect()
}

#[tokio::test]
async fn the_example_sources_file_gives_emaps_clarity_and_caboodle_messages() {
    let source = TestDb::empty().await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/table-reader");
    let fixture = std::fs::read_to_string(root.join("clarity-fixture.sql")).unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(fixture))
        .execute(&source.pool)
        .await
        .unwrap();
    // The example reads its URLs from the environment; here they are the fixture's.
    let text = std::fs::read_to_string(root.join("clarity.toml"))
        .unwrap()
        .replace(
            "url_env = \"CLARITY_URL\"",
            &format!("url = \"{}\"", source.url),
        )
        .replace(
            "url_env = \"CABOODLE_URL\"",
            &format!("url = \"{}\"", source.url),
        );
    let config = Config {
        sources: Sources::parse(&text, Path::new("clarity.toml")).unwrap(),
        site_zone: chrono_tz::Europe::London,
        from: None,
        until: None,
        poll_interval: Duration::from_secs(1),
        once: true,
    };
    for (source_name, query, file, id_prefix) in [
        (
            "clarity",
            "problems",
            "PatientProblem/clarity_add.yaml",
            "clarity/problems/",
        ),
        (
            "clarity",
            "infections",
            "PatientInfection/updated_only.yaml",
            "clarity/infections/",
        ),
        (
            "caboodle",
            "research-opt-outs",
            "ResearchOptOut/all_opt_out.yaml",
            "caboodle/research-opt-outs/",
        ),
    ] {
        let rows = table_reader::dry_run(&config, source_name, query, 100)
            .await
            .unwrap();
        let mut got = Vec::new();
        for row in rows {
            let mapped = row.unwrap_or_else(|(id, why)| panic!("{id}: {why}"));
            assert!(
                mapped.message_id.starts_with(id_prefix),
                "{}",
                mapped.message_id
            );
            got.push(canonical(&mapped.message));
        }
        assert_eq!(got, expected(file), "{source_name}/{query} against {file}");
    }
}
