//! Replay against real services: a synthetic feed with late, resent, cancelled and merged
//! messages goes through the live pipeline, then the same IDS range is replayed into another
//! schema, which must hold the same rows; and replay's resume, refusal, one-patient and promote
//! behaviours.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

mod common;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{start, through_the_live_pipeline, wait_up_to};
use replay::{Bound, Outcome, Progress, ReplayError};
use schema::StarSchema;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use testkit::TestDb;
use tokio_util::sync::CancellationToken;

fn rough_feed(patients: usize) -> Vec<simulator::SimMessage> {
    simulator::generate(&simulator::Config {
        seed: 7,
        patients,
        out_of_order: 0.1,
        duplicates: 0.05,
        merges: 0.1,
        cancels: 0.1,
        labs: 0.5,
        vitals: 0.3,
        conditions: 0.5,
        requests: 0.5,
        ..simulator::Config::default()
    })
}

async fn pool_into(db: &TestDb, schema: &StarSchema) -> PgPool {
    let options = PgConnectOptions::from_str(&db.url)
        .unwrap()
        .options([("search_path", schema.search_path())]);
    PgPoolOptions::new()
        .max_connections(5)
        .connect_with(options)
        .await
        .unwrap()
}

fn config(target: &StarSchema) -> replay::Config {
    replay::Config {
        from: None,
        to: None,
        target: target.clone(),
        mrn: None,
        site: message_reader::SiteConfig::default(),
        processor: event_processor::Config::default(),
        batch_size: 200,
        lanes: 4,
        allow_existing: false,
    }
}

async fn replay_into(db: &TestDb, config: replay::Config) -> Result<Outcome, ReplayError> {
    let pool = pool_into(db, &config.target).await;
    replay::run(
        config,
        replay::Resources { pool },
        Arc::new(Progress::default()),
        CancellationToken::new(),
    )
    .await
}

/// Every table of a star schema, each as its sorted rows in JSON without surrogate ids and
/// processing times (`stored_*`, when a dead letter was recorded or retried).
async fn contents(pool: &PgPool, schema: &str) -> Vec<(String, Vec<String>)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = $1 AND table_type = 'BASE TABLE'
           AND table_name NOT IN ('_sqlx_migrations', 'replay')
         ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out = Vec::new();
    for table in tables {
        let dropped: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = $1 AND table_name = $2
               AND ((column_name LIKE '%\\_id' AND data_type = 'bigint')
                    OR column_name IN ('stored_from', 'stored_until', 'recorded_at', 'retried_at'))",
        )
        .bind(schema)
        .bind(&table)
        .fetch_all(pool)
        .await
        .unwrap();
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT (to_jsonb(t) - $1::text[])::text AS r FROM {schema}.{table} t ORDER BY r"
        )))
        .bind(&dropped)
        .fetch_all(pool)
        .await
        .unwrap();
        out.push((table, rows));
    }
    out
}

