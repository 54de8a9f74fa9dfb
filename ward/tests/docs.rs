//! The analyst documentation runs: every SQL statement in `docs/queries.md` is executed against
//! a freshly migrated warehouse, so a renamed column or table breaks the build, not an analyst's
//! afternoon.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::path::Path;

use testkit::TestDb;

/// The statements of every ```sql block of a Markdown text, each with the line it starts on.
fn statements(markdown: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_sql = false;
    let mut current = String::new();
    let mut start = 0;
    for (n, line) in markdown.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_sql = !in_sql && trimmed == "```sql";
            continue;
        }
        if !in_sql || trimmed.starts_with("--") || trimmed.is_empty() && current.is_empty() {
            continue;
        }
        if current.is_empty() {
            start = n + 1;
        }
        current.push_str(line);
        current.push('\n');
        // A statement ends at a `;`, perhaps followed by a comment.
        if trimmed
            .split("--")
            .next()
            .unwrap_or_default()
            .trim_end()
            .ends_with(';')
        {
            out.push((start, std::mem::take(&mut current)));
        }
    }
    assert!(
        current.trim().is_empty(),
        "an SQL statement without its `;`: {current}"
    );
    out
}

#[tokio::test]
async fn every_query_in_the_analyst_guide_runs_on_a_fresh_warehouse() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/queries.md");
    let guide = std::fs::read_to_string(path).unwrap();
    let statements = statements(&guide);
    assert!(
        statements.len() >= 10,
        "the guide's queries: {}",
        statements.len()
    );
    let db = TestDb::migrated().await;
    let mut failures = Vec::new();
    for (line, sql) in &statements {
        if let Err(error) = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&db.pool)
            .await
        {
            failures.push(format!("docs/queries.md:{line}: {error}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
