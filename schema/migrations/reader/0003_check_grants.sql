-- The reader checks, when started with --no-migrate, which migrations have been applied.
GRANT SELECT ON reader._sqlx_migrations TO ward_reader;