/// A schema's foreign keys and indexes, by name and definition, the schema's name taken out.
async fn keys_and_indexes(pool: &PgPool, schema: &str) -> Vec<String> {
    // With only pg_catalog on the path, definitions name every table with its schema.
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET search_path = pg_catalog")
        .execute(&mut *conn)
        .await
        .unwrap();
    let definitions: Vec<String> = sqlx::query_scalar(
        "SELECT 'key ' || c.relname || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid)
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
         WHERE con.contype = 'f' AND con.connamespace = $1::regnamespace
         UNION ALL
         SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = $1
         ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    definitions
        .into_iter()
        .map(|d| d.replace(&format!("{schema}."), "<schema>."))
        .collect()
}

/// The relations surrogate ids stand for, by natural keys.
async fn relations(pool: &PgPool, schema: &str) -> Vec<String> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT r FROM (
           SELECT 'live ' || m.mrn || ' -> ' || l.mrn AS r
             FROM {schema}.mrn_to_live ml JOIN {schema}.mrn m USING (mrn_id)
             JOIN {schema}.mrn l ON l.mrn_id = ml.live_mrn_id
           UNION ALL
           SELECT 'visit ' || hv.encounter || ' of ' || m.mrn
             FROM {schema}.hospital_visit hv JOIN {schema}.mrn m USING (mrn_id)
           UNION ALL
           SELECT 'stay ' || hv.encounter || ' at ' || l.location_string || ' from '
                  || coalesce(lv.admission_datetime::text, '?') || ' to '
                  || coalesce(lv.discharge_datetime::text, '?')
             FROM {schema}.location_visit lv JOIN {schema}.hospital_visit hv USING (hospital_visit_id)
             JOIN {schema}.location l USING (location_id)
           UNION ALL
           SELECT 'demographics ' || m.mrn || ' ' || coalesce(d.lastname, '?')
             FROM {schema}.core_demographic d JOIN {schema}.mrn m USING (mrn_id)
           UNION ALL
           SELECT 'plan ' || hv.encounter || ' ' || p.event_type || ' ' || coalesce(l.location_string, '?')
             FROM {schema}.planned_movement p JOIN {schema}.hospital_visit hv USING (hospital_visit_id)
             LEFT JOIN {schema}.location l USING (location_id)
         ) x ORDER BY r"
    )))
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn replaying_the_ids_rebuilds_exactly_what_the_live_pipeline_built() {
    let db = TestDb::migrated().await;
    let feed = rough_feed(900);
    assert!(
        feed.len() >= 2_000,
        "a few thousand messages, got {}",
        feed.len()
    );
    through_the_live_pipeline(&db, &feed).await;

    let target = StarSchema::new("star_replayed").unwrap();
    let outcome = replay_into(&db, config(&target)).await.unwrap();
    let last: i64 = sqlx::query_scalar("SELECT max(id) FROM ids.message")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Finished { from: 1, to: last });

    let live = contents(&db.pool, "star").await;
    let replayed = contents(&db.pool, "star_replayed").await;
    assert!(
        live.iter()
            .any(|(t, rows)| t == "location_visit_audit" && rows.len() > 100)
    );
    // The feed's labs, microbiology included, and vital signs are part of what is compared.
    for (table, at_least) in [
        ("visit_observation", 1_000),
        ("patient_condition", 100),
        ("patient_condition_audit", 1),
        ("allergen_reaction", 50),
        ("condition_visits", 100),
        ("visit_observation_audit", 1),
        ("lab_result", 1_000),
        ("lab_isolate", 1),
        ("lab_sensitivity", 1),
        ("consultation_request", 20),
        ("consultation_request_audit", 5),
        ("advance_decision", 5),
        ("request_answer", 40),
    ] {
        assert!(
            live.iter()
                .any(|(t, rows)| t == table && rows.len() >= at_least),
            "{table}: fewer than {at_least} rows live"
        );
    }
    // An ED attendance has a start (its presentation, PV1-44 of the A04) and, when the patient
    // went home from ED, an end: ED stays can be measured.
    let (presented, ed_stays): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE presentation_datetime IS NOT NULL),
                count(*) FILTER (WHERE patient_class = 'EMERGENCY' AND presentation_datetime IS NOT NULL
                                   AND discharge_datetime > presentation_datetime)
         FROM star.hospital_visit",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(presented > 50 && ed_stays > 10, "{presented} {ed_stays}");
    // The simulated vitals, conditions and requests are all applied (whatever the ADT rules
    // refuse).
    let refused: Vec<(String, i64)> = sqlx::query_as(
        "SELECT rule, count(*) FROM star.dead_letter
         WHERE rule ~ '^(F|K|Q|C8|C9|NOT-BUILT)' GROUP BY rule",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(live.len(), replayed.len());
    for ((table, a), (_, b)) in live.iter().zip(&replayed) {
        assert_eq!(a.len(), b.len(), "{table}: row counts differ");
        assert!(a == b, "{table}: rows differ");
    }
    assert_eq!(
        relations(&db.pool, "star").await,
        relations(&db.pool, "star_replayed").await
    );
    let merged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM star_replayed.mrn_to_live WHERE mrn_id <> live_mrn_id",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(merged > 0, "the feed's merges are in the replay");
}

