//! The as-of functions analysts use to see what the warehouse believed at a stored time, and the
//! comments every star table and column carries.

use testkit::TestDb;

use crate::harness::*;

async fn stays_as_of(
    pool: &sqlx::PgPool,
    when: &str,
) -> Vec<(String, Option<chrono::DateTime<chrono::Utc>>)> {
    sqlx::query_as(
        "SELECT l.location_string, lv.discharge_datetime
         FROM star.location_visit_as_of($1) lv JOIN star.location l USING (location_id)
         ORDER BY lv.admission_datetime",
    )
    .bind(t(when))
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn location_and_hospital_visits_as_of_a_stored_time() {
    let db = TestDb::migrated().await;
    // Each message is stored a minute after its event time.
    ok(
        &db.pool,
        &[
            "A01 10:00 adm=10:00 at=A",
            "A02 11:00 at=B from=A",
            "A11 12:00 cancel=10:00 at=A",
        ],
    )
    .await;
    assert_eq!(stays_as_of(&db.pool, "09:00").await, []);
    assert_eq!(
        stays_as_of(&db.pool, "10:30").await,
        [("A".to_owned(), None)]
    );
    assert_eq!(
        stays_as_of(&db.pool, "11:30").await,
        [("A".to_owned(), Some(t("11:00"))), ("B".to_owned(), None)]
    );
    // The admission is cancelled: A is now only the inferred second before the transfer (L12),
    // while the past belief (admitted to A at 10:00) is kept.
    let now: Vec<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT admission_datetime FROM star.location_visit_as_of($1) ORDER BY 1",
    )
    .bind(t("12:30"))
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(now, [t("10:59:59"), t("11:00")]);
    let admission = |when: &'static str| {
        let pool = db.pool.clone();
        async move {
            let rows: Vec<Option<chrono::DateTime<chrono::Utc>>> =
                sqlx::query_scalar("SELECT admission_datetime FROM star.hospital_visit_as_of($1)")
                    .bind(t(when))
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            rows
        }
    };
    assert_eq!(admission("09:00").await, []);
    assert_eq!(admission("11:30").await, [Some(t("10:00"))]);
    assert_eq!(admission("12:30").await, [None]);
}

#[tokio::test]
async fn every_star_table_view_and_column_is_commented() {
    let db = TestDb::migrated().await;
    let missing: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname || coalesce('.' || a.attname, '')
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE n.nspname = 'star' AND c.relkind IN ('r', 'v') AND c.relname NOT LIKE '\\_sqlx%'
           AND (obj_description(c.oid, 'pg_class') IS NULL
                OR (a.attname IS NOT NULL AND col_description(c.oid, a.attnum) IS NULL))
         ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(missing.is_empty(), "no COMMENT ON: {missing:?}");
}
