//! The table-reader against real databases and a real broker: a PostgreSQL or MariaDB source
//! table read page by page into the backfill queue, ties at one timestamp, a restart, rows
//! that cannot be mapped and windows.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use broker::{Publisher, Topology};
use lapin::options::BasicGetOptions;
use table_reader::{Config, Resources, Sources, Stats};
use testkit::{TestDb, TestMysql};
use tokio_util::sync::CancellationToken;

const FIELDS: &str = r#"
[source.query.fields]
updatedDateTime = "updated_at"
mrn = "mrn"
conditionCode = "dx_code"
conditionName = { iv = "dx_name" }
epicConditionId = { iv = "problem_id" }
addedDate = "noted"
"#;

fn sources_file(url: &str, batch: usize, added_column: &str) -> PathBuf {
    let text = format!(
        r#"
[[source]]
name = "clarity"
url = "{url}"
source_system = "clarity"
time_zone = "Europe/London"

[[source.query]]
name = "problems"
class = "PatientProblem"
order_by = "updated_at"
key = "problem_id"
batch_size = {batch}
sql = "SELECT problem_id, updated_at, mrn, dx_code, dx_name, {added_column} AS noted FROM problem_list"
{FIELDS}"#
    );
    let path = std::env::temp_dir().join(format!("{}.toml", testkit::unique_name("sources")));
    std::fs::write(&path, text).unwrap();
    path
}

fn topology() -> Topology {
    Topology {
        queue: testkit::unique_name("ward.test.backfill"),
        dead_letter_exchange: testkit::unique_name("ward.test.backfill.dlx"),
        dead_letter_queue: testkit::unique_name("ward.test.backfill.dlq"),
        max_length: 100_000,
        quorum: false,
        expires_ms: Some(600_000),
    }
}

fn config(path: &std::path::Path) -> Config {
    Config {
        sources: Sources::load(path).unwrap(),
        site_zone: chrono_tz::Europe::London,
        from: None,
        until: None,
        poll_interval: Duration::from_millis(50),
        once: true,
    }
}

async fn read(
    ward: &TestDb,
    config: Config,
    topology: &Topology,
) -> Result<Arc<Stats>, table_reader::TableReaderError> {
    let stats = Arc::new(Stats::new(&config.sources));
    let publisher = Publisher::new(testkit::amqp_url(), topology.clone(), 16);
    let resources = Resources {
        pool: ward.pool.clone(),
        publisher,
    };
    table_reader::run(
        config,
        resources,
        Arc::clone(&stats),
        CancellationToken::new(),
    )
    .await?;
    Ok(stats)
}

/// Every message on the queue: (AMQP message id, body), in queue order. (The test's queues
/// expire by themselves, `expires_ms`.)
async fn drain(topology: &Topology) -> Vec<(String, serde_json::Value)> {
    let connection = lapin::Connection::connect(&testkit::amqp_url(), Default::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let mut out = Vec::new();
    while let Some(message) = channel
        .basic_get(
            topology.queue.as_str().into(),
            BasicGetOptions { no_ack: true },
        )
        .await
        .unwrap()
    {
        let id = message
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default();
        out.push((id, serde_json::from_slice(&message.delivery.data).unwrap()));
    }
    out
}

async fn postgres_source() -> TestDb {
    let source = TestDb::empty().await;
    sqlx::raw_sql(
        "CREATE TABLE problem_list (problem_id integer PRIMARY KEY, updated_at timestamp,
             mrn text, dx_code text, dx_name text, noted date, noted_text text)",
    )
    .execute(&source.pool)
    .await
    .unwrap();
    source
}