#[tokio::test]
async fn an_interrupted_replay_resumes_to_the_same_rows_and_a_full_schema_is_refused() {
    let db = TestDb::migrated().await;
    let feed = rough_feed(150);
    through_the_live_pipeline(&db, &feed).await;

    // Stop after the first batches, as Ctrl-C would.
    let target = StarSchema::new("star_resumed").unwrap();
    let progress = Arc::new(Progress::default());
    let shutdown = CancellationToken::new();
    let watcher = {
        let (progress, shutdown) = (Arc::clone(&progress), shutdown.clone());
        tokio::spawn(async move {
            while progress.done.load(Ordering::Relaxed) < 100 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            shutdown.cancel();
        })
    };
    let pool = pool_into(&db, &target).await;
    let first = replay::run(
        replay::Config {
            batch_size: 50,
            ..config(&target)
        },
        replay::Resources { pool },
        progress,
        shutdown,
    )
    .await
    .unwrap();
    watcher.await.unwrap();
    let Outcome::Interrupted { at } = first else {
        panic!("expected an interruption, got {first:?}")
    };
    let recorded: i64 = sqlx::query_scalar("SELECT last_ids_id FROM star_resumed.replay")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(recorded, at, "the position committed with the rows");
    // Loaded without foreign keys and audit indexes, recorded for the finish to restore.
    let deferred: i64 = sqlx::query_scalar("SELECT count(*) FROM star_resumed.replay_deferred")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(deferred > 10, "{deferred} deferred");
    assert_ne!(
        keys_and_indexes(&db.pool, "star").await,
        keys_and_indexes(&db.pool, "star_resumed").await
    );

    let second = replay_into(&db, config(&target)).await.unwrap();
    assert!(matches!(second, Outcome::Finished { from: 1, .. }));
    // Finished: every foreign key and index is back, as the migrations define them.
    assert_eq!(
        keys_and_indexes(&db.pool, "star").await,
        keys_and_indexes(&db.pool, "star_resumed").await
    );
    let deferred: i64 = sqlx::query_scalar("SELECT count(*) FROM star_resumed.replay_deferred")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(deferred, 0);
    assert_eq!(
        contents(&db.pool, "star").await,
        contents(&db.pool, "star_resumed").await
    );
    assert_eq!(
        relations(&db.pool, "star").await,
        relations(&db.pool, "star_resumed").await
    );

    // The live schema holds data that is no replay's: refused.
    let refused = replay_into(&db, config(&StarSchema::live())).await;
    assert!(
        matches!(refused, Err(ReplayError::NotEmpty(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn one_patient_replay_holds_that_patient_and_the_record_merged_into_it() {
    let db = TestDb::migrated().await;
    let feed = rough_feed(150);
    through_the_live_pipeline(&db, &feed).await;
    // A merged person: the surviving MRN of an A40 in the feed.
    let (survivor, merged): (String, String) = sqlx::query_as(
        "SELECT l.mrn, m.mrn FROM star.mrn_to_live ml JOIN star.mrn m USING (mrn_id)
         JOIN star.mrn l ON l.mrn_id = ml.live_mrn_id WHERE ml.mrn_id <> ml.live_mrn_id ORDER BY 1 LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();

    let target = StarSchema::new("scratch_one").unwrap();
    let outcome = replay_into(
        &db,
        replay::Config {
            mrn: Some(survivor.clone()),
            ..config(&target)
        },
    )
    .await
    .unwrap();
    assert!(matches!(outcome, Outcome::Finished { .. }));
    let mrns: Vec<String> = sqlx::query_scalar("SELECT mrn FROM scratch_one.mrn ORDER BY mrn")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let mut expected = vec![survivor.clone(), merged];
    expected.sort();
    assert_eq!(mrns, expected);
    let visits = |schema: &'static str| {
        let pool = db.pool.clone();
        let survivor = survivor.clone();
        async move {
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT hv.encounter || coalesce(hv.discharge_datetime::text, '-')
                 FROM {schema}.hospital_visit hv JOIN {schema}.mrn_to_live ml USING (mrn_id)
                 JOIN {schema}.mrn l ON l.mrn_id = ml.live_mrn_id WHERE l.mrn = $1 ORDER BY 1"
            )))
            .bind(survivor)
            .fetch_all(&pool)
            .await
            .unwrap();
            rows
        }
    };
    assert_eq!(visits("star").await, visits("scratch_one").await);
}

#[tokio::test]
async fn a_finished_replay_is_promoted_to_star_and_the_old_star_is_kept() {
    let db = TestDb::migrated().await;
    let feed = rough_feed(60);
    through_the_live_pipeline(&db, &feed).await;
    let target = StarSchema::new("star_next").unwrap();
    let before = contents(&db.pool, "star").await;

    // Unfinished or single-patient replays are refused.
    let partial = replay_into(
        &db,
        replay::Config {
            to: Some(Bound::Id(5)),
            ..config(&target)
        },
    )
    .await
    .unwrap();
    assert_eq!(partial, Outcome::Finished { from: 1, to: 5 });
    sqlx::query("UPDATE star_next.replay SET finished_at = NULL")
        .execute(&db.pool)
        .await
        .unwrap();
    assert!(
        replay::promote(&db.pool, &target).await.is_err(),
        "an unfinished replay is not promoted"
    );

    // Extending the same replay to the end finishes it.
    replay_into(&db, config(&target)).await.unwrap();
    let retired = replay::promote(&db.pool, &target).await.unwrap();
    assert!(retired.starts_with("star_before_"), "{retired}");
    assert_eq!(
        contents(&db.pool, "star").await,
        before,
        "the promoted schema holds the same rows"
    );
    assert_eq!(
        contents(&db.pool, &retired).await,
        before,
        "the old star is kept"
    );
    let gone: bool = sqlx::query_scalar("SELECT to_regclass('star_next.mrn') IS NULL")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(gone);
    // The as-of functions follow the rename (they must not name their schema).
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM star.hospital_visit_as_of(now())")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let visits: i64 = sqlx::query_scalar("SELECT count(*) FROM star.hospital_visit")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(open, visits);
}

#[tokio::test]
async fn promote_carries_analysts_grants_to_the_new_star_and_closes_the_old_one() {
    let db = TestDb::migrated().await;
    through_the_live_pipeline(&db, &rough_feed(20)).await;
    let analyst = testkit::unique_name("analyst").replace('.', "_");
    for sql in [
        format!("CREATE ROLE {analyst}"),
        format!("GRANT USAGE ON SCHEMA star TO {analyst}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA star TO {analyst}"),
        format!("ALTER DEFAULT PRIVILEGES IN SCHEMA star GRANT SELECT ON TABLES TO {analyst}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&db.pool)
            .await
            .unwrap();
    }
    let target = StarSchema::new("star_next").unwrap();
    replay_into(&db, config(&target)).await.unwrap();
    let retired = replay::promote(&db.pool, &target).await.unwrap();

    let mut conn = db.pool.acquire().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SET ROLE {analyst}")))
        .execute(&mut *conn)
        .await
        .unwrap();
    let mrns: i64 = sqlx::query_scalar("SELECT count(*) FROM star.mrn")
        .fetch_one(&mut *conn)
        .await
        .expect("the analyst reads the promoted star");
    assert!(mrns > 0);
    let old = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {retired}.mrn"
    )))
    .fetch_one(&mut *conn)
    .await;
    let refused = old.expect_err("the retired copy is closed to the analyst");
    assert!(
        refused.to_string().contains("permission denied"),
        "{refused}"
    );
    sqlx::raw_sql("RESET ROLE")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    // Tables a later migration adds to star are granted as before.
    let defaults: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace,
                              aclexplode(d.defaclacl) a
         WHERE n.nspname = 'star' AND a.grantee = $1::regrole AND a.privilege_type = 'SELECT'",
    )
    .bind(&analyst)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(defaults, 1, "default privileges follow star");

    // --drop-old removes the retired copy, and nothing else.
    assert!(replay::drop_retired(&db.pool, "star").await.is_err());
    replay::drop_retired(&db.pool, &retired).await.unwrap();
    let kept: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'star%' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(kept, ["star"]);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP OWNED BY {analyst}; DROP ROLE {analyst}"
    )))
    .execute(&db.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn the_running_processor_writes_into_the_promoted_schema() {
    let db = TestDb::migrated().await;
    let running = start(&db).await;
    let first = simulator::generate(&simulator::Config {
        seed: 21,
        patients: 30,
        ..simulator::Config::default()
    });
    let sent = simulator::send::send(running.addr, &first, 2, None)
        .await
        .unwrap();
    assert_eq!(sent.refused, 0);
    let pool = db.pool.clone();
    let stats = Arc::clone(&running.stats);
    let caught_up = async || {
        let originals: i64 =
            sqlx::query_scalar("SELECT count(*) FROM ids.message WHERE duplicate_of IS NULL")
                .fetch_one(&pool)
                .await
                .unwrap();
        stats.applied.load(Ordering::Relaxed) + stats.dead_lettered.load(Ordering::Relaxed)
            == originals as u64
    };
    wait_up_to(Duration::from_secs(120), "the first feed", caught_up).await;

    // Rebuild with location ids unlike the live schema's (created in reverse order first), so
    // a processor still using ids cached from the old schema would point stays at wrong places.
    let target = StarSchema::new("star_next").unwrap();
    let first_only = replay::Config {
        to: Some(Bound::Id(1)),
        ..config(&target)
    };
    replay_into(&db, first_only).await.unwrap();
    sqlx::query(
        "INSERT INTO star_next.location (location_string)
         SELECT location_string FROM star.location ORDER BY location_string DESC
         ON CONFLICT DO NOTHING",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    replay_into(&db, config(&target)).await.unwrap();
    let retired = replay::promote(&db.pool, &target).await.unwrap();

    // New patients after the switch land in the promoted schema, not the retired one.
    // The same journeys (so the same places, cached before the switch) for new patients.
    let second = simulator::generate(&simulator::Config {
        seed: 21,
        patients: 30,
        ..simulator::Config::default()
    });
    let second: Vec<_> = second
        .into_iter()
        .map(|mut m| {
            let text = String::from_utf8_lossy(&m.bytes)
                .replace("|SYN", "|SYX")
                .replace("SIM", "SXM");
            m.bytes = bytes::Bytes::from(text);
            m
        })
        .collect();
    simulator::send::send(running.addr, &second, 2, None)
        .await
        .unwrap();
    wait_up_to(Duration::from_secs(120), "the second feed", caught_up).await;
    let count = |schema: String| {
        let pool = db.pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {schema}.mrn WHERE mrn LIKE 'SYX%'"
            )))
            .fetch_one(&pool)
            .await
            .unwrap();
            n
        }
    };
    assert!(
        count("star".to_owned()).await > 0,
        "the promoted star gets the new patients"
    );
    assert_eq!(
        count(retired.clone()).await,
        0,
        "the retired schema stays as it was"
    );
    running.stop().await;
    // Stays written after the switch name the right places: as a replay of everything has them.
    let check = StarSchema::new("star_check").unwrap();
    replay_into(&db, config(&check)).await.unwrap();
    let (live, check) = (
        relations(&db.pool, "star").await,
        relations(&db.pool, "star_check").await,
    );
    let wrong: Vec<&String> = live.iter().filter(|r| !check.contains(r)).collect();
    assert!(
        wrong.is_empty() && live.len() == check.len(),
        "not as replayed: {wrong:?}"
    );
}

