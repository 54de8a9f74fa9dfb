-- Who may do what in a star schema (roles from ids 0003). The processor (and a replay, which
-- owns the schema it builds) writes rows; the analyst reads them, nothing else: never the IDS,
-- never a change. Default privileges give both the same on tables later migrations add.
-- `ward promote` carries these grants to a promoted schema.

REVOKE ALL ON SCHEMA star FROM PUBLIC;

GRANT USAGE ON SCHEMA star TO ward_processor, ward_analyst;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA star TO ward_processor;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA star TO ward_processor;
GRANT SELECT ON ALL TABLES IN SCHEMA star TO ward_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA star
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ward_processor;
ALTER DEFAULT PRIVILEGES IN SCHEMA star GRANT USAGE, SELECT ON SEQUENCES TO ward_processor;
ALTER DEFAULT PRIVILEGES IN SCHEMA star GRANT SELECT ON TABLES TO ward_analyst;
REVOKE INSERT, UPDATE, DELETE ON star._sqlx_migrations FROM ward_processor;