/// Inserts problems `ids`, each updated at `at` (local time) unless it is None (then 1 Jan +id min).
async fn insert(pool: &sqlx::PgPool, ids: std::ops::Range<i32>, at: Option<&str>) {
    for id in ids {
        sqlx::query(
            "INSERT INTO problem_list VALUES ($1, coalesce($2::timestamp, '2024-01-01'::timestamp + make_interval(mins => $1)),
                 'MRN' || $1, 'C90.' || $1 % 10, CASE WHEN $1 % 3 = 0 THEN NULL ELSE 'Name ' || $1 END,
                 '2023-12-01', 'not a date')",
        )
        .bind(id)
        .bind(at)
        .execute(pool)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn rows_sharing_one_timestamp_are_each_published_once_in_order() {
    let (ward, source) = (TestDb::migrated().await, postgres_source().await);
    // Five rows with their own times, then 25 sharing one, read four at a time.
    insert(&source.pool, 1..6, None).await;
    insert(&source.pool, 100..125, Some("2024-06-01 12:00:00")).await;
    let path = sources_file(&source.url, 4, "noted");
    let topology = topology();
    let stats = read(&ward, config(&path), &topology).await.unwrap();
    let messages = drain(&topology).await;
    let ids: Vec<&str> = messages.iter().map(|(id, _)| id.as_str()).collect();
    let expected: Vec<String> = (1..6)
        .chain(100..125)
        .map(|i| format!("clarity/problems/{i}"))
        .collect();
    assert_eq!(ids, expected, "every row once, in (updated_at, key) order");
    let q = stats.query("clarity", "problems").unwrap();
    assert_eq!(
        (q.rows_read.get(), q.published.get(), q.errors.get()),
        (30, 30, 0)
    );

    let (first_id, first) = &messages[0];
    assert_eq!(first_id, "clarity/problems/1");
    assert_eq!(
        first["@class"],
        "uk.ac.ucl.rits.inform.interchange.PatientProblem"
    );
    assert_eq!(first["sourceMessageId"], "clarity/problems/1");
    assert_eq!(first["mrn"], "MRN1");
    assert_eq!(first["updatedDateTime"], "2024-01-01T00:01:00Z");
    assert_eq!(first["conditionName"]["value"], "Name 1");
    assert_eq!(first["addedDate"], "2023-12-01");
    let (_, third) = &messages[2];
    assert_eq!(
        third["conditionName"]["status"], "DELETE",
        "a NULL name clears it"
    );
    // Summer time: 12:00 in London is 11:00Z.
    assert_eq!(messages[5].1["updatedDateTime"], "2024-06-01T11:00:00Z");

    let (kept, rows_read, order_value, key_value): (i64, i64, String, String) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM reader.table_message), rows_read, order_value, key_value
         FROM reader.table_progress WHERE source = 'clarity' AND query = 'problems' AND run_window = ''",
    )
    .fetch_one(&ward.pool)
    .await
    .unwrap();
    assert_eq!((kept, rows_read), (30, 30));
    assert_eq!(
        (order_value.as_str(), key_value.as_str()),
        ("2024-06-01T12:00:00", "124")
    );

    // Nothing new: a second run publishes nothing.
    let again = read(&ward, config(&path), &topology).await.unwrap();
    assert_eq!(
        again.query("clarity", "problems").unwrap().published.get(),
        0
    );
    assert!(drain(&topology).await.is_empty());
    // A changed row comes back with its new time; rows changed at the last time read do too.
    sqlx::query("UPDATE problem_list SET dx_name = 'Renamed', updated_at = '2024-06-02' WHERE problem_id = 2")
        .execute(&source.pool)
        .await
        .unwrap();
    insert(&source.pool, 125..127, Some("2024-06-01 12:00:00")).await;
    read(&ward, config(&path), &topology).await.unwrap();
    let ids: Vec<String> = drain(&topology)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        ids,
        [
            "clarity/problems/125",
            "clarity/problems/126",
            "clarity/problems/2"
        ]
    );
}

#[tokio::test]
async fn a_stopped_reader_resumes_after_its_last_confirmed_page() {
    let (ward, source) = (TestDb::migrated().await, postgres_source().await);
    insert(&source.pool, 1..401, Some("2024-03-01 09:00:00")).await;
    let path = sources_file(&source.url, 10, "noted");
    let topology = topology();
    let mut slow = config(&path);
    slow.once = false;
    let stats = Arc::new(Stats::new(&slow.sources));
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(table_reader::run(
        slow,
        Resources {
            pool: ward.pool.clone(),
            publisher: Publisher::new(testkit::amqp_url(), topology.clone(), 4),
        },
        Arc::clone(&stats),
        shutdown.clone(),
    ));
    while stats.query("clarity", "problems").unwrap().published.get() < 50 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    shutdown.cancel();
    run.await.unwrap().unwrap();
    let stopped_at = stats.query("clarity", "problems").unwrap().published.get();
    assert!(stopped_at < 400, "stopped part way ({stopped_at})");

    read(&ward, config(&path), &topology).await.unwrap();
    let ids: Vec<String> = drain(&topology)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 400, "no row skipped");
    assert!(
        ids.len() <= 400 + 10,
        "at most the unconfirmed page again: {}",
        ids.len()
    );
    let kept: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT message_id) FROM reader.table_message")
            .fetch_one(&ward.pool)
            .await
            .unwrap();
    assert_eq!(kept, 400);
}

