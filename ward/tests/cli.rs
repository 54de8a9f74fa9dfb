//! The `ward` binary as a user runs it: flags, exit codes and effects on a real database.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::process::Command;

use testkit::TestDb;

fn ward(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(args)
        .env_remove("WARD_DATABASE_URL")
        .output()
        .unwrap()
}

#[tokio::test]
async fn migrate_creates_the_ids_and_is_idempotent() {
    let db = TestDb::empty().await;
    for _ in 0..2 {
        let out = ward(&["migrate", "--database-url", &db.url]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('ids.message') IS NOT NULL")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(exists);
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM ids._sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(applied, schema::ids_migrator().iter().count() as i64);
}

#[tokio::test]
async fn migrate_makes_the_site_zone_the_databases_so_a_summer_midnight_admission_falls_on_its_day()
{
    let db = TestDb::migrated().await;
    sqlx::raw_sql(
        "INSERT INTO star.mrn (mrn, stored_from) VALUES ('M1', now());
         INSERT INTO star.hospital_visit (mrn_id, encounter, source_system, admission_datetime, valid_from, stored_from)
         SELECT mrn_id, 'V1', 'EPIC', '2026-07-01T23:30:00Z', now(), now() FROM star.mrn",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    // A fresh database's zone is the server's; start from UTC, as on most servers.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {} SET timezone TO 'UTC'",
        db.name()
    )))
    .execute(&db.pool)
    .await
    .unwrap();
    // As an analyst's client sees it (psql sets no zone of its own).
    let day = || {
        let out = Command::new("psql")
            .args([
                db.url.as_str(),
                "-tAc",
                "SELECT admission_datetime::date FROM star.hospital_visit",
            ])
            .env_remove("PGTZ")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(day(), "2026-07-01", "in UTC, 00:30 BST is the day before");
    let out = ward(&[
        "migrate",
        "--database-url",
        &db.url,
        "--time-zone",
        "Europe/London",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(day(), "2026-07-02", "the hospital's day");
}

#[tokio::test]
async fn a_stage_started_alone_checks_the_schema_it_uses_and_refuses_an_old_one() {
    let db = TestDb::empty().await;
    let process = || ward(&["process", "--retry-dead-letters", "--database-url", &db.url]);
    let out = process();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("run `ward migrate`"), "{stderr}");
    let migrated: bool =
        sqlx::query_scalar("SELECT to_regclass('ids._sqlx_migrations') IS NOT NULL")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(!migrated, "a stage runs no DDL");

    let out = ward(&["migrate", "--database-url", &db.url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = process();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 dead letters applied"));
}

#[test]
fn an_unreachable_database_is_a_clear_failure() {
    let out = ward(&[
        "migrate",
        "--database-url",
        "postgres://ward:ward@127.0.0.1:1/ward",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Failed to connect to PostgreSQL"),
        "{stderr}"
    );
}

/// A free local port (bound and released; a tiny race, acceptable in tests).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn listen_stores_acks_and_stops_cleanly_on_sigterm() {
    use std::io::{Read, Write};

    let db = TestDb::migrated().await;
    let mllp_port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(["listen", "--database-url", &db.url])
        .args(["--mllp-addr", &format!("127.0.0.1:{mllp_port}")])
        .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child.id());
    let mut stream = None;
    for _ in 0..100 {
        if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", mllp_port)) {
            stream = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut stream = stream.expect("ward listen accepts connections");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(
            b"\x0bMSH|^~\\&|EPIC|UCLH|WARD|UCLH|20240101||ADT^A01|CLI-1|P|2.4\rPID|1\r\x1c\r",
        )
        .unwrap();
    let mut ack = Vec::new();
    let mut byte = [0u8; 1];
    while !ack.ends_with(b"\x1c\r") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "ACK arrives");
        ack.push(byte[0]);
    }
    assert!(String::from_utf8_lossy(&ack).contains("MSA|AA|CLI-1"));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "ward listen exits 0 on SIGTERM: {exit:?}");
    std::mem::forget(guard);
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ids.message WHERE control_id = 'CLI-1'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(stored, 1);
}

#[test]
fn interchange_schema_prints_a_json_schema_of_every_class() {
    let out = ward(&["interchange", "schema"]);
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = schema.to_string();
    assert!(text.contains("uk.ac.ucl.rits.inform.interchange.adt.AdmitPatient"));
    assert!(text.contains("uk.ac.ucl.rits.inform.interchange.lab.LabOrderMsg"));
}

#[test]
fn convert_prints_interchange_and_reasons() {
    let testdata = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let a01 = testdata.join("UCLH-DHCT__emap/hl7-reader/src/test/resources/Adt/generic/A01.txt");
    // A document notification, which Ward does not handle.
    let mdm = std::env::temp_dir().join(testkit::unique_name("mdm.hl7"));
    std::fs::write(
        &mdm,
        b"MSH|^~\\&|EPIC||||20240101||MDM^T02|1|P|2.4\rPID|1||1\r",
    )
    .unwrap();
    let out = ward(&["convert", a01.to_str().unwrap(), mdm.to_str().unwrap()]);
    std::fs::remove_file(&mdm).ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let message = interchange::Message::from_json(lines[0].as_bytes()).unwrap();
    assert_eq!(
        message.class_name(),
        "uk.ac.ucl.rits.inform.interchange.adt.AdmitPatient"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("ignored (MDM^T02)"));

    let bad = std::env::temp_dir().join(testkit::unique_name("bad.hl7"));
    std::fs::write(
        &bad,
        b"MSH|^~\\&|EPIC||||20240101||ADT^A01|1|P|2.4\rPID|1||1\rzz|x\r",
    )
    .unwrap();
    let out = ward(&["convert", bad.to_str().unwrap()]);
    std::fs::remove_file(&bad).ok();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rejected: unparseable HL7"));
}

#[tokio::test]
async fn read_ids_publishes_serves_metrics_and_stops_on_sigterm() {
    use lapin::options::{BasicGetOptions, QueueDeleteOptions};

    let db = TestDb::migrated().await;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO ids.message (payload, payload_sha256, transport) VALUES ($1, sha256($1), 'mllp') RETURNING id",
    )
    .bind(&b"MSH|^~\\&|EPIC|UCLH|||20240101||ADT^A08|U1|P|2.4\rPID|1||40800000\rPV1|1|I|W1^B^1|||||||||||||||||V1\r"[..])
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let queue = testkit::unique_name("ward.test.cli");
    let dlq = testkit::unique_name("ward.test.cli.dlq");
    let metrics_port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args([
            "read-ids",
            "--database-url",
            &db.url,
            "--queue",
            &queue,
            "--dead-letter-queue",
            &dlq,
        ])
        .args([
            "--metrics-addr",
            &format!("127.0.0.1:{metrics_port}"),
            "--poll-interval",
            "200ms",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child.id());
    let connection =
        lapin::Connection::connect(&testkit::amqp_url(), lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let mut channel = connection.create_channel().await.unwrap();
    let mut body = None;
    for _ in 0..100 {
        match channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
        {
            Ok(Some(message)) => {
                body = Some(message.delivery.data);
                break;
            }
            Ok(None) => {}
            // The queue does not exist until the reader declares it, and the broker closes
            // the channel of a get on a missing queue.
            Err(_) => channel = connection.create_channel().await.unwrap(),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let message = interchange::Message::from_json(&body.expect("the reader published")).unwrap();
    assert_eq!(message.source_message_id(), Some(id.to_string().as_str()));

    // The position moves after the broker confirmed: poll rather than scrape once.
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = reqwest_like_get(metrics_port, "/metrics").await;
        if metrics.contains(&format!("message_reader_position {id}")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        metrics.contains(&format!("message_reader_position {id}")),
        "{metrics}"
    );

    terminate(child, guard, "ward read-ids");
    for q in [&queue, &dlq] {
        let _ = channel
            .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
}

#[tokio::test]
async fn up_runs_the_pipeline_for_simulate_summary_and_replay_and_stops_on_ctrl_c() {
    let db = TestDb::migrated().await;
    let queue = testkit::unique_name("ward.test.up");
    let dlq = testkit::unique_name("ward.test.up.dlq");
    let dlx = testkit::unique_name("ward.test.up.dlx");
    let mllp = format!("127.0.0.1:{}", free_port());
    let processor_metrics = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(["up", "--database-url", &db.url, "--queue", &queue])
        .args([
            "--backfill-queue",
            &testkit::unique_name("ward.test.up.backfill"),
        ])
        .args(["--dead-letter-queue", &dlq, "--dead-letter-exchange", &dlx])
        .args(["--mllp-addr", &mllp])
        .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
        .args([
            "--reader-metrics-addr",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .args(["--processor-metrics-addr", &processor_metrics])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child.id());
    for _ in 0..100 {
        if std::net::TcpStream::connect(&mllp).is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let sent = ward(&["simulate", "--to", &mllp, "--patients", "40", "--seed", "3"]);
    let said = String::from_utf8_lossy(&sent.stdout).into_owned();
    assert!(
        sent.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(said.contains("accepted, 0 refused"), "{said}");
    // Each stage works as its own login, none as the administrator who migrated.
    let logins: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT usename::text FROM pg_stat_activity
         WHERE datname = current_database() AND usename LIKE 'ward\\_%' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(logins, ["ward_listener", "ward_processor", "ward_reader"]);

    let summary = ward(&[
        "summary",
        "--database-url",
        &db.url,
        "--queue",
        &queue,
        "--wait",
        "120s",
    ]);
    let said = String::from_utf8_lossy(&summary.stdout).into_owned();
    assert!(
        summary.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&summary.stderr)
    );
    let patients: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT live_mrn_id) FROM star.mrn_to_live")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(patients >= 38, "about 40 patients, got {patients}");
    assert!(
        said.contains(&format!("patients              {patients}")),
        "{said}"
    );
    assert!(
        said.contains("hospital_visit_as_of"),
        "example queries: {said}"
    );
    // The processor serves its counts like the other stages.
    let metrics = http_get(&processor_metrics, "/metrics");
    let applied: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("event_processor_applied_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_default();
    assert!(applied > 100, "{metrics}");
    assert!(
        metrics.contains("event_processor_batch_seconds_bucket"),
        "{metrics}"
    );
    assert!(http_get(&processor_metrics, "/health").contains("200"));
    // The per-ward list counts the same visits as "current inpatients", and the URL printed
    // is the one in use, without its password.
    let number = |line: &str| -> i64 { line.split_whitespace().last().unwrap().parse().unwrap() };
    let inpatients = said
        .lines()
        .find(|l| l.trim_start().starts_with("current inpatients "))
        .map(number)
        .unwrap();
    let by_ward: i64 = said
        .lines()
        .skip_while(|l| !l.contains("current inpatients by ward:"))
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .map(number)
        .sum();
    assert_eq!(by_ward, inpatients, "{said}");
    let database = db.url.rsplit('/').next().unwrap();
    assert!(said.contains(&format!("/{database}`")), "{said}");
    assert!(!said.contains(":ward@"), "a password printed: {said}");

    let replayed = ward(&["replay", "--database-url", &db.url, "--into", "star_cli"]);
    assert!(
        replayed.status.success(),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    let (live, again): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM star.location_visit), (SELECT count(*) FROM star_cli.location_visit)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(live > 0);
    assert_eq!(live, again);
    let refused = ward(&["replay", "--database-url", &db.url, "--into", "star"]);
    assert!(!refused.status.success(), "the live schema is not empty");

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success(), "ward up exits 0 on Ctrl-C");
    std::mem::forget(guard);
    delete_queues(&[&queue, &dlq]).await;
}

#[test]
fn simulate_writes_a_reproducible_feed_that_convert_reads() {
    let dir = std::env::temp_dir().join(testkit::unique_name("ward-sim"));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.hl7"), dir.join("b.hl7"));
    for path in [&a, &b] {
        let out = ward(&[
            "simulate",
            "--patients",
            "25",
            "--seed",
            "9",
            "--file",
            path.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "same seed, same feed"
    );
    let converted = ward(&["convert", a.to_str().unwrap()]);
    assert!(
        converted.status.success(),
        "{}",
        String::from_utf8_lossy(&converted.stderr)
    );
    let lines = String::from_utf8_lossy(&converted.stdout).lines().count();
    assert!(lines >= 40, "every simulated message maps: {lines}");
    let bad = ward(&[
        "simulate",
        "--duplicates",
        "1.5",
        "--file",
        a.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--duplicates must be a fraction"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A plain HTTP GET on a local port.
async fn reqwest_like_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    out
}

/// Kills a child process if the test fails before stopping it.
struct KillOnDrop(u32);

/// Deletes a test's queues from RabbitMQ.
async fn delete_queues(queues: &[&str]) {
    let connection =
        lapin::Connection::connect(&testkit::amqp_url(), lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let channel = connection.create_channel().await.unwrap();
    for q in queues {
        let _ = channel.queue_delete((*q).into(), Default::default()).await;
    }
}

/// Stops a `ward` child with SIGTERM, as a service manager does, and asserts it exits 0.
fn terminate(mut child: std::process::Child, guard: KillOnDrop, what: &str) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success(), "{what} exits 0 on SIGTERM");
    std::mem::forget(guard);
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .status();
    }
}

#[test]
fn which_lab_system_sent_an_order_is_site_configuration() {
    let oru = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../testdata/UCLH-DHCT__emap/hl7-reader/src/test/resources/LabOrders/winpath/incremental_orders/05_oru_r01.txt",
    );
    let classes = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["convert"];
        args.extend_from_slice(extra);
        args.push(oru.to_str().unwrap());
        let out = ward(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|line| {
                let json: serde_json::Value = serde_json::from_str(line).unwrap();
                json["@class"]
                    .as_str()
                    .unwrap()
                    .rsplit('.')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    // R2: the implied ADT is dropped (PV1-2 `NH` is no patient class), the orders still flow.
    assert_eq!(classes(&[]), ["LabOrderMsg", "LabOrderMsg"]);
    // A site whose WinPath names itself otherwise: the orders are not WinPath's, and without
    // its implied ADT the message is ignored, with the reason.
    assert!(classes(&["--winpath-coding-systems", "WP"]).is_empty());
}

/// The response to a plain HTTP GET, status line included.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    out
}

/// Waits until something accepts TCP connections at `addr`.
async fn wait_for_port(addr: &str) -> bool {
    for _ in 0..150 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn listen_and_up_take_mllp_over_tls_only_when_the_plain_port_is_none() {
    let db = TestDb::migrated().await;
    let dir = std::env::temp_dir().join(testkit::unique_name("ward-cli-tls"));
    std::fs::create_dir_all(&dir).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let (cert_path, key_path) = (cert_path.to_str().unwrap(), key_path.to_str().unwrap());

    let alone = ward(&["listen", "--database-url", &db.url, "--mllp-addr", "none"]);
    assert!(!alone.status.success());
    let stderr = String::from_utf8_lossy(&alone.stderr);
    assert!(
        stderr.contains("--mllp-addr none needs --tls-addr"),
        "{stderr}"
    );

    let queue = testkit::unique_name("ward.test.tls-up");
    let dlq = testkit::unique_name("ward.test.tls-up.dlq");
    let dlx = testkit::unique_name("ward.test.tls-up.dlx");
    let up_extra = [
        "--backfill-queue",
        "none",
        "--queue",
        queue.as_str(),
        "--dead-letter-queue",
        dlq.as_str(),
        "--dead-letter-exchange",
        dlx.as_str(),
    ];
    for (command, extra) in [("listen", &[][..]), ("up", &up_extra[..])] {
        let tls = format!("127.0.0.1:{}", free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_ward"))
            .args([command, "--database-url", &db.url, "--mllp-addr", "none"])
            .args([
                "--tls-addr",
                &tls,
                "--tls-cert",
                cert_path,
                "--tls-key",
                key_path,
            ])
            .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
            .args(extra)
            .args(if command == "up" {
                vec![
                    "--reader-metrics-addr".to_owned(),
                    format!("127.0.0.1:{}", free_port()),
                    "--processor-metrics-addr".to_owned(),
                    format!("127.0.0.1:{}", free_port()),
                ]
            } else {
                Vec::new()
            })
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let guard = KillOnDrop(child.id());
        assert!(
            wait_for_port(&tls).await,
            "ward {command} serves MLLP over TLS"
        );
        terminate(child, guard, &format!("ward {command}"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    delete_queues(&[&queue, &dlq]).await;
}
