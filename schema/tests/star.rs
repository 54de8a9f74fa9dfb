//! The star schema's documentation, checked against a real PostgreSQL: analysts read the
//! schema through `\d+`, so every star table, view, column and function says what it holds.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use testkit::TestDb;

#[tokio::test]
async fn every_star_table_and_column_has_a_comment() {
    let db = TestDb::migrated().await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'star' AND c.relkind IN ('r', 'v') AND c.relname NOT LIKE '\\_%'
           AND obj_description(c.oid, 'pg_class') IS NULL
         ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(
        tables.is_empty(),
        "star tables without a comment: {tables:?}"
    );
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname || '.' || a.attname
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'star' AND c.relkind IN ('r', 'v') AND c.relname NOT LIKE '\\_%'
           AND a.attnum > 0 AND NOT a.attisdropped
           AND col_description(c.oid, a.attnum) IS NULL
         ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(
        columns.is_empty(),
        "star columns without a comment: {columns:?}"
    );
    let functions: Vec<String> = sqlx::query_scalar(
        "SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'star' AND obj_description(p.oid, 'pg_proc') IS NULL ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(
        functions.is_empty(),
        "star functions without a comment: {functions:?}"
    );
}
