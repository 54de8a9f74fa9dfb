//! Every SQL migration Ward runs, one migrator per schema Ward owns.
//!
//! The SQL lives in `migrations/<schema>/NNNN_name.sql`, embedded at compile time. Each schema
//! keeps its own history table inside itself (`ids._sqlx_migrations`), so the IDS and the star
//! schema can be migrated, rebuilt and reasoned about separately. A landed migration is never
//! edited: sqlx checks each applied migration's checksum and refuses to run on a mismatch.
//! Migrating takes a PostgreSQL advisory lock, so services starting at once are safe.

use sqlx::PgPool;
use sqlx::migrate::{MigrateError, Migrator};

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

/// The star schema, `star`: what analysts query.
pub fn star_migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("migrations/star");
    migrator.create_schema("star");
    migrator.dangerous_set_table_name("star._sqlx_migrations");
    migrator
}

/// Brings every schema Ward owns up to date, in dependency order; applying it again changes
/// nothing.
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    ids_migrator().run(pool).await?;
    reader_migrator().run(pool).await?;
    star_migrator().run(pool).await?;
    tracing::info!(schemas = "ids, reader, star", "Migrations applied");
    Ok(())
}
