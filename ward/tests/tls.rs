//! TLS to PostgreSQL and RabbitMQ, by flag, against servers of the test's own that speak only
//! TLS with a certificate from a CA made for the test: Ward verifies the server against the CA
//! it is given and refuses a server it cannot verify.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use testkit::TestDb;
use testkit::servers::{TestCa, TlsPostgres, TlsRabbit, free_port};

fn ward(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(args)
        .output()
        .expect("run ward")
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The CA, and a stranger's, written where `ward` can read them.
fn ca_files(ca: &TestCa, dir: &Path) -> (String, String) {
    std::fs::create_dir_all(dir).unwrap();
    let (ours, stranger) = (dir.join("ca.pem"), dir.join("stranger.pem"));
    std::fs::write(&ours, &ca.ca_pem).unwrap();
    std::fs::write(&stranger, TestCa::stranger_pem()).unwrap();
    (
        ours.to_str().unwrap().to_owned(),
        stranger.to_str().unwrap().to_owned(),
    )
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for(what: &str, check: impl AsyncFnMut() -> bool) {
    assert!(
        wait_for_or(what, check).await,
        "timed out waiting for {what}"
    );
}

/// Whether `check` came true within a minute.
async fn wait_for_or(_what: &str, mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..600 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn postgres_over_tls_is_verified_against_the_ca_in_the_url() {
    let ca = TestCa::new();
    let server = TlsPostgres::start(&ca);
    let dir = std::env::temp_dir().join(testkit::unique_name("ward-tls-pg-client"));
    let (ours, stranger) = ca_files(&ca, &dir);
    let base = format!("postgres://ward@localhost:{}/ward", server.port);
    let verified = format!("{base}?sslmode=verify-full&sslrootcert={ours}");

    let migrated = ward(&["migrate", "--database-url", &verified]);
    assert!(migrated.status.success(), "{}", said(&migrated));
    let plain = ward(&[
        "migrate",
        "--database-url",
        &format!("{base}?sslmode=disable"),
    ]);
    assert!(!plain.status.success(), "the server takes only TLS");
    let forged = ward(&[
        "migrate",
        "--database-url",
        &format!("{base}?sslmode=verify-full&sslrootcert={stranger}"),
    ]);
    assert!(
        !forged.status.success(),
        "a certificate the given CA did not sign is refused"
    );

    // A stage, as its own login, over the same verified TLS: the listener stores what it ACKs.
    let mut admin = PgConnectOptions::from_str(&verified)
        .unwrap()
        .connect()
        .await
        .unwrap();
    sqlx::query("ALTER ROLE ward_listener LOGIN")
        .execute(&mut admin)
        .await
        .unwrap();
    let mllp = format!("127.0.0.1:{}", free_port());
    let listener_url = format!(
        "postgres://ward_listener@localhost:{}/ward?sslmode=verify-full&sslrootcert={ours}",
        server.port
    );
    let _listener = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_ward"))
            .args(["listen", "--database-url", &listener_url])
            .args(["--mllp-addr", &mllp])
            .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the listener's port", async || {
        std::net::TcpStream::connect(&mllp).is_ok()
    })
    .await;
    let sent = ward(&["simulate", "--to", &mllp, "--patients", "3", "--seed", "5"]);
    assert!(
        said(&sent).contains("accepted, 0 refused"),
        "{}",
        said(&sent)
    );
    let (stored, ssl): (i64, bool) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM ids.message),
                (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(stored > 0, "the listener stored over TLS");
    assert!(ssl, "this connection is TLS too");
    admin.close().await.ok();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_pipeline_runs_over_amqps_with_the_sites_ca_and_refuses_an_unverified_broker() {
    let ca = TestCa::new();
    let broker = TlsRabbit::start(&ca);
    let db = TestDb::migrated().await;
    let dir = std::env::temp_dir().join(testkit::unique_name("ward-tls-amqp-client"));
    let (ours, stranger) = ca_files(&ca, &dir);
    let amqps = format!("amqps://guest:guest@localhost:{}/%2f", broker.port);

    let without_tls = ward(&[
        "read-ids",
        "--database-url",
        &db.url,
        "--amqp-url",
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        "--amqp-ca-file",
        &ours,
    ]);
    assert!(!without_tls.status.success());
    assert!(
        said(&without_tls).contains("not amqps://"),
        "{}",
        said(&without_tls)
    );
    let unverified = ward(&[
        "read-ids",
        "--database-url",
        &db.url,
        "--amqp-url",
        &amqps,
        "--amqp-ca-file",
        &stranger,
    ]);
    assert!(
        !unverified.status.success(),
        "a broker the given CA did not sign is refused"
    );
    assert!(
        said(&unverified).contains("Failed to connect to RabbitMQ"),
        "{}",
        said(&unverified)
    );

    let mllp = format!("127.0.0.1:{}", free_port());
    let log_path = dir.join("up.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let _up = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_ward"))
            .args(["up", "--database-url", &db.url, "--mllp-addr", &mllp])
            .args(["--backfill-queue", "none"])
            .args(["--amqp-url", &amqps, "--amqp-ca-file", &ours])
            .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
            .args([
                "--reader-metrics-addr",
                &format!("127.0.0.1:{}", free_port()),
            ])
            .args([
                "--processor-metrics-addr",
                &format!("127.0.0.1:{}", free_port()),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let started = wait_for_or("ward up's MLLP port", async || {
        std::net::TcpStream::connect(&mllp).is_ok()
    })
    .await;
    assert!(
        started,
        "ward up did not start:\n{}",
        std::fs::read_to_string(&log_path).unwrap_or_default()
    );
    let sent = ward(&["simulate", "--to", &mllp, "--patients", "5", "--seed", "7"]);
    assert!(
        said(&sent).contains("accepted, 0 refused"),
        "{}",
        said(&sent)
    );
    // Through the reader, the TLS broker and the processor into the star.
    wait_for("patients in the star", async || {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM star.mrn")
            .fetch_one(&db.pool)
            .await
            .unwrap()
            >= 5
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}
