//! Research governance end to end: `ward research` pseudonymises the patients of a populated
//! warehouse; the research views show pseudonyms, shifted dates and no identifiers; a patient
//! who opts out disappears from every research view at once; the same key gives the same
//! pseudonyms in a replay; the researcher's login reads the research views and nothing else.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

mod common;

use std::process::{Command, Output};

use testkit::{TestDb, sqlstate_as};

const KEY: &str = "a research key of thirty-two bytes or more";
const VIEWS: [&str; 6] = [
    "research_patient",
    "research_visit",
    "research_location_visit",
    "research_lab_result",
    "research_observation",
    "research_condition",
];

fn feed() -> Vec<simulator::SimMessage> {
    simulator::generate(&simulator::Config {
        seed: 11,
        patients: 30,
        labs: 0.6,
        vitals: 0.6,
        conditions: 0.6,
        ..simulator::Config::default()
    })
}

fn ward(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(args)
        .env_remove("WARD_DATABASE_URL")
        .env_remove("WARD_RESEARCH_KEY_FILE")
        .env("WARD_RESEARCH_KEY", KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn research(db: &TestDb, star: &str, extra: &[&str]) -> String {
    let mut args = vec!["research", "--database-url", &db.url, "--star-schema", star];
    args.extend_from_slice(&["--project", "P1"]);
    args.extend_from_slice(extra);
    String::from_utf8(ward(&args).stdout).unwrap()
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn research_views_hide_identities_shift_dates_and_drop_an_opted_out_patient_at_once() {
    let db = TestDb::migrated().await;
    common::through_the_live_pipeline(&db, &feed()).await;
    let said = research(&db, "star", &["--shift-dates"]);
    let live = count(
        &db,
        "SELECT count(*) FROM star.mrn m JOIN star.mrn_to_live t USING (mrn_id)
         WHERE t.live_mrn_id = m.mrn_id",
    )
    .await;
    assert!(
        said.starts_with(&format!("{live} patients pseudonymised")),
        "{said}"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM star.research_patient").await,
        live
    );

    // No view has a column that identifies, or free text.
    let identifying: Vec<String> = sqlx::query_scalar(
        "SELECT table_name || '.' || column_name FROM information_schema.columns
         WHERE table_schema = 'star' AND table_name = ANY($1)
           AND column_name ~ '(firstname|middlename|lastname|mrn|nhs|encounter|postcode$|comment|bytes|lab_number)'",
    )
    .bind(VIEWS)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(identifying.is_empty(), "{identifying:?}");
    // Dates are shifted, each patient's by its own non-zero number of days.
    let unshifted = count(
        &db,
        "SELECT count(*) FROM star.research_visit r JOIN star.hospital_visit v
           ON v.hospital_visit_id = r.visit_key
         WHERE r.admission_datetime = v.admission_datetime",
    )
    .await;
    assert_eq!(unshifted, 0);

    // A patient with rows in the clinical views opts out.
    let (mrn, pseudonym): (String, String) = sqlx::query_as(
        "SELECT m.mrn, p.pseudonym FROM star.research_pseudonym p JOIN star.mrn m USING (mrn_id)
         WHERE EXISTS (SELECT 1 FROM star.research_visit r WHERE r.pseudonym = p.pseudonym)
           AND EXISTS (SELECT 1 FROM star.research_location_visit r
                       WHERE r.pseudonym = p.pseudonym)
         ORDER BY m.mrn LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let rows_of = async |pseudonym: &str| {
        let mut n = 0;
        for view in VIEWS {
            n += sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM star.{view} WHERE pseudonym = $1"
            )))
            .bind(pseudonym)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        }
        n
    };
    assert!(rows_of(&pseudonym).await >= 3);
    let opt_out = interchange::Message::ResearchOptOut(interchange::research::ResearchOptOut {
        source_system: Some("EPIC".to_owned()),
        mrn: Some(mrn.clone()),
        last_updated: Some(chrono::Utc::now()),
        active: true,
        ..Default::default()
    });
    let processor = event_processor::Processor::new(event_processor::Config::default());
    let mut tx = db.pool.begin().await.unwrap();
    processor
        .process(&mut tx, &opt_out, chrono::Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(rows_of(&pseudonym).await, 0, "gone before any new run");
    let said = research(&db, "star", &["--shift-dates"]);
    assert!(said.contains("(1 removed"), "{said}");
    let kept: i64 =
        sqlx::query_scalar("SELECT count(*) FROM star.research_pseudonym WHERE pseudonym = $1")
            .bind(&pseudonym)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(kept, 0);
    assert_eq!(
        count(&db, "SELECT count(*) FROM star.research_patient").await,
        live - 1
    );

    // The researcher reads the research views and nothing else.
    let researcher = Some("ward_researcher");
    for view in VIEWS {
        let sql = format!("SELECT * FROM star.{view}");
        assert_eq!(
            sqlstate_as(&db.pool, researcher, &sql).await,
            None,
            "{view}"
        );
    }
    for refused in [
        "SELECT * FROM star.mrn",
        "SELECT * FROM star.core_demographic",
        "SELECT * FROM star.research_pseudonym",
        "SELECT * FROM star.research_cohort",
        "SELECT * FROM ids.message",
    ] {
        assert_eq!(
            sqlstate_as(&db.pool, researcher, refused).await.as_deref(),
            Some("42501"),
            "{refused}"
        );
    }
}

#[tokio::test]
async fn a_replay_gives_every_patient_the_same_pseudonym() {
    let db = TestDb::migrated().await;
    common::through_the_live_pipeline(&db, &feed()).await;
    ward(&[
        "replay",
        "--database-url",
        &db.url,
        "--into",
        "star_rebuild",
    ]);
    research(&db, "star", &[]);
    research(&db, "star_rebuild", &[]);
    let pseudonyms = async |schema: &str| -> Vec<(String, String)> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT m.mrn, p.pseudonym FROM {schema}.research_pseudonym p
             JOIN {schema}.mrn m USING (mrn_id) ORDER BY 1"
        )))
        .fetch_all(&db.pool)
        .await
        .unwrap()
    };
    let live = pseudonyms("star").await;
    assert!(live.len() >= 25, "{}", live.len());
    assert_eq!(pseudonyms("star_rebuild").await, live);
}
