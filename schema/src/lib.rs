//! Every SQL migration Ward runs, one migrator per schema Ward owns.
//!
//! The SQL lives in `migrations/<schema>/NNNN_name.sql`, embedded at compile time. Each schema
//! keeps its own history table inside itself (`ids._sqlx_migrations`), so the IDS and the star
//! schema can be migrated, rebuilt and reasoned about separately. A landed migration is never
//! edited: sqlx checks each applied migration's checksum and refuses to run on a mismatch.
//! Migrating takes a PostgreSQL advisory lock, so services starting at once are safe.
//!
//! The star schema can exist more than once in a database — the live `star`, and schemas that
//! `ward replay` rebuilds beside it — so its migrations are written for `star` and retargeted by
//! name ([`star_migrator_into`]), keeping the checksums of the text as written. The processor's
//! SQL names star tables unqualified and runs with `search_path` set to its target schema
//! ([`StarSchema::search_path`]).

mod dictionary;
pub mod research;

use std::borrow::Cow;

use sqlx::PgPool;
use sqlx::migrate::{MigrateError, Migration, Migrator};

pub use dictionary::dictionary;

/// The Immutable Data Store schema, `ids`.
pub fn ids_migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("migrations/ids");
    migrator.create_schema("ids");
    migrator.dangerous_set_table_name("ids._sqlx_migrations");
    migrator
}

/// The readers' state, `reader` (positions and the error table); needs `ids`.
pub fn reader_migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("migrations/reader");
    migrator.create_schema("reader");
    migrator.dangerous_set_table_name("reader._sqlx_migrations");
    migrator
}

/// The live star schema, `star`: what analysts query.
pub fn star_migrator() -> Migrator {
    star_migrator_into(&StarSchema::live())
}

/// The star schema's migrations, creating it under another name (a replay's target).
pub fn star_migrator_into(target: &StarSchema) -> Migrator {
    let written = sqlx::migrate!("migrations/star");
    let migrations: Vec<Migration> = written
        .iter()
        .map(|m| Migration {
            version: m.version,
            description: m.description.clone(),
            migration_type: m.migration_type,
            sql: sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(retarget(
                m.sql.as_str(),
                target.name(),
            ))),
            // The checksum of the text as written: the same migration whatever its target.
            checksum: m.checksum.clone(),
            no_tx: m.no_tx,
        })
        .collect();
    let mut migrator = Migrator {
        migrations: Cow::Owned(migrations),
        ..written
    };
    migrator.create_schema(target.name().to_owned());
    migrator.dangerous_set_table_name(format!("{}._sqlx_migrations", target.name()));
    migrator
}

