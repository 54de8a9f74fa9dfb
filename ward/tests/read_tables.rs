//! `ward read-tables` as a site runs it: a dry run of the example sources file, and a reader
//! killed with SIGKILL mid-run that, restarted, publishes every row with none skipped and at
//! most the page in flight again.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueDeleteOptions};
use testkit::TestDb;

fn ward() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ward"))
}

#[tokio::test]
async fn dry_run_prints_the_interchange_of_the_first_rows() {
    let source = TestDb::empty().await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/table-reader");
    let fixture = std::fs::read_to_string(root.join("clarity-fixture.sql")).unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(fixture))
        .execute(&source.pool)
        .await
        .unwrap();
    let out = ward()
        .args(["read-tables", "--sources"])
        .arg(root.join("clarity.toml"))
        .args(["--dry-run", "10", "--query", "clarity/infections"])
        .env("CLARITY_URL", &source.url)
        .env("CABOODLE_URL", &source.url)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = said
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["@class"],
        "uk.ac.ucl.rits.inform.interchange.PatientInfection"
    );
    assert_eq!(lines[0]["sourceMessageId"], "clarity/infections/1");
    // Nothing recorded: a dry run needs no Ward database at all.
    let missing = ward()
        .args(["read-tables", "--sources"])
        .arg(root.join("clarity.toml"))
        .args(["--dry-run", "1", "--query", "clarity/nothing"])
        .env("CLARITY_URL", &source.url)
        .env("CABOODLE_URL", &source.url)
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such query"));
}

/// Every message on `queue`, by AMQP message id, until it has been quiet for a second.
async fn drain(queue: &str) -> Vec<String> {
    let connection = lapin::Connection::connect(&testkit::amqp_url(), Default::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let mut consumer = channel
        .basic_consume(
            queue.into(),
            "test".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    while let Ok(Some(delivery)) =
        tokio::time::timeout(Duration::from_secs(1), consumer.next()).await
    {
        let delivery = delivery.unwrap();
        ids.push(
            delivery
                .properties
                .message_id()
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
        );
    }
    let _ = channel
        .queue_delete(queue.into(), QueueDeleteOptions::default())
        .await;
    ids
}

#[tokio::test]
async fn a_reader_killed_mid_run_resumes_with_nothing_skipped() {
    const ROWS: i64 = 20_000;
    const BATCH: i64 = 500;
    let (ward_db, source) = (TestDb::migrated().await, TestDb::empty().await);
    sqlx::raw_sql(
        "CREATE TABLE problem_list AS
         SELECT i AS problem_list_id, 'MRN' || (i % 2000) AS mrn,
                timestamp '2024-01-01' + (i / 7) * interval '1 minute' AS update_date
         FROM generate_series(1, 20000) AS i",
    )
    .execute(&source.pool)
    .await
    .unwrap();
    let sources =
        std::env::temp_dir().join(format!("{}.toml", testkit::unique_name("kill-sources")));
    std::fs::write(
        &sources,
        format!(
            r#"
[[source]]
name = "clarity"
url = "{}"
source_system = "clarity"

[[source.query]]
name = "problems"
class = "PatientProblem"
order_by = "update_date"
key = "problem_list_id"
batch_size = {BATCH}
sql = "SELECT problem_list_id, mrn, update_date FROM problem_list"

[source.query.fields]
updatedDateTime = "update_date"
mrn = "mrn"
epicConditionId = {{ iv = "problem_list_id" }}
"#,
            source.url
        ),
    )
    .unwrap();
    let queue = testkit::unique_name("ward.test.kill.backfill");
    let run = || {
        let mut command = ward();
        command
            .args(["read-tables", "--once", "--classic-queues", "--sources"])
            .arg(&sources)
            .args(["--database-url", &ward_db.url, "--queue", &queue])
            .args(["--metrics-addr", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    };
    let mut first = run().spawn().unwrap();
    let progress = async || -> i64 {
        sqlx::query_scalar("SELECT coalesce(max(rows_read), 0) FROM reader.table_progress")
            .fetch_one(&ward_db.pool)
            .await
            .unwrap()
    };
    let mut waited = 0;
    while progress().await < 4 * BATCH && waited < 600 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let at_kill = progress().await;
    assert!(
        (4 * BATCH..ROWS).contains(&at_kill),
        "killed part way: {at_kill}"
    );

    let second = run().status().unwrap();
    assert!(second.success());
    let ids = drain(&queue).await;
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len() as i64, ROWS, "no row skipped");
    let repeated = ids.len() as i64 - ROWS;
    assert!(
        repeated <= BATCH,
        "at most the page in flight again: {repeated}"
    );
    let (kept, distinct_kept): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT message_id) FROM reader.table_message")
            .fetch_one(&ward_db.pool)
            .await
            .unwrap();
    assert_eq!(
        (kept, distinct_kept),
        (ROWS, ROWS),
        "each row kept once for replay"
    );
}
