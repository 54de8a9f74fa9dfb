-- Invariant: no login that a service uses can change the IDS. The schema, its table, sequence
-- and trigger functions belong to ward_owner, a role nobody logs in as: ALTER TABLE … DISABLE
-- TRIGGER and DROP need the owner, and session_replication_role needs a superuser, so with the
-- services' credentials the insert-only triggers cannot be switched off. (The migrating
-- administrator is a superuser or a member of ward_owner; scripts/setup makes it so.)
--
-- One role per stage (NOLOGIN here; scripts/setup gives each a login and a password): each
-- holds only what its stage does. ward_listener and ward_reader come from 0001.

DO $$
DECLARE
    role text;
BEGIN
    FOREACH role IN ARRAY ARRAY['ward_owner', 'ward_processor', 'ward_replay', 'ward_analyst']
    LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END;
        END IF;
    END LOOP;
END
$$;

ALTER SCHEMA ids OWNER TO ward_owner;
ALTER TABLE ids.message OWNER TO ward_owner;
ALTER FUNCTION ids.refuse_change() OWNER TO ward_owner;
ALTER FUNCTION ids.notify_new_messages() OWNER TO ward_owner;
REVOKE ALL ON SCHEMA ids FROM PUBLIC;

-- A replay reads the IDS (and creates the schema it rebuilds: CREATE on the database, granted
-- by scripts/setup, as a database grant is not a migration's to make).
GRANT USAGE ON SCHEMA ids TO ward_replay;
GRANT SELECT ON ids.message TO ward_replay;

-- Every stage checks, when started with --no-migrate, which migrations have been applied.
GRANT SELECT ON ids._sqlx_migrations TO ward_listener, ward_reader, ward_replay;