#[tokio::test]
async fn rows_that_cannot_be_mapped_are_recorded_and_the_rest_go_on() {
    let (ward, source) = (TestDb::migrated().await, postgres_source().await);
    insert(&source.pool, 1..4, None).await;
    sqlx::query("UPDATE problem_list SET noted_text = '2023-11-30' WHERE problem_id <> 2")
        .execute(&source.pool)
        .await
        .unwrap();
    let path = sources_file(&source.url, 100, "noted_text");
    let topology = topology();
    read(&ward, config(&path), &topology).await.unwrap();
    let ids: Vec<String> = drain(&topology)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, ["clarity/problems/1", "clarity/problems/3"]);
    let (message_id, error): (String, String) =
        sqlx::query_as("SELECT message_id, error FROM reader.table_error")
            .fetch_one(&ward.pool)
            .await
            .unwrap();
    assert_eq!(message_id, "clarity/problems/2");
    assert!(error.contains("addedDate"), "{error}");
    assert!(
        !error.contains("not a date"),
        "no source values in errors: {error}"
    );
}

#[tokio::test]
async fn a_query_the_reader_cannot_run_stops_it_naming_the_source_query_and_column() {
    let (ward, source) = (TestDb::migrated().await, postgres_source().await);
    insert(&source.pool, 1..3, None).await;
    let path = sources_file(&source.url, 100, "1.5::numeric");
    let error = read(&ward, config(&path), &topology())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("\"clarity\"") && error.contains("\"problems\""),
        "{error}"
    );
    assert!(
        error.contains("\"noted\"") && error.contains("NUMERIC"),
        "{error}"
    );
    assert!(error.contains("cast it"), "{error}");
}

#[tokio::test]
async fn a_window_reads_only_its_rows_and_keeps_its_own_position() {
    let (ward, source) = (TestDb::migrated().await, postgres_source().await);
    insert(&source.pool, 1..3, Some("2023-06-01 10:00:00")).await;
    insert(&source.pool, 3..5, Some("2024-02-01 10:00:00")).await;
    insert(&source.pool, 5..7, Some("2025-02-01 10:00:00")).await;
    let path = sources_file(&source.url, 100, "noted");
    let topology = topology();
    let mut window = config(&path);
    window.from = Some("2024-01-01T00:00:00Z".parse().unwrap());
    window.until = Some("2025-01-01T00:00:00Z".parse().unwrap());
    window.once = false; // --until stops it anyway
    read(&ward, window, &topology).await.unwrap();
    let ids: Vec<String> = drain(&topology)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, ["clarity/problems/3", "clarity/problems/4"]);
    let windows: Vec<String> = sqlx::query_scalar("SELECT run_window FROM reader.table_progress")
        .fetch_all(&ward.pool)
        .await
        .unwrap();
    assert_eq!(
        windows,
        ["2024-01-01T00:00:00+00:00..2025-01-01T00:00:00+00:00"]
    );
}

#[tokio::test]
async fn a_mariadb_source_gives_the_same_messages_as_a_postgres_one() {
    let (ward, pg) = (TestDb::migrated().await, postgres_source().await);
    let maria = TestMysql::new().await;
    sqlx::raw_sql(
        "CREATE TABLE problem_list (problem_id INT PRIMARY KEY, updated_at DATETIME(6),
             mrn VARCHAR(20), dx_code VARCHAR(20), dx_name TEXT, noted DATE, noted_text VARCHAR(20))",
    )
    .execute(&maria.pool)
    .await
    .unwrap();
    insert(&pg.pool, 1..8, Some("2024-07-01 08:30:00")).await;
    for id in 1..8 {
        sqlx::query(
            "INSERT INTO problem_list VALUES (?, '2024-07-01 08:30:00', CONCAT('MRN', ?), CONCAT('C90.', ? % 10),
                 CASE WHEN ? % 3 = 0 THEN NULL ELSE CONCAT('Name ', ?) END, '2023-12-01', 'not a date')",
        )
        .bind(id)
        .bind(id)
        .bind(id)
        .bind(id)
        .bind(id)
        .execute(&maria.pool)
        .await
        .unwrap();
    }
    let mut bodies = Vec::new();
    for url in [&pg.url, &maria.url] {
        let topology = topology();
        let path = sources_file(url, 3, "noted");
        read(&ward, config(&path), &topology).await.unwrap();
        bodies.push(drain(&topology).await);
        sqlx::query("DELETE FROM reader.table_progress")
            .execute(&ward.pool)
            .await
            .unwrap();
    }
    assert_eq!(bodies[0].len(), 7);
    assert_eq!(
        bodies[0], bodies[1],
        "MariaDB and PostgreSQL sources map alike"
    );
    assert_eq!(bodies[1][0].1["updatedDateTime"], "2024-07-01T07:30:00Z");
}
