//! Least privilege, checked against a real PostgreSQL as each stage's role: every role reaches
//! what its stage does and nothing else, none can switch the IDS's triggers off, and nobody logs
//! in as the IDS's owner.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use testkit::{TestDb, sqlstate_as};

const REFUSED: &str = "42501";
const STAGES: [&str; 6] = [
    "ward_listener",
    "ward_reader",
    "ward_processor",
    "ward_replay",
    "ward_analyst",
    "ward_researcher",
];

const INSERT_IDS: &str = "INSERT INTO ids.message (payload, payload_sha256, transport)
                          VALUES ('\\x4d5348', sha256('\\x4d5348'), 'mllp')";
const INSERT_STAR: &str = "INSERT INTO star.mrn (mrn, stored_from) VALUES ('M1', now())";

/// What each role may (true) and may not (false) do.
const ACCESS: &[(&str, &str, bool)] = &[
    ("ward_listener", INSERT_IDS, true),
    ("ward_listener", "SELECT id FROM ids.message", true),
    ("ward_listener", "SELECT * FROM star.mrn", false),
    ("ward_listener", "SELECT * FROM reader.progress", false),
    ("ward_reader", "SELECT * FROM ids.message", true),
    (
        "ward_reader",
        "INSERT INTO reader.progress (reader, last_ids_id) VALUES ('r', 1)",
        true,
    ),
    ("ward_reader", INSERT_IDS, false),
    ("ward_reader", "SELECT * FROM star.mrn", false),
    ("ward_processor", INSERT_STAR, true),
    (
        "ward_processor",
        "UPDATE star.mrn SET nhs_number = NULL",
        true,
    ),
    ("ward_processor", "SELECT * FROM ids.message", false),
    ("ward_processor", INSERT_IDS, false),
    ("ward_processor", "SELECT * FROM reader.error", false),
    ("ward_replay", "SELECT * FROM ids.message", true),
    ("ward_replay", INSERT_IDS, false),
    ("ward_analyst", "SELECT * FROM star.mrn", true),
    (
        "ward_analyst",
        "SELECT * FROM star.hospital_visit_as_of(now())",
        true,
    ),
    ("ward_analyst", INSERT_STAR, false),
    ("ward_analyst", "DELETE FROM star.mrn", false),
    ("ward_analyst", "SELECT * FROM ids.message", false),
    ("ward_analyst", "SELECT * FROM reader.error", false),
];

#[tokio::test]
async fn each_stage_role_reaches_what_its_stage_does_and_nothing_else() {
    let db = TestDb::migrated().await;
    let mut wrong = Vec::new();
    for (role, sql, allowed) in ACCESS {
        let state = sqlstate_as(&db.pool, Some(role), sql).await;
        let ok = match allowed {
            true => state.is_none(),
            false => state.as_deref() == Some(REFUSED),
        };
        if !ok {
            wrong.push(format!("{role}: {sql}: {state:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn no_stage_role_can_change_the_ids_or_switch_its_triggers_off() {
    let db = TestDb::migrated().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(INSERT_IDS))
        .execute(&db.pool)
        .await
        .unwrap();
    for role in STAGES {
        for sql in [
            "UPDATE ids.message SET control_id = 'changed'",
            "DELETE FROM ids.message",
            "TRUNCATE ids.message CASCADE",
            "ALTER TABLE ids.message DISABLE TRIGGER message_insert_only",
            "ALTER TABLE ids.message DISABLE TRIGGER ALL",
            "DROP TRIGGER message_insert_only ON ids.message",
            "SET LOCAL session_replication_role = replica",
            "ALTER TABLE ids.message OWNER TO CURRENT_USER",
        ] {
            assert_eq!(
                sqlstate_as(&db.pool, Some(role), sql).await.as_deref(),
                Some(REFUSED),
                "{sql} as {role}"
            );
        }
    }
}

#[tokio::test]
async fn no_stage_role_is_a_superuser_and_nobody_logs_in_as_the_ids_owner() {
    let db = TestDb::migrated().await;
    let roles: Vec<(String, bool, bool)> = sqlx::query_as(
        "SELECT rolname::text, rolsuper, rolbypassrls FROM pg_roles
         WHERE rolname = ANY($1) ORDER BY 1",
    )
    .bind(STAGES)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(roles.len(), STAGES.len());
    assert!(
        roles
            .iter()
            .all(|(_, superuser, bypass)| !superuser && !bypass),
        "{roles:?}"
    );
    let (owner, can_log_in): (String, bool) = sqlx::query_as(
        "SELECT r.rolname::text, r.rolcanlogin FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
         WHERE c.oid = 'ids.message'::regclass",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((owner.as_str(), can_log_in), ("ward_owner", false));
    let schema_owner: String = sqlx::query_scalar(
        "SELECT pg_get_userbyid(nspowner)::text FROM pg_namespace WHERE nspname = 'ids'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(schema_owner, "ward_owner");
}
