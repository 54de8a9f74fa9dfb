//! Every lab message in EMAP's corpus that the reader maps, the processor applies: each file is
//! read by the real reader and applied by the real processor to a warehouse of its own (its
//! patient tagged with the file's number), and nothing is refused unless it is a bad input on
//! purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::path::{Path, PathBuf};

use chrono::Utc;
use event_processor::Processor;
use interchange::Message;
use message_reader::{Mapped, SiteConfig, map_message};
use testkit::TestDb;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "txt") {
            out.push(path);
        }
    }
}

#[tokio::test]
async fn every_mapped_emap_lab_message_is_applied() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/UCLH-DHCT__emap/hl7-reader/src/test/resources/LabOrders");
    let mut paths = Vec::new();
    files(&root, &mut paths);
    paths.sort();
    let db = TestDb::migrated().await;
    let (mut applied, mut refused) = (0, Vec::new());
    for (n, path) in paths.iter().enumerate() {
        let bytes = std::fs::read(path).unwrap();
        let mut parts = hl7::split_messages(&bytes);
        if parts.is_empty() {
            parts.push(&bytes);
        }
        for part in parts {
            let Ok(Mapped::Messages(messages)) = map_message(part, "1", &SiteConfig::default())
            else {
                continue;
            };
            for message in messages {
                // Each file its own patient, so files cannot interfere.
                let mut json = serde_json::to_value(&message).unwrap();
                for key in ["mrn", "visitNumber"] {
                    if let Some(serde_json::Value::String(s)) = json.get_mut(key)
                        && !s.is_empty()
                    {
                        *s = format!("{s}-{n}");
                    }
                }
                let message: Message = serde_json::from_value(json).unwrap();
                let mut tx = db.pool.begin().await.unwrap();
                match Processor::default()
                    .process(&mut tx, &message, Utc::now())
                    .await
                {
                    Ok(()) => {
                        tx.commit().await.unwrap();
                        applied += 1;
                    }
                    Err(e) => {
                        let name = path.strip_prefix(&root).unwrap().display().to_string();
                        refused.push(format!("{name}: {e}"));
                    }
                }
            }
        }
    }
    assert!(applied > 120, "{applied} messages applied");
    assert!(refused.is_empty(), "{refused:#?}");
    let systems: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT lab_provider FROM star.lab_battery ORDER BY 1")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        systems,
        [
            "ABL90_FLEX_PLUS",
            "BANK_MANAGER",
            "BIO_CONNECT",
            "CO_PATH",
            "PACS",
            "WIN_PATH"
        ]
    );
}
