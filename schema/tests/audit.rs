//! The access audit, against the real server `scripts/setup` configured: an analyst's SELECT is
//! in the server log, and the queries `docs/access-audit.md` gives find it by the MRN it named.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::Duration;

use sqlx::{Connection, PgConnection, Row};
use testkit::TestDb;

/// The guide's SQL blocks, in order: loading the log, then the queries.
fn guide_sql() -> Vec<String> {
    let guide = include_str!("../../docs/access-audit.md");
    guide
        .split("```sql\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn an_analysts_select_is_audited_and_the_guide_finds_who_looked_at_the_patient() {
    let db = TestDb::migrated().await;
    let loaded: String = sqlx::query_scalar("SHOW shared_preload_libraries")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        loaded.split(',').any(|l| l.trim() == "pgaudit"),
        "pgaudit is not loaded ({loaded:?}): run scripts/setup"
    );
    let sql = guide_sql();
    assert_eq!(
        sql.len(),
        3,
        "the guide's load, by-patient and by-table queries"
    );
    let (load, by_patient, by_table) = (&sql[0], &sql[1], &sql[2]);

    // An MRN nobody else uses, searched for by the analyst as a BI tool would: a parameter.
    let mrn = format!("A{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let mut analyst = PgConnection::connect_with(&db.options_as("ward_analyst"))
        .await
        .expect("log in as ward_analyst (scripts/setup creates the login)");
    let found: i64 = sqlx::query_scalar("SELECT count(*) FROM star.mrn WHERE mrn = $1")
        .bind(&mrn)
        .fetch_one(&mut analyst)
        .await
        .unwrap();
    assert_eq!(found, 0);
    analyst.close().await.unwrap();

    // The log collector writes asynchronously: read the logs until the line is there.
    let by_patient = by_patient.replace("40800000", &mrn);
    let mut admin = db.pool.acquire().await.unwrap();
    let mut rows = Vec::new();
    for _ in 0..40 {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP TABLE IF EXISTS server_log; {load}"
        )))
        .execute(&mut *admin)
        .await
        .expect("the guide's load of the server log");
        rows = sqlx::query(sqlx::AssertSqlSafe(by_patient.clone()))
            .fetch_all(&mut *admin)
            .await
            .expect("the guide's who-looked query");
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(rows.len(), 1, "one audited statement named {mrn}");
    let row = &rows[0];
    assert_eq!(row.get::<String, _>("user_name"), "ward_analyst");
    assert_eq!(row.get::<String, _>("database_name"), db.name());
    assert_eq!(row.get::<String, _>("object_type"), "TABLE");
    assert_eq!(row.get::<String, _>("object_name"), "star.mrn");
    assert!(row.get::<String, _>("statement").contains("WHERE mrn = $1"));

    let tables: Vec<(String, String)> = sqlx::query(sqlx::AssertSqlSafe(by_table.clone()))
        .fetch_all(&mut *admin)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("user_name"), r.get("object_name")))
        .collect();
    assert!(
        tables.contains(&("ward_analyst".to_owned(), "star.mrn".to_owned())),
        "{tables:?}"
    );
}
