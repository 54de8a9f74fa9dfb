//! The analyst documentation runs: every SQL statement in `docs/queries.md` is executed against
//! a freshly migrated warehouse, so a renamed column or table breaks the build, not an analyst's
//! afternoon; and against the quick start's simulated day, where each must return rows (unless
//! the guide says why not), so its examples name values that exist.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

mod common;

use std::path::Path;

use testkit::TestDb;

/// What marks a statement that returns nothing on the quick start's day (data that comes from
/// source tables, or errors a clean day has none of).
const NO_ROWS: &str = "(no rows in the quick start";

/// One statement of the guide.
struct Statement {
    line: usize,
    sql: String,
    /// Whether it must return rows on the quick start's day.
    rows: bool,
}

/// The statements of every ```sql block of a Markdown text, each with the line it starts on.
fn statements(markdown: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut in_sql = false;
    let mut current = String::new();
    let mut start = 0;
    let mut rows = true;
    for (n, line) in markdown.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_sql = !in_sql && trimmed == "```sql";
            continue;
        }
        if in_sql && current.is_empty() && trimmed.contains(NO_ROWS) {
            rows = false;
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
            out.push(Statement {
                line: start,
                sql: std::mem::take(&mut current),
                rows: std::mem::replace(&mut rows, true),
            });
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
    for s in &statements {
        if let Err(error) = sqlx::raw_sql(sqlx::AssertSqlSafe(s.sql.clone()))
            .execute(&db.pool)
            .await
        {
            failures.push(format!("docs/queries.md:{}: {error}", s.line));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn the_data_dictionary_is_what_ward_dictionary_prints_for_a_fresh_warehouse() {
    let db = TestDb::migrated().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(["dictionary", "--database-url", &db.url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "## star.current_inpatient (view)",
        "## star.mrn (table)",
        "## ids.message (table)",
        "`star.bed_occupancy_at(at timestamp with time zone)`",
    ] {
        assert!(printed.contains(needle), "{needle}");
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/data-dictionary.md");
    if std::env::var_os("WARD_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &printed).unwrap();
    }
    let undescribed: Vec<&str> = printed
        .lines()
        .filter(|l| l.contains("(no description)"))
        .collect();
    assert!(undescribed.is_empty(), "{undescribed:#?}");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == printed,
        "docs/data-dictionary.md is not what the schema says: run this test with WARD_UPDATE_DOCS=1 (or `ward dictionary > docs/data-dictionary.md` on a freshly migrated database)"
    );
}

/// The day `scripts/demo` sends: `ward simulate`'s defaults with the demo's 300 patients.
fn quick_start_day() -> Vec<simulator::SimMessage> {
    simulator::generate(&simulator::Config {
        seed: 1,
        patients: 300,
        labs: 0.5,
        vitals: 0.5,
        conditions: 0.5,
        requests: 0.5,
        ..simulator::Config::default()
    })
}

#[tokio::test]
async fn every_query_in_the_analyst_guide_returns_rows_on_the_quick_start_day() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/queries.md");
    let statements = statements(&std::fs::read_to_string(path).unwrap());
    let db = TestDb::migrated().await;
    common::through_the_live_pipeline(&db, &quick_start_day()).await;
    let mut failures = Vec::new();
    for s in &statements {
        match sqlx::raw_sql(sqlx::AssertSqlSafe(s.sql.clone()))
            .fetch_all(&db.pool)
            .await
        {
            Err(error) => failures.push(format!("docs/queries.md:{}: {error}", s.line)),
            Ok(found) if found.is_empty() == s.rows => failures.push(format!(
                "docs/queries.md:{}: {} rows on the quick start's day{}",
                s.line,
                found.len(),
                if s.rows {
                    ""
                } else {
                    ", but it is marked as returning none"
                }
            )),
            Ok(_) => {}
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");

    // The views agree with the tables they summarise.
    let count = async |sql: &str| -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    let inpatients = count(
        "SELECT count(*) FROM star.hospital_visit
         WHERE admission_datetime IS NOT NULL AND discharge_datetime IS NULL",
    )
    .await;
    assert!(inpatients > 100, "{inpatients}");
    assert_eq!(
        count("SELECT count(*) FROM star.current_inpatient").await,
        inpatients
    );
    assert_eq!(
        count("SELECT sum(patients)::bigint FROM star.bed_occupancy").await,
        count(
            "SELECT count(DISTINCT (hospital_visit_id, l.department_code))
             FROM star.location_visit JOIN star.location l USING (location_id)
             WHERE discharge_datetime IS NULL"
        )
        .await
    );
    assert_eq!(
        count("SELECT sum(admissions)::bigint FROM star.admissions_and_discharges_per_day").await,
        count("SELECT count(*) FROM star.hospital_visit WHERE admission_datetime IS NOT NULL")
            .await
    );
    assert_eq!(
        count("SELECT count(*) FROM star.location_history").await,
        count("SELECT count(*) FROM star.location_visit").await
    );
    assert_eq!(
        count("SELECT count(*) FROM star.merged_mrn").await,
        count("SELECT count(*) FROM star.mrn_to_live WHERE mrn_id <> live_mrn_id").await
    );
}