/// Lanes read ahead what their messages read first, all at once; one message at a time reads as
/// it goes. The same messages (late, resent, cancelled, merged) must give the same rows.
#[tokio::test]
async fn lanes_reading_ahead_give_the_rows_one_message_at_a_time_gives() {
    use message_reader::reader::{Row, Triage, triage};

    let db = TestDb::migrated().await;
    let site = message_reader::SiteConfig::default();
    let mut messages = Vec::new();
    for (n, sim) in rough_feed(600).iter().enumerate() {
        let row = Row {
            id: n as i64 + 1,
            payload: sim.bytes.to_vec(),
            duplicate_of: None,
            header_error: None,
        };
        if let Triage::Mapped(mapped) = triage(&row, &site) {
            messages.extend(mapped);
        }
    }
    assert!(messages.len() > 1_000, "{} messages", messages.len());

    let laned = StarSchema::new("star_laned").unwrap();
    let laned_pool = pool_into(&db, &laned).await;
    schema::migrate_star(&laned_pool, &laned).await.unwrap();
    let processor = event_processor::Processor::default();
    for batch in messages.chunks(256) {
        event_processor::lanes::apply_run(&processor, &laned_pool, batch, 4)
            .await
            .unwrap();
    }

    let single = StarSchema::new("star_single").unwrap();
    let single_pool = pool_into(&db, &single).await;
    schema::migrate_star(&single_pool, &single).await.unwrap();
    let processor = event_processor::Processor::default();
    for batch in messages.chunks(256) {
        let mut tx = single_pool.begin().await.unwrap();
        processor.begin(&mut tx).await.unwrap();
        for message in batch {
            event_processor::consumer::apply_message(&processor, &mut tx, message)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }

    let laned_rows = contents(&db.pool, "star_laned").await;
    let single_rows = contents(&db.pool, "star_single").await;
    assert!(
        laned_rows
            .iter()
            .any(|(t, rows)| t == "location_visit_audit" && rows.len() > 50)
    );
    assert_eq!(laned_rows.len(), single_rows.len());
    for ((table, a), (_, b)) in laned_rows.iter().zip(&single_rows) {
        assert_eq!(a.len(), b.len(), "{table}: row counts differ");
        assert!(a == b, "{table}: rows differ");
    }
    assert_eq!(
        relations(&db.pool, "star_laned").await,
        relations(&db.pool, "star_single").await
    );
}

#[tokio::test]
async fn a_replay_walks_over_gaps_in_the_ids_ids_and_stops_at_the_last_message() {
    let db = TestDb::migrated().await;
    // Stored as the listener stores them, with stretches of ids no row holds (rolled-back
    // inserts leave them) far wider than a round.
    let feed = simulator::generate(&simulator::Config {
        seed: 3,
        patients: 6,
        ..simulator::Config::default()
    });
    assert!(feed.len() >= 8, "{} messages", feed.len());
    for (n, message) in feed.iter().enumerate() {
        if n % 3 == 2 {
            sqlx::query("SELECT setval(pg_get_serial_sequence('ids.message', 'id'), nextval(pg_get_serial_sequence('ids.message', 'id')) + 5000)")
                .execute(&db.pool)
                .await
                .unwrap();
        }
        sqlx::query(
            "INSERT INTO ids.message (payload, payload_sha256, transport, control_id)
             VALUES ($1, sha256($1), 'test', $2)",
        )
        .bind(message.bytes.as_ref())
        .bind(&message.control_id)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let (first, last): (i64, i64) = sqlx::query_as("SELECT min(id), max(id) FROM ids.message")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(last - first > 10_000, "gaps made");

    let whole = StarSchema::new("star_whole").unwrap();
    let outcome = replay_into(
        &db,
        replay::Config {
            batch_size: 1_000_000,
            ..config(&whole)
        },
    )
    .await
    .unwrap();
    assert_eq!(
        outcome,
        Outcome::Finished {
            from: first,
            to: last
        }
    );
    // Rounds of 2 ids over the same rows, and a range whose ends lie beyond the ids there are.
    let gapped = StarSchema::new("star_gapped").unwrap();
    let outcome = replay_into(
        &db,
        replay::Config {
            batch_size: 2,
            from: Some(Bound::Id(0)),
            to: Some(Bound::Id(last + 1_000_000_000)),
            ..config(&gapped)
        },
    )
    .await
    .unwrap();
    assert_eq!(
        outcome,
        Outcome::Finished {
            from: first,
            to: last
        }
    );
    let patients: i64 = sqlx::query_scalar("SELECT count(*) FROM star_gapped.mrn")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(patients >= 6, "{patients} patients");
    assert_eq!(
        contents(&db.pool, "star_whole").await,
        contents(&db.pool, "star_gapped").await
    );
}

#[tokio::test]
async fn a_replay_reproduces_history_the_table_reader_backfilled() {
    use event_processor::consumer::{ConsumerConfig, ConsumerStats};
    let db = TestDb::migrated().await;
    through_the_live_pipeline(&db, &rough_feed(60)).await;

    // A source table of problems for the feed's patients, read into a backfill queue.
    let source = TestDb::empty().await;
    let mrns: Vec<String> = sqlx::query_scalar("SELECT mrn FROM star.mrn ORDER BY mrn LIMIT 30")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE problem_list (problem_id serial PRIMARY KEY, updated_at timestamptz,
             mrn text, dx_code text, dx_name text, noted date)",
    )
    .execute(&source.pool)
    .await
    .unwrap();
    for (i, mrn) in mrns.iter().enumerate() {
        sqlx::query(
            "INSERT INTO problem_list (updated_at, mrn, dx_code, dx_name, noted)
             VALUES ('2020-01-01'::timestamptz + make_interval(days => $1), $2, 'K' || $1 % 4, 'Problem', '2019-06-01')",
        )
        .bind(i as i32)
        .bind(mrn)
        .execute(&source.pool)
        .await
        .unwrap();
    }
    let sources =
        std::env::temp_dir().join(format!("{}.toml", testkit::unique_name("replay-sources")));
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
order_by = "updated_at"
key = "problem_id"
sql = "SELECT * FROM problem_list"

[source.query.fields]
updatedDateTime = "updated_at"
mrn = "mrn"
conditionCode = "dx_code"
conditionName = {{ iv = "dx_name" }}
epicConditionId = {{ iv = "problem_id" }}
addedDate = "noted"
"#,
            source.url
        ),
    )
    .unwrap();
    let backfill = broker::Topology {
        queue: testkit::unique_name("ward.test.replay.backfill"),
        dead_letter_exchange: testkit::unique_name("ward.test.replay.dlx"),
        dead_letter_queue: testkit::unique_name("ward.test.replay.dlq"),
        quorum: false,
        expires_ms: Some(600_000),
        ..broker::Topology::backfill()
    };
    let reading = table_reader::Config {
        sources: table_reader::Sources::load(&sources).unwrap(),
        site_zone: chrono_tz::Europe::London,
        from: None,
        until: None,
        poll_interval: Duration::from_millis(50),
        once: true,
    };
    let stats = Arc::new(table_reader::Stats::new(&reading.sources));
    table_reader::run(
        reading,
        table_reader::Resources {
            pool: db.pool.clone(),
            publisher: broker::Publisher::new(testkit::amqp_url(), backfill.clone(), 64),
        },
        Arc::clone(&stats),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        stats.query("clarity", "problems").unwrap().published.get(),
        30
    );

    // The processor applies it (its live queue is empty).
    let live = broker::Topology {
        queue: testkit::unique_name("ward.test.replay.live"),
        ..backfill.clone()
    };
    broker::Publisher::new(testkit::amqp_url(), live.clone(), 1)
        .connect()
        .await
        .unwrap();
    let consumer_stats = Arc::new(ConsumerStats::default());
    let shutdown = CancellationToken::new();
    let processor = tokio::spawn(event_processor::consumer::run(
        ConsumerConfig {
            backfill_queue: Some(backfill.queue.clone()),
            ..ConsumerConfig::new(testkit::amqp_url(), live.queue.clone())
        },
        event_processor::Processor::default(),
        db.pool.clone(),
        Arc::clone(&consumer_stats),
        shutdown.clone(),
    ));
    wait_up_to(Duration::from_secs(60), "the backfill", async || {
        consumer_stats.backfill_applied.load(Ordering::Relaxed) == 30
    })
    .await;
    shutdown.cancel();
    processor.await.unwrap();
    let backfilled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM star.patient_condition WHERE internal_id IS NOT NULL AND added_date = '2019-06-01'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        backfilled, 30,
        "the backfilled problems are in the live star"
    );

    let target = StarSchema::new("star_with_backfill").unwrap();
    replay_into(&db, config(&target)).await.unwrap();
    let (live, replayed) = (
        contents(&db.pool, "star").await,
        contents(&db.pool, "star_with_backfill").await,
    );
    for ((table, a), (_, b)) in live.iter().zip(&replayed) {
        assert_eq!(a.len(), b.len(), "{table}: row counts differ");
        assert!(a == b, "{table}: rows differ");
    }
}