/// Renames the schema `star` in migration SQL: every `star` that qualifies a name (`star.x`) or
/// is the schema itself (`SCHEMA star;`, `SCHEMA star IS`, `IN SCHEMA star GRANT`). Prose such as "every star table" in
/// comments is left alone.
fn retarget(sql: &str, schema: &str) -> String {
    if schema == "star" {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find("star") {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let preceded = out
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '"');
        let after = &from[4..];
        let qualifies = after.starts_with('.')
            || after.starts_with(';')
            || after.starts_with(" IS ")
            || out.ends_with("SCHEMA ");
        if !preceded && qualifies {
            out.push_str(schema);
        } else {
            out.push_str("star");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The name of a star schema: the live `star` or a replay's target. Checked to be a plain
/// lower-case SQL identifier, so it can be put into SQL text and `search_path` unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StarSchema(String);

/// Why a name cannot be a star schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` cannot be a star schema: use lower-case letters, digits and _ (at most 63, not starting with a digit), and not ids, reader, public or pg_*"
)]
pub struct BadSchemaName(String);

impl StarSchema {
    /// The live star schema, `star`.
    pub fn live() -> StarSchema {
        StarSchema("star".to_owned())
    }

    /// The schema called `name`, if it may be one.
    pub fn new(name: &str) -> Result<StarSchema, BadSchemaName> {
        let plain = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        let reserved = matches!(name, "ids" | "reader" | "public" | "information_schema")
            || name.starts_with("pg_");
        if plain && !reserved {
            Ok(StarSchema(name.to_owned()))
        } else {
            Err(BadSchemaName(name.to_owned()))
        }
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// The `search_path` the processor's connections need to write into this schema.
    pub fn search_path(&self) -> String {
        format!("{},public", self.0)
    }
}

impl std::str::FromStr for StarSchema {
    type Err = BadSchemaName;

    fn from_str(name: &str) -> Result<StarSchema, BadSchemaName> {
        StarSchema::new(name)
    }
}

impl std::fmt::Display for StarSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Brings every schema Ward owns up to date, in dependency order; applying it again changes
/// nothing.
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    migrate_with(pool, &StarSchema::live()).await
}

/// Like [`migrate`], with the star schema under another name.
pub async fn migrate_with(pool: &PgPool, star: &StarSchema) -> Result<(), MigrateError> {
    ids_migrator().run(pool).await?;
    reader_migrator().run(pool).await?;
    migrate_star(pool, star).await?;
    tracing::info!(schemas = %format!("ids, reader, {star}"), "Migrations applied");
    Ok(())
}

/// Brings one star schema (live or a replay's target) up to date.
pub async fn migrate_star(pool: &PgPool, target: &StarSchema) -> Result<(), MigrateError> {
    star_migrator_into(target).run(pool).await
}

/// Makes `time_zone` (an IANA name) the database's default session time zone, so that
/// analysts' `admission_datetime::date` and `date_trunc('day', …)` count days as the hospital
/// does (in UTC, a 00:30 BST admission fell on the previous day). Ward's own connections keep
/// UTC; every stored time is a `timestamptz`, so nothing stored changes. Needs the database's
/// owner, as migrations do; setting the zone it already has changes nothing.
pub async fn set_time_zone(pool: &PgPool, time_zone: &str) -> Result<(), sqlx::Error> {
    let current: Option<String> = sqlx::query_scalar(
        "SELECT split_part(s, '=', 2) FROM pg_db_role_setting d, unnest(d.setconfig) s
         WHERE d.setrole = 0 AND lower(s) LIKE 'timezone=%'
           AND d.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_optional(pool)
    .await?;
    if current.as_deref() == Some(time_zone) {
        return Ok(());
    }
    let statement: String = sqlx::query_scalar(
        "SELECT format('ALTER DATABASE %I SET timezone TO %L', current_database(), $1)",
    )
    .bind(time_zone)
    .fetch_one(pool)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(statement))
        .execute(pool)
        .await?;
    tracing::info!(time_zone, "Database time zone set");
    Ok(())
}

/// Checks, without changing anything, that every schema Ward owns has had every migration this
/// build knows applied: what a service started with `--no-migrate` (as a login that may not
/// run DDL) does instead of migrating, so an old schema is a clear refusal at start.
pub async fn check_current(pool: &PgPool, schemas: &[Owned<'_>]) -> Result<(), NotCurrent> {
    for owned in schemas {
        let (schema, migrator) = match owned {
            Owned::Ids => ("ids".to_owned(), ids_migrator()),
            Owned::Reader => ("reader".to_owned(), reader_migrator()),
            Owned::Star(star) => (star.name().to_owned(), star_migrator_into(star)),
        };
        let table = format!("{schema}._sqlx_migrations");
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(&table)
            .fetch_one(pool)
            .await?;
        let applied: Vec<i64> = if exists {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT version FROM {table} WHERE success"
            )))
            .fetch_all(pool)
            .await?
        } else {
            Vec::new()
        };
        let missing: Vec<i64> = migrator
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect();
        if !missing.is_empty() {
            return Err(NotCurrent::Behind { schema, missing });
        }
    }
    Ok(())
}

/// A schema Ward owns, as a stage uses it (a stage checks only its own: a login sees no more).
#[derive(Debug, Clone, Copy)]
pub enum Owned<'a> {
    /// The Immutable Data Store.
    Ids,
    /// The readers' positions and errors.
    Reader,
    /// A star schema.
    Star(&'a StarSchema),
}

/// Why a database is not ready for a service that does not migrate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotCurrent {
    /// Migrations of this build are not applied.
    #[error(
        "schema {schema} lacks migrations {missing:?} of this build: run `ward migrate` as the database's owner first"
    )]
    Behind {
        /// The schema.
        schema: String,
        /// The versions not applied.
        missing: Vec<i64>,
    },
    /// The database could not be read.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retargeting_renames_qualified_names_and_the_schema_but_not_prose() {
        let sql = "CREATE SCHEMA IF NOT EXISTS star;\nCOMMENT ON SCHEMA star IS 'x';\n\
                   -- every star table\nSELECT * FROM star.mrn JOIN \"star\".x ON emap_star.y;";
        assert_eq!(
            retarget(sql, "star_b"),
            "CREATE SCHEMA IF NOT EXISTS star_b;\nCOMMENT ON SCHEMA star_b IS 'x';\n\
             -- every star table\nSELECT * FROM star_b.mrn JOIN \"star\".x ON emap_star.y;"
        );
        assert_eq!(retarget(sql, "star"), sql);
    }

    #[test]
    fn every_star_migration_retargets_completely() {
        for migration in
            star_migrator_into(&StarSchema::new("replay_1").unwrap_or_else(|e| panic!("{e}")))
                .iter()
        {
            let sql = migration.sql.as_str();
            assert!(
                !sql.contains(" star."),
                "{} still names star",
                migration.description
            );
            assert!(
                !sql.contains("(star."),
                "{} still names star",
                migration.description
            );
            assert!(
                !sql.contains("SCHEMA star"),
                "{} still names star",
                migration.description
            );
        }
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(StarSchema::new("star_2026_12").is_ok());
        for bad in [
            "", "Star", "1x", "ids", "reader", "pg_temp", "a;b", "a.b", "a b",
        ] {
            assert!(StarSchema::new(bad).is_err(), "{bad}");
        }
    }
}
